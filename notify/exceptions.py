"""Errors of notification delivery."""

from __future__ import annotations

from qsmon.exceptions import QsmonError


class DeliveryError(QsmonError):
    """A receiver did not take a message; the notifier retries it with backoff. Never carries a channel's secrets."""
