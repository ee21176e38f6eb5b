"""Errors of the alerting side."""

from __future__ import annotations

from qsmon.exceptions import QsmonError


class DeliveryError(QsmonError):
    """A receiver did not take a notification; the notifier retries it with backoff."""
