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


def yaml_problem(exc: BaseException) -> str:
    """What is wrong with a YAML file and where, without the source line PyYAML quotes: the channels file and the
    config file hold robot keys and passwords, and a syntax error on their line would print them."""
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if problem is not None:
        context = getattr(exc, "context", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"{context + ': ' if context else ''}{problem}{where}"
    reason, position = getattr(exc, "reason", None), getattr(exc, "position", None)
    if reason is not None:  # the reader refused a character before parsing
        return f"{reason} (character {position})"
    return f"not readable as YAML ({type(exc).__name__})"
