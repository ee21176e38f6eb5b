"""The restore drill of docs/operations.md on the real stack: a dump taken while the worker writes, restored into
a new database; the worker pointed at it resumes from the offsets stored with the data, Kafka replays the rest,
and the counts come out exact (issue #21)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from producers.kafka_sink import ResultSink
from producers.simulator import Simulator, SimulatorOptions
from qsmon.settings import Settings
from qsmon.storage import apply_migrations, connect
from qsmon.topics import end_offset_total, ensure_topics
from streams.rebuild import differences
from tests.truth import expected_counts, stored_counts
from tests.workers import ROOT, WorkerProcess, stored_offset_total, wait_until

pytestmark = pytest.mark.integration


def stack_sh(*args: str) -> None:
    subprocess.run(["bash", str(ROOT / "deploy/local/stack.sh"), *args], check=True, capture_output=True)


def in_database(settings: Settings, name: str) -> Settings:
    params = conninfo_to_dict(settings.dsn) | {"dbname": name}
    return settings.model_copy(update={"database_url": type(settings.database_url)(make_conninfo("", **params))})


@pytest.fixture
def databases(stack_settings: Settings, unique_name: Callable[[str], str]) -> Iterator[tuple[str, str]]:
    source, restored = unique_name("qsmon_drill_src"), unique_name("qsmon_drill_dst")
    stack_sh("database", source)
    try:
        yield source, restored
    finally:
        if not os.environ.get("KEEP_DRILL"):
            stack_sh("drop-database", source)
            stack_sh("drop-database", restored)


@pytest.fixture
def stack_settings(stack: Settings, unique_name: Callable[[str], str]) -> Settings:
    return stack.model_copy(
        update={
            "results_topic": unique_name("results"),
            "dlq_topic": unique_name("dlq"),
            "changes_topic": unique_name("changes"),
            "worker_group": unique_name("group"),
        }
    )


def test_a_dump_taken_mid_stream_restores_to_exact_counts(
    stack_settings: Settings, databases: tuple[str, str], tmp_path: Path
) -> None:
    source_db, restored_db = databases
    source, restored = in_database(stack_settings, source_db), in_database(stack_settings, restored_db)
    with connect(source.dsn) as conn:
        apply_migrations(conn)
    ensure_topics(source)
    events = list(
        Simulator(
            SimulatorOptions(
                seed=21,
                first_day=date(2026, 8, 1),
                last_day=date(2026, 10, 31),
                duplicate_rate=0.05,
                correction_rate=0.03,
            )
        ).events(20_000)
    )
    with ResultSink(source) as sink:
        sink.send_all(events)
    total = end_offset_total(source)
    dump = tmp_path / "qsmon.dump"
    params = conninfo_to_dict(source.dsn)

    with connect(source.dsn, autocommit=True) as db:
        worker = WorkerProcess(source, tmp_path / "worker-source.log")
        try:
            wait_until(lambda: stored_offset_total(db, source) >= 2000, 90, "the worker to be under way")
            subprocess.run(  # the backup: while the worker writes, as the app role (docs/operations.md)
                [
                    "pg_dump",
                    "-Fc",
                    "-f",
                    str(dump),
                    "-h",
                    str(params["host"]),
                    "-p",
                    str(params["port"]),
                    "-U",
                    str(params["user"]),
                    str(params["dbname"]),
                ],
                check=True,
                capture_output=True,
                env={**os.environ, "PGPASSWORD": str(params.get("password", ""))},
            )
        finally:
            assert worker.terminate() == 0

    stack_sh("restore", restored_db, str(dump))
    with connect(restored.dsn, autocommit=True) as db:
        at_dump = stored_offset_total(db, restored)
        assert 2000 <= at_dump < total, "the dump was to be taken mid-stream"
        worker = WorkerProcess(restored, tmp_path / "worker-restored.log")
        try:
            wait_until(lambda: stored_offset_total(db, restored) == total, 120, "Kafka to replay the rest")
        finally:
            assert worker.terminate() == 0
        assert stored_counts(db) == expected_counts(events)
        assert differences(db) == []
