"""One bad record must not stop storage: refused records are dead-lettered, outages waited out, SIGTERM obeyed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import psycopg
import pytest
from kafka import KafkaProducer

from producers.kafka_sink import ResultSink
from qsmon.settings import Settings
from qsmon.storage import connect
from qsmon.topics import end_offset_total, ensure_topics
from tests.factories import result
from tests.workers import WorkerProcess, read_all, run_cli, stack, stored_offset_total, wait_until

pytestmark = pytest.mark.integration

TEXT_FIELDS = ("subcategory", "product", "brand", "spec", "batch", "manufacturer", "sampled_unit", "lab", "source")


def send_raw(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    for key, value in records:
        producer.send(settings.results_topic, key=key, value=value)
    producer.flush()
    producer.close()


def stored_results(db: psycopg.Connection) -> int:
    row = db.execute("SELECT count(*) FROM sample_current").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def worker(settings: Settings, db: psycopg.Connection, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A running worker that has stored a first result, so timings below measure storage, not start-up."""
    ensure_topics(settings)
    with ResultSink(settings) as sink:
        sink.send(result("WARM-1"))
    process = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        wait_until(lambda: stored_results(db) == 1, 90, "the worker to store its first result")
        yield process
    finally:
        if process.proc.poll() is None:
            assert process.terminate() == 0, (tmp_path / "worker.log").read_text()[-3000:]


class TestRefusedRecords:
    def test_a_nul_in_any_text_field_is_dead_lettered_and_the_next_results_stored_within_10s(
        self, settings: Settings, db: psycopg.Connection, worker: WorkerProcess
    ) -> None:
        poisoned = []
        for field in TEXT_FIELDS:
            event = orjson.loads(result(f"NUL-{field}").to_json()) | {field: "lab\u0000x"}
            poisoned.append((f"NUL-{field}".encode(), orjson.dumps(event)))
        item = orjson.loads(result("NUL-item", verdict="fail").to_json())
        item["failed_items"][0]["item"] = "毒死\u0000蜱"
        poisoned.append((b"NUL-item", orjson.dumps(item)))
        started = time.monotonic()
        send_raw(settings, poisoned)
        with ResultSink(settings) as sink:
            sink.send_all(result(f"AFTER-{i}") for i in range(100))
        wait_until(lambda: stored_results(db) == 101, 10, "the results behind the poisoned ones")
        assert time.monotonic() - started < 10
        dead = read_all(settings, settings.dlq_topic, expected=len(poisoned))
        codes = {r.key.decode(): dict(r.headers)["qsmon.error.code"].decode() for r in dead}
        assert codes == {f"NUL-{f}": f for f in TEXT_FIELDS} | {"NUL-item": "failed_items"}
        assert all(b"control or invisible character" in dict(r.headers)["qsmon.error.reason"] for r in dead)

    def test_a_record_the_database_refuses_is_dead_lettered_and_its_batch_stored(
        self, settings: Settings, db: psycopg.Connection, worker: WorkerProcess
    ) -> None:
        # A constraint the schema does not know about: the database, not validation, refuses the record.
        db.execute(
            "ALTER TABLE inspection_results ADD CONSTRAINT test_refuses_poison"
            " CHECK (product IS DISTINCT FROM 'poison')"
        )
        events = [result(f"DB-{i}", product="poison" if i == 57 else "白菜") for i in range(200)]
        with ResultSink(settings) as sink:  # one producer batch: one worker batch, poisoned in the middle
            sink.send_all(events)
        total = end_offset_total(settings)
        wait_until(lambda: stored_offset_total(db, settings) == total, 30, "the batch around the refused record")
        assert stored_results(db) == 1 + 199
        assert db.execute("SELECT count(*) FROM sample_current WHERE sample_id = 'DB-57'").fetchone() == (0,)
        (dead,) = read_all(settings, settings.dlq_topic, expected=1)
        headers = dict(dead.headers)
        assert (dead.key, headers["qsmon.error.code"]) == (b"DB-57", b"database")
        assert b"test_refuses_poison" in headers["qsmon.error.reason"]
        assert dead.value == events[57].to_json()

    def test_once_the_cause_is_repaired_a_dead_letter_is_sent_again_and_stored_once(
        self, settings: Settings, db: psycopg.Connection, worker: WorkerProcess
    ) -> None:
        db.execute(
            "ALTER TABLE inspection_results ADD CONSTRAINT test_refuses_poison"
            " CHECK (product IS DISTINCT FROM 'poison')"
        )
        with ResultSink(settings) as sink:
            sink.send_all([result("DLQ-1"), result("DLQ-2", product="poison"), result("DLQ-3", verdict="fail")])
        wait_until(lambda: stored_offset_total(db, settings) == end_offset_total(settings), 30, "the three results")
        listed = run_cli(settings, "deadletters", "list", "--code", "database")
        assert listed.returncode == 0, listed.stderr
        assert "1 dead letter(s)" in listed.stdout
        assert "DLQ-2  [database]" in listed.stdout
        assert "test_refuses_poison" in listed.stdout
        assert (
            "would send 0 record(s)"
            in run_cli(settings, "deadletters", "replay", "--code", "not_json", "--dry-run").stdout
        )
        assert "no dead letter at 0:99" in run_cli(settings, "deadletters", "replay", "--position", "0:99").stderr

        # Sent again before the repair: refused again, a second dead letter of the same record ...
        assert "sent 1 record(s)" in run_cli(settings, "deadletters", "replay", "--code", "database").stdout
        wait_until(lambda: stored_offset_total(db, settings) == end_offset_total(settings), 30, "the first replay")
        assert "2 dead letter(s)" in run_cli(settings, "deadletters", "list").stdout
        # ... which the next replay sends once, not twice (replays would otherwise double each time)
        db.execute("ALTER TABLE inspection_results DROP CONSTRAINT test_refuses_poison")  # the repair
        for _ in range(2):  # and sending again twice stores it once
            replayed = run_cli(settings, "deadletters", "replay", "--code", "database")
            assert replayed.returncode == 0, replayed.stderr
            assert "sent 1 record(s)" in replayed.stdout
        wait_until(lambda: stored_offset_total(db, settings) == end_offset_total(settings), 30, "the replays")
        assert db.execute("SELECT count(*) FROM sample_current WHERE sample_id = 'DLQ-2'").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM inspection_results WHERE sample_id = 'DLQ-2'").fetchone() == (1,)
        assert db.execute("SELECT sum(tested), sum(failed) FROM rollup_daily").fetchone() == (1 + 3, 1)
        assert len(read_all(settings, settings.dlq_topic, expected=3, timeout_ms=3000)) == 2  # none after the repair


