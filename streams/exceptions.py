"""Errors of the stream worker."""

from __future__ import annotations

from qsmon.exceptions import StorageError


class BatchWriteError(StorageError):
    """A batch could not be stored; the worker retries it with backoff and commits nothing meanwhile."""
