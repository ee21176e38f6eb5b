"""Failover drills on the replicated Kafka (`qsmon stack up --ha`, deploy/local/ha.sh): three KRaft brokers, topics
with three replicas and min.insync.replicas 2, producers with acks=all. Slow: the fixture starts the three brokers
(and stops them again if it started them)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from kafka.admin import KafkaAdminClient

from producers.kafka_sink import ResultSink
from qsmon import clock
from qsmon.settings import Settings
from qsmon.topics import ensure_topics
from tests.factories import result
from tests.workers import ROOT, WorkerProcess, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HA = ROOT / "deploy/local/ha.sh"
COUNT = 100_000
RESUME_LIMIT_S = 10.0


def ha(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(HA), *args], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def replicated_bootstrap(stack: Settings) -> Iterator[str]:
    running = ha("status").returncode == 0
    if not running:
        started = ha("up")
        assert started.returncode == 0, started.stderr[-2000:]
    yield ha("bootstrap").stdout.strip()
    if not running:
        ha("down")


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
        ha_settings = settings.model_copy(update={"kafka_bootstrap": replicated_bootstrap,
                                                  "kafka_replication_factor": 3, "results_partitions": 3})
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
                    sent.append(sink.send_all(results[start:start + 5000]))

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
            print(f"broker {killed} killed; longest storage stall {longest_stall:.1f}s;"  # the drill's figures
                  f" all stored {last_change - killed_at:.1f}s after the kill")
            assert sum(sent) == COUNT
            assert stored() == COUNT
            assert db.execute("SELECT count(DISTINCT sample_id) FROM inspection_results").fetchone() == (COUNT,)
            assert longest_stall <= RESUME_LIMIT_S
            assert leader_of(ha_settings, ha_settings.results_topic, 0) != killed
        finally:
            worker.terminate()
            if killed is not None:
                ha("start", str(killed))
