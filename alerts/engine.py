"""The alert engine: evaluate what changed (from the change feed) or everything (the sweep), then record."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from alerts import store
from alerts.escalation import escalate
from alerts.lifecycle import Policy, Transition
from alerts.pace import details, pace_evaluation, store_forecasts
from alerts.payload import Event, build_payload
from alerts.recording import Payload, RecordedEvent, announce, record
from alerts.reminders import RepeatPolicy, reminder_due
from indicators.counting import admits
from indicators.evaluate import Evaluation, evaluate_indicator
from indicators.feed import NO_DATA, feed_evaluations
from indicators.pace import PACE_WINDOW, applies, pace_views
from indicators.windows import window_range
from notify.held import release, silence_holding
from notify.outbox import wake_notifier
from notify.routing import ChannelsConfig, wants
from qsmon import clock as qsmon_clock
from qsmon.changes import RollupKey
from qsmon.plans.model import Indicator, Op, Plan
from qsmon.settings import Settings
from qsmon.storage import connect

log = logging.getLogger("qsmon.alerts")

Clock = Callable[[], datetime]
PACE_EVERY = timedelta(minutes=15)


def affected_windows(plan: Plan, indicator: Indicator, keys: Iterable[RollupKey], today: date) -> tuple[str, ...]:
    """The indicator's windows that a change to ``keys`` can move (filter matches, window holds the day)."""
    matching = [
        k
        for k in keys
        if admits(
            indicator.filter,
            category=k.category,
            sampling_type=k.sampling_type,
            subcategory=k.subcategory,
            stage=k.stage,
        )
    ]
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
    def __init__(
        self, settings: Settings, plans: Mapping[str, Plan], channels: ChannelsConfig, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.plans = dict(plans)
        self.channels = channels
        self.policy = Policy(
            hold=timedelta(seconds=settings.alerts_hold_seconds),
            cooldown=timedelta(seconds=settings.alerts_cooldown_seconds),
        )
        self.repeat = RepeatPolicy(
            timedelta(seconds=settings.alerts_repeat_seconds),
            settings.alerts_repeat_working_hours,
            settings.timezone,
            tuple(timedelta(seconds=s) for s in settings.alerts_repeat_backoff),
        )
        self.clock: Clock = clock or qsmon_clock.now
        self._conn: psycopg.Connection | None = None
        self.retired: list[int] = []  # alerts the last sweep closed as no longer evaluated
        # Pace reads ~70 day ranges per indicator and moves with whole days: swept this often, not every minute.
        self.pace_every = PACE_EVERY
        self._pace_at: dict[str, datetime] = {}
        self._pace_details: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}  # for the payloads

    def connection(self) -> psycopg.Connection:
        """The engine's connection, reopened when it was lost."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.settings.dsn, application_name="qsmon-alerts")
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def today(self, now: datetime) -> date:
        return qsmon_clock.local_day(now, self.settings.timezone)

    def _payload(self, plan: Plan, now: datetime) -> Payload:
        status = plan.status(self.today(now))

        def build(conn: psycopg.Connection, event: RecordedEvent) -> dict[str, Any]:
            body = build_payload(
                conn,
                plan,
                Event(
                    event.alert_id,
                    event.event_id,
                    event.transition.value,
                    event.severity,
                    event.evaluation,
                    now,
                    status,
                ),
                self.channels.dashboard_url,
                ZoneInfo(self.settings.timezone),
            )
            if event.evaluation.window == PACE_WINDOW:
                body["pace"] = self._pace_details.get(event.evaluation.key)
            return body

        return build

    def sweep(self, *, retire: bool = False) -> list[RecordedEvent]:
        """Evaluate every indicator of every plan in force over every window and its feed; then remind of what
        still fires and close what belongs to plans no longer in force. ``retire``: also close what no plan in use
        evaluates any more (the service's leader does; `qsmon alerts evaluate`, with the plans of an operator's
        shell, must not); their ids are left in ``retired``."""
        self.retired = []
        return self._run(lambda plan, indicator, today: indicator.windows, sweep=True, retire=retire)

    def on_changes(self, keys: list[RollupKey]) -> list[RecordedEvent]:
        """Evaluate only the indicators, and their windows, that the changed rollup keys can move."""
        return self._run(
            lambda plan, indicator, today: affected_windows(plan, indicator, keys, today), sweep=False, retire=False
        )

    def _run(
        self, windows_for: Callable[[Plan, Indicator, date], tuple[str, ...]], *, sweep: bool, retire: bool
    ) -> list[RecordedEvent]:
        now = self.clock()
        today = self.today(now)
        conn = self.connection()
        events: list[RecordedEvent] = []
        if retire:
            self._retire(conn, now)
        for plan in self.plans.values():
            payload = self._payload(plan, now)
            if not plan.in_force(today):
                if sweep:
                    events.extend(self._close(conn, plan, now, payload))
                continue
            batch: list[Evaluation] = []
            pace_due = sweep and self._pace_due(plan.id, now)
            for indicator in plan.indicators:
                windows = windows_for(plan, indicator, today)
                if windows:
                    batch.extend(
                        evaluate_indicator(conn, plan, indicator, today, windows, timezone=self.settings.timezone)
                    )
                if sweep:
                    batch.extend(
                        feed_evaluations(
                            conn,
                            plan,
                            indicator,
                            today,
                            plan.no_data_days or self.settings.alerts_no_data_days,
                            timezone=self.settings.timezone,
                        )
                    )
                if pace_due:
                    batch.extend(self._pace(conn, plan, indicator, today))
            if batch:
                events.extend(record(conn, batch, now, self.policy, self.channels.channels, payload))
            if sweep:
                events.extend(self._remind(conn, plan, now, payload))
                events.extend(escalate(conn, plan, now, self.channels, payload, timezone=self.settings.timezone))
        released = release(conn, now, silence_holding) if sweep else 0  # recoveries whose silence ended
        conn.commit()
        if events or released:
            wake_notifier(conn)
        return events

    def _pace_due(self, plan_id: str, now: datetime) -> bool:
        last = self._pace_at.get(plan_id)
        if last is not None and last <= now < last + self.pace_every:
            return False
        self._pace_at[plan_id] = now
        return True

    def _pace(self, conn: psycopg.Connection, plan: Plan, indicator: Indicator, today: date) -> list[Evaluation]:
        """Store the year-end forecast for the dashboards; where the plan raises pace alerts, their evaluations
        (with the drift chart, which only they need)."""
        views = pace_views(conn, plan, indicator, today, timezone=self.settings.timezone, with_drift=plan.pace.alerts)
        with conn.transaction():
            store_forecasts(conn, plan, indicator, views, self.clock())
        if not plan.pace.alerts:
            return []
        evaluations = []
        for view in views:
            evaluation = pace_evaluation(plan, indicator, view)
            self._pace_details[evaluation.key] = details(view)
            evaluations.append(evaluation)
        return evaluations

    def _retire(self, conn: psycopg.Connection, now: datetime) -> None:
        """Close, without a message, what no plan in use evaluates any more: no payload can be built for an
        indicator that is gone, and the change was an administrator's, made on purpose."""
        evaluated = {
            (plan.id, indicator.id, window)
            for plan in self.plans.values()
            for indicator in plan.indicators
            for window in (*indicator.windows, NO_DATA)
        }
        evaluated |= {
            (plan.id, indicator.id, PACE_WINDOW)
            for plan in self.plans.values()
            for indicator in plan.indicators
            if plan.pace.alerts and applies(indicator)
        }
        with conn.transaction():
            retired = store.retire_alerts(conn, evaluated, now)
        self.retired = retired
        if retired:
            log.warning(
                "closed %d firing alert(s) that no active plan evaluates any more (plan, indicator or window"
                " removed or renamed): ids %s",
                len(retired),
                retired[:20],
            )

    def _remind(self, conn: psycopg.Connection, plan: Plan, now: datetime, payload: Payload) -> list[RecordedEvent]:
        """Announce again what still fires: after a silence that hid it ended, and every repeat interval."""
        events = []
        with conn.transaction():
            severity_of = _severities(plan)  # also the indicators the plan still has
            for alert in store.firing_alerts(conn, plan.id, severity_of):
                e = alert.evaluation
                if e is None or e.indicator_id not in severity_of or store.silenced(conn, e, alert.severity, now):
                    continue  # an indicator gone from the plan: the leader's sweep retires it
                if not any(wants(c, e, alert.severity) for c in self.channels.channels):
                    continue  # nobody to tell
                if reminder_due(
                    alert.last_notified_at,
                    alert.last_change_at,
                    now,
                    self.repeat,
                    acknowledged_at=alert.acknowledged_at,
                    reminders_sent=alert.reminders_sent,
                ):
                    events.append(
                        announce(
                            conn,
                            alert.alert_id,
                            Transition.REPEATED,
                            alert.severity,
                            e,
                            now,
                            self.channels.channels,
                            payload,
                        )
                    )
        return events

    def _close(self, conn: psycopg.Connection, plan: Plan, now: datetime, payload: Payload) -> list[RecordedEvent]:
        """A plan past its period (and any extension) is no longer judged: its firing alerts close, announced once."""
        events = []
        with conn.transaction():
            severity_of = _severities(plan)  # also the indicators the plan still has
            for alert in store.firing_alerts(conn, plan.id, severity_of):
                store.close_alert(conn, alert.alert_id, now)
                if alert.evaluation is not None and alert.evaluation.indicator_id in severity_of:
                    events.append(
                        announce(
                            conn,
                            alert.alert_id,
                            Transition.EXPIRED,
                            alert.severity,
                            alert.evaluation,
                            now,
                            self.channels.channels,
                            payload,
                        )
                    )
        return events


def _severities(plan: Plan) -> dict[str, str]:
    return {indicator.id: indicator.severity.value for indicator in plan.indicators}
