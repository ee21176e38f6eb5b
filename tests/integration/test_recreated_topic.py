"""A results topic deleted and recreated under a running worker: its new records are refused with a clear error,
never skipped as redeliveries; `qsmon offsets reset` stores them, exactly (issue #21)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psycopg
import pytest
from kafka.admin import KafkaAdminClient

from producers.kafka_sink import ResultSink
from qsmon.settings import Settings
from qsmon.topics import end_offset_total, ensure_topics
from tests.factories import result
from tests.truth import expected_counts, stored_counts
from tests.workers import WorkerProcess, run_cli, stored_offset_total, wait_until

pytestmark = pytest.mark.integration


def recreate_topic(settings: Settings) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        admin.delete_topics([settings.results_topic])
        wait_until(lambda: settings.results_topic not in admin.list_topics(), 30, "the topic to be deleted")
    finally:
        admin.close()
    deadline = time.monotonic() + 30
    while True:  # the broker finishes deleting in the background; creating too early is refused
        try:
            if ensure_topics(settings):
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def refused_partitions(port: int) -> set[str]:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    except httpx.ConnectError:  # not listening yet (a worker starting)
        return set()
    return {
        line.split('"')[1]
        for line in text.splitlines()
        if line.startswith("qsmon_partition_refused{") and line.endswith(" 1.0")
    }


def test_new_records_of_a_recreated_topic_are_refused_then_stored_after_a_reset(
    settings: Settings, db: psycopg.Connection, tmp_path: Path
) -> None:
    ensure_topics(settings)
    before = [result(f"OLD-{i}", verdict="fail" if i % 10 == 0 else "pass") for i in range(1200)]
    after = [result(f"NEW-{i}", verdict="fail" if i % 4 == 0 else "pass") for i in range(400)]
    with ResultSink(settings) as sink:
        sink.send_all(before)
    log_path = tmp_path / "worker.log"
    worker = WorkerProcess(settings, log_path)
    try:
        total = end_offset_total(settings)
        wait_until(lambda: stored_offset_total(db, settings) == total, 90, "the first results to be stored")

        recreate_topic(settings)
        with ResultSink(settings) as sink:
            sink.send_all(after)
        # Every partition's new log starts below what the database applied from the old one.
        wait_until(
            lambda: len(refused_partitions(worker.metrics_port)) == settings.results_partitions,
            90,
            "the worker to refuse the recreated topic's partitions",
        )
        assert stored_counts(db) == expected_counts(before)  # nothing new stored, nothing skipped for good
        ready = httpx.get(f"http://127.0.0.1:{worker.metrics_port}/readyz")
        assert ready.status_code == 503
        assert "refused" in ready.json()["problems"]["partitions"]
        assert "qsmon offsets reset --partition" in log_path.read_text()

        # A restart does not forget it: refused at assignment this time.
        assert worker.terminate() == 0
        worker = WorkerProcess(settings, log_path)
        wait_until(
            lambda: len(refused_partitions(worker.metrics_port)) == settings.results_partitions,
            90,
            "the restarted worker to refuse them again",
        )

        shown = run_cli(settings, "offsets", "show")
        assert shown.returncode == 1, shown.stderr
        assert shown.stdout.count("REFUSED") == settings.results_partitions
        # Their lag is every record the new log holds: none of them is stored yet.
        lags = [int(line.split()[4]) for line in shown.stdout.splitlines() if "REFUSED" in line]
        assert sum(lags) == end_offset_total(settings) == len(after)

        dry = run_cli(settings, "offsets", "reset", "--to", "earliest")
        assert "dry run" in dry.stdout
        assert len(refused_partitions(worker.metrics_port)) == settings.results_partitions

        done = run_cli(settings, "offsets", "reset", "--to", "earliest", "--yes")
        assert done.returncode == 0, done.stderr
        total = end_offset_total(settings)
        wait_until(lambda: stored_offset_total(db, settings) == total, 90, "the new results to be stored")
        wait_until(lambda: not refused_partitions(worker.metrics_port), 30, "the refusals to clear")
        assert stored_counts(db) == expected_counts(before + after)
        assert httpx.get(f"http://127.0.0.1:{worker.metrics_port}/readyz").status_code == 200
        assert run_cli(settings, "offsets", "show").returncode == 0

        # A sound partition: refused while a worker runs, reset once none does; a --to that is no position first.
        bogus = run_cli(settings, "offsets", "reset", "--to", "bogus", "--partition", "0", "--yes")
        assert bogus.returncode != 0
        assert "--to is earliest, latest or an offset" in bogus.stderr
        running = run_cli(settings, "offsets", "reset", "--to", "earliest", "--partition", "0", "--yes")
        assert running.returncode == 1
        assert "workers are running" in running.stderr
        assert worker.terminate() == 0
        stopped = run_cli(settings, "offsets", "reset", "--to", "latest", "--partition", "0", "--yes")
        assert stopped.returncode == 0, stopped.stderr
    finally:
        worker.terminate()
