"""Liveness, readiness and metrics of a long-running process, on one port.

* ``/healthz`` (liveness): the process's own parts are alive (its loops beat, its threads run). A supervisor that
  sees 503 restarts the process.
* ``/readyz`` (readiness): it can do its work now (database and Kafka reachable, work not piling up).
* ``/metrics``: the registry, for Prometheus.

Each check returns ``None`` when fine, else a short reason; the answer lists the reasons.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Check = Callable[[], str | None]


class Heartbeat:
    """A loop beats on every turn; it is dead when it has not beaten for ``limit_s``."""

    def __init__(self, name: str, limit_s: float) -> None:
        self.name, self.limit_s = name, limit_s
        self._at = time.monotonic()

    def beat(self) -> None:
        self._at = time.monotonic()

    def check(self) -> str | None:
        age = time.monotonic() - self._at
        return f"{self.name} has not run for {age:.0f}s" if age > self.limit_s else None


class Cached:
    """A check that is expensive (a round trip): its answer is reused for ``ttl_s``."""

    def __init__(self, check: Check, ttl_s: float = 5.0) -> None:
        self._check, self._ttl = check, ttl_s
        self._at = -ttl_s
        self._answer: str | None = None
        self._lock = threading.Lock()

    def __call__(self) -> str | None:
        with self._lock:
            if time.monotonic() - self._at >= self._ttl:
                try:
                    self._answer = self._check()
                except Exception as exc:  # a failing check is a finding, not a crash of the health server
                    self._answer = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
                self._at = time.monotonic()
            return self._answer


def tcp_reachable(servers: str, timeout_s: float = 1.0) -> str | None:
    """At least one of ``host:port[,host:port]`` accepts a connection."""
    for server in servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=timeout_s).close()
        except OSError:
            continue
        return None
    return f"none of {servers} accepts connections"


def database_reachable(dsn: str, application_name: str) -> str | None:
    """The database accepts a connection and answers (within a few seconds)."""
    from qsmon.storage import connect

    with connect(dsn, application_name=application_name, connect_timeout_s=3) as conn:
        conn.execute("SELECT 1")
    return None


class Health:
    def __init__(self) -> None:
        self.liveness: dict[str, Check] = {}
        self.readiness: dict[str, Check] = {}

    @staticmethod
    def _problems(checks: dict[str, Check]) -> dict[str, str]:
        return {name: problem for name, check in checks.items() if (problem := check()) is not None}

    def live(self) -> dict[str, str]:
        return self._problems(self.liveness)

    def ready(self) -> dict[str, str]:
        return self._problems(self.liveness) | self._problems(self.readiness)


def serve(registry: CollectorRegistry, health: Health, host: str, port: int) -> ThreadingHTTPServer:
    """Serve /metrics, /healthz and /readyz on ``host:port`` from a daemon thread; raises OSError when taken."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/readyz"):
                problems = health.live() if path == "/healthz" else health.ready()
                body = orjson.dumps({"status": "fail" if problems else "ok", "problems": problems})
                self._answer(503 if problems else 200, body, "application/json")
            else:
                self._answer(404, b"not found\n", "text/plain")

        def _answer(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # scrapes every few seconds: not worth a log line each
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"health-{port}", daemon=True).start()
    return server
