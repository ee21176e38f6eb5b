"""Running real `qsmon worker` processes against a test's isolated topics, group and schema."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

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
    def __init__(self, settings: Settings, log_path: Path) -> None:
        env = settings_env(settings) | {"QSMON_WORKER_METRICS_PORT": str(free_port())}
        self.metrics_port = int(env["QSMON_WORKER_METRICS_PORT"])
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qsmon.cli", "worker", "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
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
