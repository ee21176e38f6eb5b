"""When a still-firing alert is announced again: after a silence that hid it, and every repeat interval (or the
backoff's next step) — never while an acknowledgement holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from qsmon import clock
from qsmon.exceptions import ConfigError
from qsmon.workdays import is_workday

OFFICE_HOURS = (time(9), time(18))


@dataclass(frozen=True, slots=True)
class RepeatPolicy:
    interval: timedelta
    working_hours_only: bool  # reminders wait for a working day's office hours (official calendar)
    timezone: str  # settings.timezone
    backoff: tuple[timedelta, ...] = ()  # the waits before the 1st, 2nd, … reminder; the last repeats

    def wait_after(self, reminders_sent: int) -> timedelta:
        """How long after the last message the next reminder waits, ``reminders_sent`` since the last change."""
        if not self.backoff:
            return self.interval
        return self.backoff[min(reminders_sent, len(self.backoff) - 1)]


def ack_holds(acknowledged_at: datetime | None, last_change_at: datetime) -> bool:
    """An acknowledgement holds until the alert's state or severity changes (opened, reopened, escalated): the one
    who acknowledged has seen everything since. Reminders stop; later messages name who and when."""
    return acknowledged_at is not None and acknowledged_at >= last_change_at


def in_working_hours(now: datetime, timezone: str) -> bool:
    local = clock.local(now, timezone)
    try:
        workday = is_workday(local.date())
    except ConfigError:  # past the calendar's years: weekdays, until the package knows the year
        workday = local.weekday() < 5
    return workday and OFFICE_HOURS[0] <= local.time() < OFFICE_HOURS[1]


def reminder_due(
    last_notified_at: datetime | None,
    last_change_at: datetime,
    now: datetime,
    policy: RepeatPolicy,
    *,
    acknowledged_at: datetime | None = None,
    reminders_sent: int = 0,
) -> bool:
    """Whether a firing, unsilenced alert is to be announced again now."""
    if ack_holds(acknowledged_at, last_change_at):
        return False
    if last_notified_at is None or last_notified_at < last_change_at:
        return True  # its last change was never announced (silenced then): it is news now
    if now - last_notified_at < policy.wait_after(reminders_sent):
        return False
    return not policy.working_hours_only or in_working_hours(now, policy.timezone)
