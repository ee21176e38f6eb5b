"""The alert engine: evaluate what changed (from the change feed) or everything (the sweep), then record."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from alerts.lifecycle import Policy
from alerts.payload import build_payload
from alerts.recording import RecordedEvent, record
from indicators.evaluate import Evaluation, evaluate_indicator
from indicators.filter import admits
from indicators.windows import window_range
from notify.outbox import wake_notifier
from notify.routing import ChannelsConfig
from qsmon import clock as qsmon_clock
from qsmon.changes import RollupKey
from qsmon.plans.model import Indicator, Op, Plan
from qsmon.settings import Settings
from qsmon.storage import connect

Clock = Callable[[], datetime]


def affected_windows(plan: Plan, indicator: Indicator, keys: Iterable[RollupKey], today: date) -> tuple[str, ...]:
    """The indicator's windows that a change to ``keys`` can move (filter matches, window holds the day)."""
    matching = [k for k in keys if admits(indicator.filter, category=k.category, sampling_type=k.sampling_type,
                                          subcategory=k.subcategory, stage=k.stage)]
    if not matching:
        return ()
    windows = []
    for window in indicator.windows:
        days = window_range(window, today, plan.period)
        if days and any(days.first <= k.day <= days.last for k in matching):
            windows.append(window)
        elif days and indicator.target.op is Op.INCREASING:
            windows.append(window)  # the comparison period may hold the day
    return tuple(windows)


class AlertEngine:
    def __init__(self, settings: Settings, plans: Mapping[str, Plan], channels: ChannelsConfig,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.plans = dict(plans)
        self.channels = channels
        self.policy = Policy(hold=timedelta(seconds=settings.alerts_hold_seconds),
                             cooldown=timedelta(seconds=settings.alerts_cooldown_seconds))
        self.clock: Clock = clock or qsmon_clock.now
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.settings.dsn, application_name="qsmon-alerts")
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def today(self, now: datetime) -> date:
        return now.astimezone(ZoneInfo(self.settings.timezone)).date()

    def _payload(self, plan: Plan) -> Callable[[psycopg.Connection, RecordedEvent, str | None], dict[str, Any]]:
        def build(conn: psycopg.Connection, event: RecordedEvent, severity: str | None) -> dict[str, Any]:
            return build_payload(conn, plan, event.alert_id, event.event_id, event.transition.value,
                                 severity or event.evaluation.state.value, event.evaluation,
                                 self.channels.dashboard_url, self.clock())
        return build

    def sweep(self) -> list[RecordedEvent]:
        """Evaluate every indicator of every plan over every window."""
        return self._run(lambda plan, indicator, today: indicator.windows)

    def on_changes(self, keys: list[RollupKey]) -> list[RecordedEvent]:
        """Evaluate only the indicators, and their windows, that the changed rollup keys can move."""
        return self._run(lambda plan, indicator, today: affected_windows(plan, indicator, keys, today))

    def _run(self, windows_for: Callable[[Plan, Indicator, date], tuple[str, ...]]) -> list[RecordedEvent]:
        now = self.clock()
        today = self.today(now)
        conn = self._connection()
        events: list[RecordedEvent] = []
        for plan in self.plans.values():
            batch: list[Evaluation] = []
            for indicator in plan.indicators:
                windows = windows_for(plan, indicator, today)
                if windows:
                    batch.extend(evaluate_indicator(conn, plan, indicator, today, windows))
            if batch:
                events.extend(record(conn, batch, now, self.policy, self.channels.channels, self._payload(plan)))
        conn.commit()
        if events:
            wake_notifier(conn)
        return events
