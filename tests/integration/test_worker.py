"""The faust worker on the real stack: stored exactly, invalid records dead-lettered with reasons."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import psycopg
import pytest
from kafka import KafkaProducer

from producers.kafka_sink import ResultSink
from producers.simulator import Simulator, SimulatorOptions
from qsmon.settings import Settings
from qsmon.topics import end_offset_total, ensure_topics
from streams.rebuild import differences
from tests.factories import result
from tests.truth import expected_counts, stored_counts
from tests.workers import WorkerProcess, read_all, stored_offset_total, wait_until

pytestmark = pytest.mark.integration


class TestWorker:
    def test_results_are_stored_exactly_and_invalid_ones_dead_lettered(
        self, settings: Settings, db: psycopg.Connection, tmp_path: Path
    ) -> None:
        ensure_topics(settings)
        options = SimulatorOptions(
            seed=11, first_day=date(2026, 9, 1), last_day=date(2026, 10, 31), duplicate_rate=0.05, correction_rate=0.02
        )
        events = list(Simulator(options).events(3000))
        events += [result("FIX-1", verdict="fail"), result("FIX-1", revision=2, verdict="pass")]
        with ResultSink(settings) as sink:
            sink.send_all(events)
        raw = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        for bad in (b"{not json", b'{"sample_id": "BAD-1", "verdict": "maybe"}', b"[]"):
            raw.send(settings.results_topic, key=b"BAD", value=bad)
        raw.flush()
        raw.close()
        total = end_offset_total(settings)

        worker = WorkerProcess(settings, tmp_path / "worker.log")
        try:
            wait_until(lambda: stored_offset_total(db, settings) == total, 90, "the worker to store everything")
        finally:
            assert worker.terminate() == 0, (tmp_path / "worker.log").read_text()

        assert stored_counts(db) == expected_counts(events)
        assert differences(db) == []
        dead = read_all(settings, settings.dlq_topic, expected=3)
        reasons = {dict(r.headers)["qsmon.error.code"].decode() for r in dead}
        assert reasons == {"not_json", "sampled_at", "not_object"}
        assert sorted(r.value for r in dead) == sorted(
            [b"{not json", b'{"sample_id": "BAD-1", "verdict": "maybe"}', b"[]"]
        )
        assert all(int(dict(r.headers)["qsmon.source.offset"]) >= 0 for r in dead)
        changes = read_all(settings, settings.changes_topic, expected=1)
        assert changes
        assert orjson.loads(changes[0].value)["keys"]
