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


class PartitionsRefusedError(QsmonError):
    """The database's offsets for these partitions count another log (streams.offsets): nothing of the batch was
    stored. ``reasons`` says, per partition, what happened and how an operator repairs it."""

    def __init__(self, reasons: dict[int, str]) -> None:
        super().__init__("partitions refused", partitions=sorted(reasons))
        self.reasons = reasons


class RecordsOutOfOrderError(QsmonError):
    """Records of these partitions arrived past their stored offsets while Kafka still has the ones between (a
    seek raced the fetcher): nothing of the batch was stored; the partitions are read again from their stored
    offsets. ``gaps``: partition -> (stored next offset, first offset received)."""

    def __init__(self, gaps: dict[int, tuple[int, int]]) -> None:
        super().__init__("records out of order", partitions=sorted(gaps))
        self.gaps = gaps
