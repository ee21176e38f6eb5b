"""Leadership drills on the real stack: the leader's network is cut without a reset, a standby takes over in time."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from alerts.leadership import DEFAULT_LEASE_S, Leadership
from alerts.service import run_service
from notify.testing import WebhookReceiver
from qsmon.settings import Settings
from qsmon.storage import connect
from qsmon.storage.locks import ALERT_ENGINE
from qsmon.storage.sessions import bound_session
from qsmon.topics import ensure_topics
from tests.factories import VEGETABLES_PLAN as PLAN
from tests.factories import vegetables
from tests.proxy import CuttableProxy
from tests.workers import DirectWriter, wait_until

pytestmark = pytest.mark.integration

TAKEOVER_LIMIT_S = 30.0


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, WebhookReceiver, str]]:
    plan_id = f"test-{settings.worker_group.split('_')[-1]}"
    plans_dir = tmp_path / "plans"
    plans_dir.mkdir()
    (plans_dir / f"{plan_id}.yaml").write_text(PLAN.format(plan_id=plan_id), encoding="utf-8")
    receiver = WebhookReceiver()
    channels = tmp_path / "channels.yaml"
    channels.write_text(
        "dashboard_url: http://grafana.test/d/qsmon-trends\n"
        f"channels:\n  - {{name: duty-webhook, type: webhook, url: '{receiver.url}', group_wait_s: 1,"
        " group_interval_s: 1}\n",
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


def named(settings: Settings, application_name: str) -> Settings:
    """The same settings, with the engine's sessions named (pg_stat_activity tells the two engines apart)."""
    params = conninfo_to_dict(settings.dsn) | {"application_name": application_name}
    return settings.model_copy(update={"database_url": type(settings.database_url)(make_conninfo("", **params))})


def leader_name(db: psycopg.Connection, group: str) -> str | None:
    """The application name of the session holding the engine group's lock, if any."""
    row = db.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::bigint::oid"
        " AND l.objid = (hashtext(current_schema() || ':' || %s)::bigint & 4294967295)::oid",
        (ALERT_ENGINE, group),
    ).fetchone()
    return None if row is None else str(row[0])


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


class TestBoundedSession:
    def test_the_server_ends_a_silent_session_and_frees_its_lock(
        self, settings: Settings, db: psycopg.Connection
    ) -> None:
        holder = connect(settings.dsn)
        bound_session(holder, 3.0)
        assert holder.execute("SHOW idle_session_timeout").fetchone() == ("3s",)
        assert holder.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("3s",)
        assert holder.execute("SELECT pg_try_advisory_lock(42, 42)").fetchone() == (True,)
        holder.commit()
        assert db.execute("SELECT pg_try_advisory_lock(42, 42)").fetchone() == (False,)
        time.sleep(4.5)  # silent past its bound
        assert db.execute("SELECT pg_try_advisory_lock(42, 42)").fetchone() == (True,)
        db.execute("SELECT pg_advisory_unlock(42, 42)")
        with pytest.raises(psycopg.OperationalError):
            holder.execute("SELECT 1")
        holder.close()

    def test_a_leader_that_keeps_speaking_keeps_the_lead(self, world: tuple[Settings, WebhookReceiver, str]) -> None:
        settings, _, _ = world
        leader, standby = Leadership(settings.alerts_group, 3.0), Leadership(settings.alerts_group, 3.0)
        first, second = connect(settings.dsn), connect(settings.dsn)
        try:
            assert leader.lead(first)
            for _ in range(8):  # 4 s: past the bound, but never silent for a third of it
                time.sleep(0.5)
                assert leader.lead(first)
                assert not standby.lead(second)
        finally:
            first.close()
            second.close()


class TestNetworkCut:
    def test_a_leader_cut_off_without_a_reset_is_replaced_within_30s_and_no_alert_is_lost_or_sent_twice(
        self, world: tuple[Settings, WebhookReceiver, str], db: psycopg.Connection
    ) -> None:
        settings, receiver, plan_id = world
        assert settings.alerts_leader_lease_seconds == DEFAULT_LEASE_S  # the drill measures the default bound
        proxy = CuttableProxy.to_database(settings)
        first_stop, second_stop = threading.Event(), threading.Event()
        first, first_failures = run_in_thread(proxy.reaching(named(settings, "engine-cut-off")), first_stop)
        wait_until(lambda: leader_name(db, settings.alerts_group) == "engine-cut-off", 30, "the first to lead")
        second, second_failures = run_in_thread(named(settings, "engine-standby"), second_stop)
        writer = DirectWriter(settings)
        try:
            writer.store_results(
                vegetables("OK", 400, fail=False, region="421083") + vegetables("BAD", 40, fail=True, region="421083")
            )
            wait_until(lambda: len(receiver.alerts(plan_id)) >= 2, 30, "the leader's alerts for 洪湖市 and 荆州市")
            time.sleep(3)  # the delivery is recorded as done before the cut
            proxy.black_hole()
            cut_at = time.monotonic()
            # 石首市 breaches while the leader is cut off: the standby must announce it, once.
            writer.store_results(
                vegetables("OK2", 400, fail=False, region="421081") + vegetables("BAD2", 40, fail=True, region="421081")
            )
            wait_until(
                lambda: leader_name(db, settings.alerts_group) == "engine-standby",
                TAKEOVER_LIMIT_S,
                "the standby to lead",
                interval=0.2,
            )
            takeover_s = time.monotonic() - cut_at
            print(f"takeover after a silent network cut: {takeover_s:.1f}s")  # the drill's figure, shown with -s
            wait_until(lambda: len(receiver.alerts(plan_id)) >= 3, 30, "the alert for 石首市 from the new leader")
            proxy.restore()  # the old leader learns its session is gone, and stands by
            time.sleep(8)  # sweeps of both engines meanwhile
            assert leader_name(db, settings.alerts_group) == "engine-standby"
            assert Counter(receiver.transitions(plan_id)) == {"opened": 3}
            assert sorted(a["region"] for a in receiver.alerts(plan_id)) == ["421000", "421081", "421083"]
            keys = [h["Idempotency-Key"] for h in receiver.headers]
            assert len(keys) == len(set(keys))
            assert first.is_alive()  # it waits to lead again, it did not die
            assert first_failures == second_failures == []
        finally:
            first_stop.set()
            second_stop.set()
            proxy.restore()
            first.join(timeout=30)
            second.join(timeout=30)
            writer.close()
            proxy.close()
