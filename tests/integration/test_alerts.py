"""Alerts on the real stack: worker → change feed → evaluation → outbox → webhook and Alertmanager."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from alerts.engine import AlertEngine
from alerts.service import ServiceFailedError, run_service
from notify.delivery import Notifier
from notify.routing import ChannelsConfig
from notify.testing import WebhookReceiver
from producers.kafka_sink import ResultSink
from qsmon import clock
from qsmon.changes import RollupKey
from qsmon.settings import Settings
from qsmon.topics import ensure_topics
from streams.records import SourceRecord, classify
from streams.store import ResultStore
from tests.factories import VEGETABLES_PLAN as PLAN
from tests.factories import vegetables
from tests.proxy import CuttableProxy
from tests.workers import DirectWriter, WorkerProcess, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def world(settings: Settings, tmp_path: Path, unique_name: object) -> Iterator[tuple[Settings, WebhookReceiver, str]]:
    plan_id = f"test-{settings.worker_group.split('_')[-1]}"
    plans_dir = tmp_path / "plans"
    plans_dir.mkdir()
    (plans_dir / f"{plan_id}.yaml").write_text(PLAN.format(plan_id=plan_id), encoding="utf-8")
    receiver = WebhookReceiver()
    channels = tmp_path / "channels.yaml"
    channels.write_text(
        f"dashboard_url: http://grafana.test/d/qsmon-trends\n"
        f"channels:\n"
        f"  - {{name: duty-webhook, type: webhook, url: '{receiver.url}', secret_env: QSMON_TEST_WEBHOOK_SECRET,"
        f" group_wait_s: 1, group_interval_s: 1}}\n"
        f"  - {{name: alertmanager, type: alertmanager, url: '{settings.alertmanager_url.get_secret_value()}'}}\n",
        encoding="utf-8",
    )
    configured = settings.model_copy(
        update={
            "plans_dir": plans_dir,
            "active_plans": (plan_id,),
            "channels_file": channels,
            "alerts_group": f"alerts-{settings.worker_group}",
            "alerts_hold_seconds": 3.0,
            "alerts_sweep_seconds": 2.0,
        }
    )
    ensure_topics(configured)
    yield configured, receiver, plan_id
    receiver.stop()


def alertmanager_alerts(settings: Settings, plan_id: str, *, active: bool) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{settings.alertmanager_url.get_secret_value()}/api/v2/alerts",
        params={"active": str(active).lower(), "filter": f'plan="{plan_id}"'},
        timeout=10,
    )
    answer.raise_for_status()
    return list(answer.json())


class TestAlertScenario:
    def test_a_county_falling_below_target_opens_one_critical_alert_and_resolves_on_recovery(
        self,
        world: tuple[Settings, WebhookReceiver, str],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        db: psycopg.Connection,
    ) -> None:
        settings, receiver, plan_id = world
        monkeypatch.setenv("QSMON_TEST_WEBHOOK_SECRET", "s3cret")
        stop = threading.Event()
        service = threading.Thread(target=run_service, args=(settings, stop), kwargs={"metrics": False}, daemon=True)
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        service.start()
        try:
            with ResultSink(settings) as sink:
                sink.send_all(vegetables("OK", 400, fail=False))
            time.sleep(4)
            assert receiver.transitions(plan_id) == []
            # 40 failures among 440 in 洪湖市: 90.9 %, and the interval excludes 98 %.
            with ResultSink(settings) as sink:
                sink.send_all(vegetables("BAD", 40, fail=True))
            wait_until(
                lambda: receiver.transitions(plan_id).count("opened") >= 2,
                60,
                "the opened alert for 洪湖市 and 荆州市 at the webhook",
            )
            assert len(receiver.received) == 1  # the county and its city, in one message
            opened = [a for a in receiver.alerts(plan_id) if a["transition"] == "opened"]
            assert {(a["region"], a["severity"]) for a in opened} == {("421083", "critical"), ("421000", "critical")}
            honghu = next(a for a in opened if a["region"] == "421083")
            # Frozen when it opened, which may be before the worker stored the last failures of the burst.
            assert 400 < honghu["samples"] <= 440
            assert honghu["high"] < 98
            assert honghu["top_failed_items"][0][0] == "毒死蜱"
            assert receiver.headers[0]["X-Qsmon-Signature"].startswith("sha256=")
            wait_until(
                lambda: (
                    db.execute(
                        "SELECT tested, failed FROM indicator_evaluations WHERE region_code = '421083'"
                    ).fetchone()
                    == (440, 40)
                ),
                30,
                "the whole burst evaluated",
            )
            wait_until(
                lambda: len(alertmanager_alerts(settings, plan_id, active=True)) == 2,
                30,
                "Alertmanager to show the alerts",
            )
            labels = {a["labels"]["region"]: a["labels"] for a in alertmanager_alerts(settings, plan_id, active=True)}
            assert labels["421083"]["severity"] == "critical"
            assert labels["421083"]["indicator"] == "vegetables-pass"

            # Recovery: enough passing results to lift 洪湖市 back above 98 % (40 of 2,440 fail: 98.4 %).
            with ResultSink(settings) as sink:
                sink.send_all(vegetables("MORE", 2000, fail=False))
            wait_until(lambda: receiver.transitions(plan_id).count("resolved") >= 2, 90, "the alerts to resolve")
            wait_until(
                lambda: not alertmanager_alerts(settings, plan_id, active=True), 30, "Alertmanager to see them resolved"
            )
            time.sleep(3)  # further sweeps must not notify again
            assert Counter(receiver.transitions(plan_id)) == {"opened": 2, "resolved": 2}
            assert len(receiver.received) == 2  # opened, resolved: one message each
            keys = [h["Idempotency-Key"] for h in receiver.headers]
            assert len(keys) == len(set(keys))
        finally:
            stop.set()
            service.join(timeout=30)
            worker.terminate()


class TestDelivery:
    @pytest.mark.slow
    def test_a_receiver_down_for_two_minutes_gets_every_notification_once_afterwards(
        self, world: tuple[Settings, WebhookReceiver, str], db: psycopg.Connection
    ) -> None:
        settings, receiver, plan_id = world
        receiver.stop()
        stop = threading.Event()
        service = threading.Thread(target=run_service, args=(settings, stop), kwargs={"metrics": False}, daemon=True)
        service.start()
        writer = DirectWriter(settings)
        store_results = writer.store_results
        try:
            store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))
            wait_until(
                lambda: (
                    db.execute("SELECT count(*) FROM notification_outbox WHERE channel = 'duty-webhook'").fetchone()
                    == (2,)
                ),
                30,
                "the opened notifications in the outbox",
            )
            store_results(vegetables("MORE", 2000, fail=False))
            wait_until(
                lambda: (
                    db.execute("SELECT count(*) FROM notification_outbox WHERE channel = 'duty-webhook'").fetchone()
                    == (4,)
                ),
                30,
                "the resolved notifications in the outbox",
            )
            down_until = time.monotonic() + 120
            while time.monotonic() < down_until:
                time.sleep(5)
            attempts = db.execute("SELECT max(attempts) FROM notification_outbox WHERE delivered_at IS NULL").fetchone()
            assert attempts is not None
            assert attempts[0] >= 3
            receiver.start()
            wait_until(lambda: len(receiver.alerts(plan_id)) >= 4, 60, "delivery after the receiver came back")
            time.sleep(5)
            assert Counter(receiver.transitions(plan_id)) == {"opened": 2, "resolved": 2}
            by_region: dict[str, list[str]] = {}
            for change in receiver.alerts(plan_id):
                by_region.setdefault(change["region"], []).append(change["transition"])
            assert all(order == ["opened", "resolved"] for order in by_region.values())
        finally:
            stop.set()
            service.join(timeout=30)
            writer.close()


class TestNoFlapping:
    def test_fifty_borderline_results_in_a_row_do_not_flap(
        self, world: tuple[Settings, WebhookReceiver, str], db: psycopg.Connection
    ) -> None:
        settings, _, plan_id = world
        from alerts.service import build_engine

        engine: AlertEngine = build_engine(settings.model_copy(update={"alerts_hold_seconds": 600.0}))
        engine.channels = ChannelsConfig()  # decisions only; delivery is tested above
        store = ResultStore(settings.dsn, group=settings.worker_group, topic=settings.results_topic)
        try:
            # Exactly at target (980 of 1,000), then one failure (just below: warning, the interval still
            # reaches 98 %) and 49 passes that bring it back to target (ok): the state crosses the line.
            base = vegetables("BASE-OK", 980, fail=False) + vegetables("BASE-FAIL", 20, fail=True)
            records = [SourceRecord(0, i, r.key, r.to_json()) for i, r in enumerate(base)]
            store.write(classify(records, clock.now())[0], records)
            edge = vegetables("EDGE-F", 1, fail=True) + vegetables("EDGE-P", 49, fail=False)
            transitions, states = [], []
            for i, item in enumerate(edge):
                record = SourceRecord(0, 1000 + i, item.key, item.to_json())
                store.write(classify([record], clock.now())[0], [record])
                key = RollupKey(
                    item.sampled_at.astimezone(UTC).date(),
                    "agricultural",
                    "蔬菜",
                    "routine_monitoring",
                    "distribution",
                    "421083",
                )
                transitions += [
                    e.transition.value for e in engine.on_changes([key]) if e.evaluation.scope.region_code == "421083"
                ]
                row = db.execute(
                    "SELECT state FROM indicator_evaluations WHERE plan_id = %s AND region_code = '421083'", (plan_id,)
                ).fetchone()
                states.append(row[0] if row else None)
            assert states[0] == "warning"
            assert states[-1] == "ok"
            assert transitions == ["opened"]  # one alert, held open through the return to target
        finally:
            store.close()
            engine.close()


def run_in_thread(settings: Settings, stop: threading.Event) -> tuple[threading.Thread, list[BaseException]]:
    failures: list[BaseException] = []

    def target() -> None:
        try:
            run_service(settings, stop, metrics=False)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, failures


class TestOutages:
    @pytest.mark.slow
    def test_an_alert_that_opens_while_the_engine_is_cut_off_from_the_database_is_announced_after(
        self, world: tuple[Settings, WebhookReceiver, str], db: psycopg.Connection
    ) -> None:
        settings, receiver, plan_id = world
        proxy = CuttableProxy.to_database(settings)
        stop = threading.Event()
        service, failures = run_in_thread(proxy.reaching(settings), stop)
        writer = DirectWriter(settings)
        try:
            wait_until(
                lambda: db.execute("SELECT count(*) FROM indicator_evaluations").fetchone() != (0,),
                30,
                "the first sweep",
            )
            proxy.cut()
            # The worker's own path to the database is not cut.
            writer.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))
            time.sleep(20)
            assert service.is_alive()
            assert receiver.alerts(plan_id) == []
            proxy.restore()
            wait_until(lambda: len(receiver.alerts(plan_id)) >= 2, 60, "the alert opened during the cut")
            assert Counter(receiver.transitions(plan_id)) == {"opened": 2}
            assert failures == []
        finally:
            stop.set()
            service.join(timeout=30)
            writer.close()
            proxy.close()

    def test_a_notifier_that_dies_takes_the_service_down_with_an_error(
        self, world: tuple[Settings, WebhookReceiver, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        settings, _, _ = world

        def broken(self: Notifier, stop: threading.Event, idle_s: float = 1.0) -> None:
            raise RuntimeError("a bug in delivery")

        monkeypatch.setattr(Notifier, "run", broken)
        stop = threading.Event()
        service, failures = run_in_thread(settings, stop)
        service.join(timeout=30)
        assert not service.is_alive()  # it did not live on without its notifier
        assert len(failures) == 1
        assert isinstance(failures[0], ServiceFailedError)
        assert "a bug in delivery" in str(failures[0])

    def test_two_engines_one_leads_no_message_is_sent_twice_and_the_standby_takes_over(
        self, world: tuple[Settings, WebhookReceiver, str], db: psycopg.Connection
    ) -> None:
        settings, receiver, plan_id = world
        first_stop, second_stop = threading.Event(), threading.Event()
        first, first_failures = run_in_thread(settings, first_stop)
        time.sleep(2)  # the first takes the lead
        second, second_failures = run_in_thread(settings, second_stop)
        writer = DirectWriter(settings)
        store_results = writer.store_results
        try:
            store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))
            wait_until(lambda: len(receiver.alerts(plan_id)) >= 2, 30, "the opened alerts")
            time.sleep(6)  # both engines swept several times meanwhile
            assert Counter(receiver.transitions(plan_id)) == {"opened": 2}
            first_stop.set()
            first.join(timeout=30)
            store_results(vegetables("MORE", 2000, fail=False))
            wait_until(lambda: len(receiver.alerts(plan_id)) >= 4, 60, "the standby to resolve them")
            time.sleep(3)
            assert Counter(receiver.transitions(plan_id)) == {"opened": 2, "resolved": 2}
            assert first_failures == second_failures == []
        finally:
            first_stop.set()
            second_stop.set()
            first.join(timeout=30)
            second.join(timeout=30)
            writer.close()