@pytest.mark.slow
class TestDatabaseOutage:
    @pytest.fixture(autouse=True)
    def postgres_back_afterwards(self) -> Iterator[None]:
        yield
        stack("start", "postgres")

    def test_sigterm_during_an_outage_stops_the_worker_and_commits_nothing(
        self, settings: Settings, worker: WorkerProcess
    ) -> None:
        stack("stop", "postgres")
        with ResultSink(settings) as sink:
            sink.send_all(result(f"OUT-{i}") for i in range(50))
        time.sleep(3)  # the batch is in hand, waiting for the database
        started = time.monotonic()
        assert worker.terminate(timeout=30) == 0
        assert time.monotonic() - started < 30
        stack("start", "postgres")
        with connect(settings.dsn) as db:
            assert stored_results(db) == 1  # nothing of the batch; it is read again by the next worker
            assert stored_offset_total(db, settings) == 1

    def test_storage_resumes_within_5s_of_the_databases_return(self, settings: Settings, worker: WorkerProcess) -> None:
        stack("stop", "postgres")
        with ResultSink(settings) as sink:
            sink.send_all(result(f"BACK-{i}") for i in range(50))
        time.sleep(20)  # long enough for the backoff to reach its cap
        stack("start", "postgres")  # returns once PostgreSQL accepts connections
        back = time.monotonic()
        with connect(settings.dsn, autocommit=True) as db:
            wait_until(lambda: stored_results(db) == 51, 30, "the worker to store after the outage", interval=0.1)
        assert time.monotonic() - back < 5
