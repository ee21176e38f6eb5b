"""The one root of every error qsmon raises on purpose."""

from __future__ import annotations

from typing import Any


class QsmonError(Exception):
    """Root exception; ``context`` is printed as ``key=value`` after the message."""

    def __init__(self, message: str, **context: Any) -> None:
        self.message = message
        self.context = context
        super().__init__(message)

    def __str__(self) -> str:
        if not self.context:
            return self.message
        details = " ".join(f"{key}={value!r}" for key, value in self.context.items())
        return f"{self.message} ({details})"


class ConfigError(QsmonError):
    """A setting or a configuration file is wrong; the message says which and how to fix it."""


class InvalidResultError(QsmonError):
    """An inspection result does not satisfy schema v1."""


class StorageError(QsmonError):
    """The database refused or lost a write; ``__cause__`` keeps the driver error."""


class MigrationError(StorageError):
    """A schema migration failed and was rolled back."""


class SchemaVersionError(QsmonError):
    """The database's schema is not the one this code was written for (qsmon.storage.migrate.check_schema)."""
