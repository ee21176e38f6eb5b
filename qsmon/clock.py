"""The one clock: what qsmon means by "now" (business time: which day it is, which window a result falls in).

``QSMON_CLOCK`` (an ISO 8601 instant with its offset) starts the clock at that instant, from where it runs in real
time: drills and tests run "on" a month end, a leap day or New Year's Eve, and every process started with the
variable (workers, the alert service) shares the same day. Unset, it is the system clock. Protocol timestamps
(signatures, Kafka, Alertmanager) keep the real time.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from qsmon.exceptions import ConfigError


def _offset() -> timedelta:
    start = os.environ.get("QSMON_CLOCK")
    if not start:
        return timedelta()
    try:
        instant = datetime.fromisoformat(start)
    except ValueError as exc:
        raise ConfigError("QSMON_CLOCK is not an ISO 8601 instant", value=start) from exc
    if instant.tzinfo is None:
        raise ConfigError("QSMON_CLOCK needs an offset, e.g. 2028-02-29T10:00:00+08:00", value=start)
    return instant - datetime.now(UTC)


_OFFSET = _offset()


def now() -> datetime:
    return datetime.now(UTC) + _OFFSET


def local(instant: datetime, timezone: str) -> datetime:
    """``instant`` on the wall clock of ``timezone`` (settings.timezone): the one conversion to local time."""
    return instant.astimezone(ZoneInfo(timezone))


def local_day(instant: datetime, timezone: str) -> date:
    """The local calendar day of ``instant`` (plans count days in China Standard Time: settings.timezone)."""
    return local(instant, timezone).date()


def today(timezone: str) -> date:
    """The local calendar day now in ``timezone``."""
    return local_day(now(), timezone)
