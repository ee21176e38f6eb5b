"""Errors of the stream worker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from qsmon.exceptions import QsmonError, StorageError

if TYPE_CHECKING:
    from streams.records import Accepted


class BatchWriteError(StorageError):
    """A batch could not be stored (the database is unavailable); retried with backoff, nothing committed."""


class RecordsRefusedError(StorageError):
    """The database refused these records (data errors); the rest of the batch was not stored either.

    ``refused`` pairs each record with the database's reason: the worker dead-letters them and stores the rest.
    """

    def __init__(self, refused: Sequence[tuple[Accepted, str]]) -> None:
        super().__init__("records refused by the database", records=len(refused))
        self.refused = list(refused)


class WorkerStoppingError(QsmonError):
    """The worker was asked to stop while a batch waited for the database; nothing of it was committed."""
