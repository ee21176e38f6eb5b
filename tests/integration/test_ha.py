"""Failover drills on the replicated Kafka (`qsmon stack up --ha`, deploy/local/ha.sh): three KRaft brokers, topics
with three replicas and min.insync.replicas 2, producers with acks=all. Slow: the fixture starts the three brokers
(and stops them again if it started them)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from kafka.admin import KafkaAdminClient

from producers.kafka_sink import ResultSink
from qsmon import clock
from qsmon.settings import Settings
from qsmon.topics import ensure_topics
from tests.factories import VEGETABLES_PLAN as PLAN
from tests.factories import result, vegetables
from tests.workers import ROOT, WorkerProcess, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HA = ROOT / "deploy/local/ha.sh"
COUNT = 100_000
# The goal is 10 s (measured 8.9-11.1 s on two loaded cores: docs/benchmarks.md); the drill prints each stall and
# fails past twice the goal, so a loaded CI machine does not turn a measurement into a false failure.
RESUME_LIMIT_S = 20.0


def ha(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(HA), *args], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def replicated_bootstrap(stack: Settings) -> Iterator[str]:
    running = ha("kafka-status").returncode == 0
    if not running:
        started = ha("kafka-up")
        assert started.returncode == 0, started.stderr[-2000:]
    yield ha("bootstrap").stdout.strip()
    if not running:
        ha("kafka-down")


def leader_of(settings: Settings, topic: str, partition: int) -> int:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="qsmon-drill")
    try:
        described = admin.describe_topics([topic])[0]
    finally:
        admin.close()
    return int(next(p["leader_id"] for p in described["partitions"] if p["partition_index"] == partition))


class TestBrokerFailover:
    def test_killing_the_partition_leader_while_results_stream_loses_nothing_and_storage_resumes_within_10s(
        self, settings: Settings, replicated_bootstrap: str, tmp_path: Path, db: psycopg.Connection
    ) -> None:
        ha_settings = settings.model_copy(
            update={"kafka_bootstrap": replicated_bootstrap, "kafka_replication_factor": 3, "results_partitions": 3}
        )
        ensure_topics(ha_settings)
        admin = KafkaAdminClient(bootstrap_servers=replicated_bootstrap, client_id="qsmon-drill")
        described = admin.describe_topics([ha_settings.results_topic])[0]
        admin.close()
        assert all(len(p["replica_nodes"]) == 3 for p in described["partitions"])

        now = clock.now()
        results = [result(f"HA-{i}", at=now - timedelta(days=1, minutes=i % 1000)) for i in range(COUNT)]
        sent: list[int] = []

        def produce() -> None:
            with ResultSink(ha_settings) as sink:
                for start in range(0, COUNT, 5000):
                    sent.append(sink.send_all(results[start : start + 5000]))

        worker = WorkerProcess(ha_settings, tmp_path / "worker.log")
        producer = threading.Thread(target=produce, daemon=True)
        killed = None
        try:
            producer.start()

            def stored() -> int:
                row = db.execute("SELECT count(*) FROM inspection_results").fetchone()
                return int(row[0]) if row else 0

            wait_until(lambda: stored() >= 20_000, 120, "a fifth of the results stored")
            killed = leader_of(ha_settings, ha_settings.results_topic, 0)
            assert ha("kill", str(killed)).returncode == 0
            killed_at = time.monotonic()
            # The longest time storage made no progress after the kill, until every result is stored.
            last, last_change, longest_stall = stored(), time.monotonic(), 0.0
            deadline = time.monotonic() + 300
            while last < COUNT and time.monotonic() < deadline:
                time.sleep(0.2)
                count = stored()
                if count != last:
                    longest_stall = max(longest_stall, time.monotonic() - last_change)
                    last, last_change = count, time.monotonic()
            producer.join(timeout=120)
            time.sleep(3)  # nothing more arrives: exactly once
            print(
                f"broker {killed} killed; longest storage stall {longest_stall:.1f}s;"  # the drill's figures
                f" all stored {last_change - killed_at:.1f}s after the kill"
            )
            assert sum(sent) == COUNT
            assert stored() == COUNT
            assert db.execute("SELECT count(DISTINCT sample_id) FROM inspection_results").fetchone() == (COUNT,)
            assert longest_stall <= RESUME_LIMIT_S
            assert leader_of(ha_settings, ha_settings.results_topic, 0) != killed
        finally:
            worker.terminate()
            if killed is not None:
                ha("start", str(killed))


@pytest.fixture(scope="module")
def replicated_database(stack: Settings) -> Iterator[str]:
    """A primary with a synchronous streaming standby (each drill destroys its primary, so it is removed after)."""
    if not standby_streaming():
        ha("pg-reset")  # whatever a broken run left: never start a dead primary beside a promoted standby
    started = ha("pg-up")
    assert started.returncode == 0, started.stderr[-2000:]
    yield ha("pg-url").stdout.strip()
    ha("pg-reset")


def standby_streaming() -> bool:
    import psycopg

    try:
        with psycopg.connect("postgresql://qsmon:qsmon@127.0.0.1:15533/qsmon", connect_timeout=3) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    except psycopg.Error:
        return False
    return row == (True,)


class TestDatabaseFailover:
    def test_promoting_the_standby_while_results_stream_and_alerts_run_loses_and_repeats_nothing(
        self, settings: Settings, replicated_database: str, tmp_path: Path, unique_name: Callable[[str], str]
    ) -> None:
        from alerts.service import run_service
        from notify.testing import WebhookReceiver
        from qsmon.storage import apply_migrations, connect
        from qsmon.storage.locks import ALERT_ENGINE

        schema = unique_name("ha")
        with connect(replicated_database, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        dsn = f"{replicated_database}&options={quote(f'-c search_path={schema},public')}"
        plan_id = f"test-{settings.worker_group.split('_')[-1]}"
        (tmp_path / "plans").mkdir()
        (tmp_path / "plans" / f"{plan_id}.yaml").write_text(PLAN.format(plan_id=plan_id), encoding="utf-8")
        receiver = WebhookReceiver()
        (tmp_path / "channels.yaml").write_text(
            f"channels:\n  - {{name: duty, type: webhook, url: '{receiver.url}', group_wait_s: 1,"
            " group_interval_s: 1}\n",
            encoding="utf-8",
        )
        ha_settings = settings.model_copy(
            update={
                "database_url": type(settings.database_url)(dsn),
                "plans_dir": tmp_path / "plans",
                "active_plans": (plan_id,),
                "channels_file": tmp_path / "channels.yaml",
                "alerts_group": f"alerts-{settings.worker_group}",
                "alerts_hold_seconds": 3.0,
                "alerts_sweep_seconds": 2.0,
            }
        )
        with connect(ha_settings.dsn) as conn:
            apply_migrations(conn)
        ensure_topics(ha_settings)
        stops = [threading.Event(), threading.Event()]
        failures: list[BaseException] = []

        def alert_service(stop: threading.Event) -> None:
            try:
                run_service(ha_settings, stop, metrics=False)
            except BaseException as exc:
                failures.append(exc)

        services = [threading.Thread(target=alert_service, args=(s,), daemon=True) for s in stops]
        for service in services:
            service.start()
        worker = WorkerProcess(ha_settings, tmp_path / "worker.log")
        stream = [result(f"S-{i}", at=clock.now() - timedelta(days=1, minutes=i % 1000)) for i in range(20_000)]
        total = 440 + len(stream) + 440

        def stored() -> int:
            try:
                with connect(ha_settings.dsn, connect_timeout_s=3) as conn:
                    row = conn.execute("SELECT count(*) FROM inspection_results").fetchone()
                    return int(row[0]) if row else 0
            except Exception:
                return -1  # the database is changing hands

        try:
            with ResultSink(ha_settings) as sink:
                sink.send_all(
                    vegetables("OK", 400, fail=False, region="421083")
                    + vegetables("BAD", 40, fail=True, region="421083")
                )
            wait_until(lambda: len(receiver.alerts(plan_id)) >= 2, 90, "the alerts for 洪湖市 and 荆州市")

            def produce() -> None:
                with ResultSink(ha_settings) as sink:
                    sink.send_all(stream)

            producer = threading.Thread(target=produce, daemon=True)
            producer.start()
            wait_until(lambda: stored() >= 440 + 5_000, 120, "a quarter of the stream stored")
            before = stored()  # committed on both (synchronous): the promoted standby starts from here
            failed_at = time.monotonic()
            assert ha("pg-fail").returncode == 0
            print(f"the primary died and the standby was promoted in {time.monotonic() - failed_at:.1f}s")
            wait_until(lambda: stored() > before, 120, "storage to resume on the promoted standby", interval=0.2)
            resumed_s = time.monotonic() - failed_at
            producer.join(timeout=120)
            with ResultSink(ha_settings) as sink:  # 石首市 breaches after the failover
                sink.send_all(
                    vegetables("OK2", 400, fail=False, region="421081")
                    + vegetables("BAD2", 40, fail=True, region="421081")
                )
            wait_until(lambda: stored() == total, 180, "every result stored once")
            wait_until(lambda: len(receiver.alerts(plan_id)) >= 3, 90, "the alert for 石首市")
            time.sleep(6)  # sweeps of both engines meanwhile
            print(f"database failover: storage resumed {resumed_s:.1f}s after the primary died")  # the figure
            with connect(ha_settings.dsn) as conn:
                assert conn.execute("SELECT pg_is_in_recovery(), inet_server_port()").fetchone() == (False, 15533)
                assert conn.execute("SELECT count(DISTINCT sample_id) FROM inspection_results").fetchone() == (total,)
                leaders = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s::oid",
                    (ALERT_ENGINE,),
                ).fetchone()
            assert leaders == (1,)
            assert Counter(receiver.transitions(plan_id)) == {"opened": 3}
            keys = [h["Idempotency-Key"] for h in receiver.headers]
            assert len(keys) == len(set(keys))
            assert failures == []
        finally:
            for stop in stops:
                stop.set()
            for service in services:
                service.join(timeout=30)
            worker.terminate()
            receiver.stop()


class Elsewhere(WorkerProcess):
    """A worker in a session and process group of its own, with its own metrics port: as if on another host."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        import sys

        from tests.workers import free_port, settings_env

        env = settings_env(settings) | {"QSMON_WORKER_METRICS_PORT": str(free_port())}
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker", "--loglevel", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class TestRebalance:
    def test_workers_here_and_elsewhere_share_the_partitions_through_rebalances_without_loss(
        self, settings: Settings, replicated_bootstrap: str, tmp_path: Path, db: psycopg.Connection
    ) -> None:
        ha_settings = settings.model_copy(
            update={"kafka_bootstrap": replicated_bootstrap, "kafka_replication_factor": 3, "results_partitions": 6}
        )
        ensure_topics(ha_settings)
        count = 60_000
        results = [result(f"RB-{i}", at=clock.now() - timedelta(days=1, minutes=i % 1000)) for i in range(count)]

        def stored() -> int:
            row = db.execute("SELECT count(*) FROM inspection_results").fetchone()
            return int(row[0]) if row else 0

        here = [WorkerProcess(ha_settings, tmp_path / f"here-{n}.log") for n in (1, 2)]
        elsewhere: WorkerProcess | None = None
        try:
            with ResultSink(ha_settings) as sink:
                sink.send_all(results[:30_000])
            wait_until(lambda: stored() >= 10_000, 120, "the two workers here to store")
            elsewhere = Elsewhere(ha_settings, tmp_path / "elsewhere.log")  # joins: a rebalance
            with ResultSink(ha_settings) as sink:
                sink.send_all(results[30_000:])
            wait_until(lambda: stored() >= 40_000, 120, "storage after the third joined")
            here[0].kill()  # one host's worker dies mid-stream: another rebalance
            wait_until(lambda: stored() >= count, 180, "every result stored")
            time.sleep(3)
            assert stored() == count
            assert db.execute("SELECT count(DISTINCT sample_id) FROM inspection_results").fetchone() == (count,)
            assert elsewhere.proc.poll() is None  # it stayed in the group and worked
        finally:
            for worker in (here[1], elsewhere):
                if worker is not None and worker.proc.poll() is None:
                    worker.terminate()
