"""``qsmon alerts run``: react to the change feed, sweep on a schedule, deliver the outbox, export gauges.

Operable in production:
* several may run; one leads (alerts.leadership) and the others wait, ready to take over;
* a database or Kafka outage is waited out with backoff, and the first sweep after it catches up on every change
  missed meanwhile; a part that dies (the notifier thread) stops the process with an error, so its supervisor
  restarts it rather than keeping a live process with a dead part;
* /healthz, /readyz and /metrics on one port (qsmon.health).
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Iterable
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from alerts.acks import links_from_settings
from alerts.engine import AlertEngine
from alerts.exporter import IndicatorCollector
from alerts.leadership import Leadership
from alerts.messages import TRANSITION_LABELS, renderer
from alerts.pipeline import PipelineCollector
from alerts.refresh import end_in_alertmanager, refresh_alertmanager
from cases.labels import CASE_LABELS
from cases.metrics import CaseCollector
from cases.sweep import CaseSweep
from indicators.labels import label_rows
from indicators.problem_types import problem_type_rows
from notify.deadline import DeadlineSender
from notify.delivery import Notifier
from notify.outbox import wake_notifier
from notify.routing import Channel, load_channels
from qsmon.case_rules import load_table
from qsmon.changes import decode_changes
from qsmon.exceptions import ConfigError, QsmonError, StorageError
from qsmon.health import Cached, Health, Heartbeat, database_reachable, serve
from qsmon.plans import presets
from qsmon.plans.model import Plan
from qsmon.settings import Settings

log = logging.getLogger("qsmon.alerts")

MAX_BACKOFF_S = 30.0
KAFKA_RETRY_S = 30.0
RETENTION_EVERY_S = 6 * 3600.0  # the leader applies the retention settings this often (and at start)


class ServiceFailedError(QsmonError):
    """A part of the alert service died; the process exits so its supervisor starts a whole one."""


def check_lease(lease_s: float, alertmanagers: Iterable[Channel]) -> None:
    """The leader is silent to the database while it updates Alertmanager (alerts.refresh): the lease must
    outlast that, or the leader would lose its session, and the lead, at every refresh."""
    silent_s = sum(c.timeout_s for c in alertmanagers)
    if silent_s + 2 >= lease_s:
        raise ConfigError(
            "QSMON_ALERTS_LEADER_LEASE_SECONDS must exceed the Alertmanager channels' timeouts (their sum, plus 2 s)",
            lease_s=lease_s,
            alertmanager_timeouts_s=silent_s,
        )


def sync_reference_data(conn: psycopg.Connection, plans: Iterable[Plan]) -> int:
    """The plans, regions and labels the dashboards join on, as the engine sees them; returns the indicators."""
    from qsmon.storage.reference import sync_reference

    plans = list(plans)
    windows = {window for plan in plans for indicator in plan.indicators for window in indicator.windows}
    return sync_reference(conn, plans, label_rows(windows, {**TRANSITION_LABELS, **CASE_LABELS}), problem_type_rows())


def build_engine(settings: Settings) -> AlertEngine:
    from qsmon.storage import check_schema, connect

    plans = presets(settings.plans_dir)
    with connect(settings.dsn) as conn:  # the dashboards read the plans the engine evaluates
        check_schema(conn)
        sync_reference_data(conn, plans.values())
    if settings.active_plans:
        plans = {pid: plans[pid] for pid in settings.active_plans}
    return AlertEngine(settings, plans, load_channels(settings.channels_file))


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "qsmon_alert_events_total", "Alert transitions recorded", ["transition"], registry=registry
        )
        self.leader = Gauge(
            "qsmon_alerts_leader", "1 while this engine leads (evaluates and notifies)", registry=registry
        )
        self.last_sweep = Gauge(
            "qsmon_alerts_last_sweep_timestamp_seconds", "When the last full sweep finished", registry=registry
        )
        self.sweep_seconds = Histogram(
            "qsmon_alerts_sweep_seconds",
            "Time of one full sweep",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=registry,
        )
        self.db_retries = Counter(
            "qsmon_alerts_db_retries_total",
            "Turns of the alert engine that failed on the database or Kafka and were retried",
            registry=registry,
        )


class AlertService:
    def __init__(self, settings: Settings, stop: threading.Event, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.stop = stop
        self.metrics = ServiceMetrics(registry)
        self.engine = build_engine(settings)
        self.leadership = Leadership(settings.alerts_group, settings.alerts_leader_lease_seconds)
        self.alertmanagers = [c for c in self.engine.channels.channels if c.type == "alertmanager"]
        check_lease(settings.alerts_leader_lease_seconds, self.alertmanagers)
        # The notifier's lock (one delivers at a time) is bounded too: by the lease plus its longest send, during
        # which it is silent on purpose.
        longest_send = max(
            (max(30.0, c.timeout_s) if c.type == "smtp" else c.timeout_s for c in self.engine.channels.channels),
            default=0.0,
        )
        self.notifier = Notifier(
            settings.dsn,
            {c.name: c for c in self.engine.channels.channels},
            registry,
            renderer(
                self.engine.channels,
                links_from_settings(
                    settings.ack_secret.get_secret_value() if settings.ack_secret else None,
                    settings.ack_link_url,
                    settings.ack_link_hours,
                ),
                timezone=settings.timezone,
            ),
            muted=self._muted,
            session_bound_s=settings.alerts_leader_lease_seconds + longest_send,
        )
        self._alertmanager_sender = DeadlineSender(self.notifier.client)  # the engine loop's, not the notifier's
        self.cases = CaseSweep(
            load_table(settings.case_deadlines_file),
            list(self.engine.channels.channels),
            soon_working_days=settings.cases_due_soon_working_days,
            digest_hour=settings.cases_digest_hour,
            timezone=settings.timezone,
        )
        self.heartbeat = Heartbeat("alert engine loop", limit_s=max(300.0, 3 * settings.alerts_sweep_seconds))
        self.failure: BaseException | None = None
        self._consumer: Any = None
        self._consumer_retry_at = 0.0
        self._last_sweep_at: float | None = None  # monotonic; None: sweep now (start, or after an outage)
        self._last_refresh_at: float | None = None
        self._last_retention_at: float | None = None
        self._notifier_thread = threading.Thread(target=self._notify, name="notifier", daemon=True)

    def _muted(self, channel: Channel) -> bool:
        from qsmon import clock

        return self.engine.channels.muted(channel, clock.now(), self.settings.timezone)

    def health(self) -> Health:
        health = Health()
        health.liveness["loop"] = self.heartbeat.check
        health.liveness["notifier"] = lambda: None if self._notifier_thread.is_alive() else "notifier thread stopped"
        health.readiness["database"] = Cached(lambda: database_reachable(self.settings.dsn, "qsmon-alerts:health"))
        health.readiness["sweep"] = self._sweep_overdue
        return health

    def _sweep_overdue(self) -> str | None:
        if not self.leadership.leading or self._last_sweep_at is None:
            return None  # a standby has nothing to sweep; a leader's first sweep is under way
        age = time.monotonic() - self._last_sweep_at
        limit = self.settings.alerts_ready_sweep_age_s
        return f"last sweep {age:.0f}s ago (limit {limit:.0f}s)" if age > limit else None

    def _notify(self) -> None:
        try:
            self.notifier.run(self.stop)
        except BaseException as exc:  # whatever killed it: the process must not live on without it
            log.exception("the notifier stopped")
            self.failure = exc
            self.stop.set()

    def run(self) -> None:
        from qsmon import clock
        from qsmon.workdays import coverage_warning

        if (warning := coverage_warning(clock.today(self.settings.timezone))) is not None:
            log.warning("%s", warning)
        self._notifier_thread.start()
        log.info("qsmon alerts: %d plans, %d channels", len(self.engine.plans), len(self.engine.channels.channels))
        failures = 0
        try:
            while not self.stop.is_set():
                self.heartbeat.beat()
                try:
                    if self.leadership.lead(self.engine.connection()):
                        self.metrics.leader.set(1)
                        self._lead()
                    else:
                        self.metrics.leader.set(0)
                        self._stand_by()
                    failures = 0
                except (StorageError, psycopg.Error, OSError) as exc:
                    failures += 1
                    self.metrics.leader.set(1 if self.leadership.leading else 0)  # a lost connection took the lock
                    self._recover(exc, failures)
        finally:
            self.stop.set()
            self._close_consumer()
            self._notifier_thread.join(timeout=10)
            self.engine.close()
        if self.failure is not None:
            raise ServiceFailedError("a part of the alert service died", error=repr(self.failure)[:300])

    def _recover(self, exc: Exception, failures: int) -> None:
        delay = min(MAX_BACKOFF_S, 0.5 * 2 ** min(failures, 8)) * random.uniform(0.8, 1.2)  # noqa: S311
        self.metrics.db_retries.inc()
        log.warning(
            "alert engine lost the database (attempt %d), retrying in %.1fs: %s",
            failures,
            delay,
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
        )
        self.engine.close()
        self._last_sweep_at = None  # changes seen meanwhile were not evaluated: the first sweep back covers them
        self.stop.wait(delay)

    def _stand_by(self) -> None:
        self._close_consumer()  # the leader reads the change feed
        self._last_sweep_at = None
        self.stop.wait(self.leadership.retry_s)

    def _lead(self) -> None:
        settings = self.settings
        now = time.monotonic()
        if self._last_sweep_at is None or now - self._last_sweep_at >= settings.alerts_sweep_seconds:
            started = time.monotonic()
            for event in self.engine.sweep(retire=True):
                self.metrics.events.labels(event.transition.value).inc()
            if self.engine.retired:
                for channel in self.alertmanagers:
                    end_in_alertmanager(
                        self.engine.connection(), self._alertmanager_sender, channel, self.engine.retired
                    )
            self._sweep_cases()
            self._last_sweep_at = time.monotonic()
            self.metrics.sweep_seconds.observe(self._last_sweep_at - started)
            self.metrics.last_sweep.set_to_current_time()
        if self.alertmanagers and (
            self._last_refresh_at is None or now - self._last_refresh_at >= settings.alerts_alertmanager_refresh_seconds
        ):
            conn = self.engine.connection()
            for channel in self.alertmanagers:
                refresh_alertmanager(conn, self._alertmanager_sender, channel)
            self._last_refresh_at = now
        if self._last_retention_at is None or now - self._last_retention_at >= RETENTION_EVERY_S:
            self._apply_retention()
            self._last_retention_at = now
        consumer = self._change_feed()
        if consumer is None:
            self.stop.wait(1.0)  # no hints while Kafka is away: the sweep schedule still runs
            return
        from kafka.errors import KafkaError

        try:
            batches = consumer.poll(timeout_ms=200)
        except KafkaError as exc:  # a broker restart: hints pause, the sweep schedule goes on
            log.warning("change feed lost (sweeps continue), retrying in %.0fs: %s", KAFKA_RETRY_S, exc)
            self._close_consumer()
            self._consumer_retry_at = time.monotonic() + KAFKA_RETRY_S
            return
        keys = [key for records in batches.values() for r in records for key in decode_changes(r.value)]
        if keys:
            try:
                events = self.engine.on_changes(keys)
            except BaseException:
                self._last_sweep_at = None  # these keys are lost with the turn: sweep as soon as possible
                raise
            for event in events:
                self.metrics.events.labels(event.transition.value).inc()

    def _sweep_cases(self) -> None:
        from qsmon import clock

        now = clock.now()
        local = clock.local(now, self.settings.timezone)
        conn = self.engine.connection()
        outcome = self.cases.run(conn, now, local.date(), local.hour)
        conn.commit()
        if outcome.notices_queued or outcome.digests_queued:
            wake_notifier(conn)

    def _apply_retention(self) -> None:
        from qsmon.storage.retention import apply_retention

        conn = self.engine.connection()
        outcome = apply_retention(conn, self.settings)
        conn.commit()
        if outcome.history_chunks_dropped or outcome.outbox_rows_deleted or outcome.alert_events_deleted:
            log.warning("retention: %s", outcome)

    def _change_feed(self) -> Any:
        """The change-feed consumer, (re)created when Kafka is reachable; None while it is not."""
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        if self._consumer is None and time.monotonic() >= self._consumer_retry_at:
            try:
                self._consumer = KafkaConsumer(
                    self.settings.changes_topic,
                    bootstrap_servers=self.settings.kafka_bootstrap,
                    group_id=self.settings.alerts_group,
                    auto_offset_reset="latest",
                    enable_auto_commit=True,
                )  # changes are hints: the sweep covers anything missed
            except KafkaError as exc:
                log.warning("change feed unavailable (sweeps continue), retrying in %.0fs: %s", KAFKA_RETRY_S, exc)
                self._consumer_retry_at = time.monotonic() + KAFKA_RETRY_S
        return self._consumer

    def _close_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                consumer.close()
            except Exception as exc:  # a consumer whose broker is gone: it only needs forgetting
                log.debug("closing the change feed: %s", exc)


def run_service(settings: Settings, stop: threading.Event | None = None, *, metrics: bool = True) -> None:
    """Run until ``stop`` is set (or SIGTERM); raises :class:`ServiceFailedError` when a part of it died."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    registry = CollectorRegistry()
    service = AlertService(settings, stop, registry)
    registry.register(IndicatorCollector(settings.dsn))
    registry.register(PipelineCollector(settings))
    registry.register(CaseCollector(settings.dsn, settings.timezone))
    if metrics:
        serve(registry, service.health(), settings.metrics_host, settings.alerts_metrics_port)
    service.run()
