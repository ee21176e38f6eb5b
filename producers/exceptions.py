"""Errors of the producers."""

from __future__ import annotations

from qsmon.exceptions import QsmonError


class ProduceError(QsmonError):
    """Kafka did not acknowledge some records; nothing was silently dropped: the count says how many."""


class ImportFormatError(QsmonError):
    """A file cannot be read in the format asked for (wrong layout, missing header, unknown mapping)."""
