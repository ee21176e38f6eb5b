"""Errors of case follow-up: each is a clear 4xx for the API and a one-line error for the CLI."""

from __future__ import annotations

from qsmon.exceptions import QsmonError


class CaseNotFoundError(QsmonError):
    """No such case (404)."""


class StepRefusedError(QsmonError):
    """The step cannot be recorded as given (unknown step, out of order, a date before the failure or in the
    future, a closed case): nothing was changed (422)."""
