"""Running real `qsmon worker` processes against a test's isolated topics, group and schema."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from qsmon.settings import Settings
from streams.store import stored_offset_total as _stored_offset_total

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "QSMON_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "QSMON_DATABASE_URL": settings.dsn,
        "QSMON_RESULTS_TOPIC": settings.results_topic,
        "QSMON_DLQ_TOPIC": settings.dlq_topic,
        "QSMON_CHANGES_TOPIC": settings.changes_topic,
        "QSMON_WORKER_GROUP": settings.worker_group,
        "QSMON_WORKER_SESSION_TIMEOUT_S": "6",
        "QSMON_WORKER_BATCH_SIZE": str(settings.worker_batch_size),
    }


class WorkerProcess:
    def __init__(self, settings: Settings, log_path: Path, *, metrics_port: int | None = None) -> None:
        env = settings_env(settings) | {"QSMON_WORKER_METRICS_PORT": str(metrics_port or free_port())}
        self.metrics_port = int(env["QSMON_WORKER_METRICS_PORT"])
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker", "--loglevel", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code


def stored_offset_total(db: psycopg.Connection, settings: Settings) -> int:
    return _stored_offset_total(db, settings.worker_group, settings.results_topic)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def reader_dsn(dsn: str) -> str:
    """The same database and search path as Grafana's read-only role (password from deploy/local/env.sh)."""
    params = conninfo_to_dict(dsn) | {
        "user": "qsmon_grafana",
        "password": os.environ.get("PG_READER_PASSWORD", "qsmon_grafana"),
    }
    return make_conninfo("", **params)


def stack(action: str, service: str) -> None:
    """Stop or start one service of the local stack (fault drills); ``start`` returns once it answers."""
    subprocess.run(["bash", str(ROOT / "deploy/local/stack.sh"), action, service], check=True, capture_output=True)


def read_all(settings: Settings, topic: str, expected: int, timeout_ms: int = 15_000) -> list[Any]:
    """Records of a topic from the start, until ``expected`` arrived or none came for ``timeout_ms``."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=timeout_ms,
        group_id=None,
    )
    records = []
    for record in consumer:
        records.append(record)
        if len(records) >= expected:
            break
    consumer.close()
    return records


def run_cli(
    settings: Settings, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``qsmon ARGS`` in a subprocess with the test's settings."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env=settings_env(settings) | (extra_env or {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def serve_ingest(
    settings: Settings, *, tokens: tuple[str, ...], routers: Sequence[Any] = (), **overrides: Any
) -> Iterator[tuple[str, Settings]]:
    """The ingest service (with ``routers``) on a free loopback port, in a thread: its base URL and settings."""
    import threading

    import uvicorn
    from pydantic import SecretStr

    from producers.ingest_api import server_config
    from qsmon.topics import ensure_topics

    configured = settings.model_copy(update={"ingest_tokens": tuple(SecretStr(t) for t in tokens), **overrides})
    ensure_topics(configured)
    port = free_port()
    server = uvicorn.Server(server_config(configured, host="127.0.0.1", port=port, routers=routers))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", configured
    server.should_exit = True
    thread.join(timeout=20)


class DirectWriter:
    """Stores results as the worker does (one partition, consecutive offsets), without Kafka: for tests about what
    happens after storage. ``write`` again with the same records is a redelivery."""

    def __init__(self, settings: Settings) -> None:
        from streams.store import ResultStore

        self.store = ResultStore(settings.dsn, group=settings.worker_group, topic=settings.results_topic)
        self.offset = 0

    def records(self, results: Sequence[Any]) -> list[Any]:
        from streams.records import SourceRecord

        out = [SourceRecord(0, self.offset + i, r.key, r.to_json()) for i, r in enumerate(results)]
        self.offset += len(out)
        return out

    def write(self, records: Sequence[Any]) -> None:
        from qsmon import clock
        from streams.records import classify

        self.store.write(classify(records, clock.now())[0], records)

    def store_results(self, results: Sequence[Any]) -> None:
        self.write(self.records(results))

    def close(self) -> None:
        self.store.close()
