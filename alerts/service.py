"""``qsmon alerts run``: react to the change feed, sweep on a schedule, deliver the outbox, export gauges."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterable

import psycopg
from prometheus_client import CollectorRegistry, Counter, start_http_server

from alerts.engine import AlertEngine
from alerts.exporter import IndicatorCollector
from alerts.messages import TRANSITION_LABELS, renderer
from alerts.refresh import refresh_alertmanager
from indicators.labels import label_rows
from notify.delivery import Notifier
from notify.routing import load_channels
from qsmon.changes import decode_changes
from qsmon.plans import presets
from qsmon.plans.model import Plan
from qsmon.settings import Settings

log = logging.getLogger("qsmon.alerts")


def sync_reference_data(conn: psycopg.Connection, plans: Iterable[Plan]) -> int:
    """The plans, regions and labels the dashboards join on, as the engine sees them; returns the indicators."""
    from qsmon.storage.reference import sync_reference

    plans = list(plans)
    windows = {window for plan in plans for indicator in plan.indicators for window in indicator.windows}
    return sync_reference(conn, plans, label_rows(windows, TRANSITION_LABELS))


def build_engine(settings: Settings) -> AlertEngine:
    from qsmon.storage import connect

    plans = presets(settings.plans_dir)
    with connect(settings.dsn) as conn:  # the dashboards read the plans the engine evaluates
        sync_reference_data(conn, plans.values())
    if settings.active_plans:
        plans = {pid: plans[pid] for pid in settings.active_plans}
    return AlertEngine(settings, plans, load_channels(settings.channels_file))


def run_service(settings: Settings, stop: threading.Event | None = None, *, metrics: bool = True) -> None:
    from kafka import KafkaConsumer

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    registry = CollectorRegistry()
    engine = build_engine(settings)
    events_total = Counter("qsmon_alert_events_total", "Alert transitions recorded", ["transition"],
                           registry=registry)
    registry.register(IndicatorCollector(settings.dsn))
    if metrics:
        start_http_server(settings.alerts_metrics_port, addr=settings.metrics_host, registry=registry)
    notifier = Notifier(settings.dsn, {c.name: c for c in engine.channels.channels}, registry,
                        renderer(engine.channels))
    notifier_thread = threading.Thread(target=notifier.run, args=(stop,), name="notifier", daemon=True)
    notifier_thread.start()
    consumer = KafkaConsumer(settings.changes_topic, bootstrap_servers=settings.kafka_bootstrap,
                             group_id=settings.alerts_group, auto_offset_reset="latest",
                             enable_auto_commit=True)  # changes are hints: the sweep covers anything missed
    log.info("qsmon alerts: %d plans, %d channels", len(engine.plans), len(engine.channels.channels))
    last_sweep = last_refresh = 0.0
    alertmanagers = [c for c in engine.channels.channels if c.type == "alertmanager"]
    try:
        while not stop.is_set():
            if time.monotonic() - last_sweep >= settings.alerts_sweep_seconds:
                for event in engine.sweep():
                    events_total.labels(event.transition.value).inc()
                last_sweep = time.monotonic()
            if alertmanagers and time.monotonic() - last_refresh >= settings.alerts_alertmanager_refresh_seconds:
                conn = engine.connection()
                for channel in alertmanagers:
                    refresh_alertmanager(conn, notifier.client, channel)
                last_refresh = time.monotonic()
            batches = consumer.poll(timeout_ms=200)
            keys = [key for records in batches.values() for r in records for key in decode_changes(r.value)]
            if keys:
                for event in engine.on_changes(keys):
                    events_total.labels(event.transition.value).inc()
    finally:
        stop.set()
        consumer.close()
        notifier_thread.join(timeout=10)
        engine.close()
