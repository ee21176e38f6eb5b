"""Liveness and readiness answers (qsmon.health): what a supervisor and a load balancer read."""

from __future__ import annotations

import time

import httpx
from prometheus_client import CollectorRegistry, Counter

from qsmon.health import Cached, Health, Heartbeat, serve, tcp_reachable
from tests.workers import free_port


def test_a_loop_that_stops_beating_is_dead() -> None:
    beat = Heartbeat("loop", limit_s=0.05)
    assert beat.check() is None
    time.sleep(0.1)
    assert beat.check() == "loop has not run for 0s"
    beat.beat()
    assert beat.check() is None


def test_an_expensive_check_is_asked_once_per_ttl_and_its_exception_is_a_finding() -> None:
    calls = []

    def broken() -> str | None:
        calls.append(1)
        raise OSError("connection refused")

    check = Cached(broken, ttl_s=60)
    assert check() == "OSError: connection refused"
    assert check() == "OSError: connection refused"
    assert len(calls) == 1


def test_nothing_listening_is_unreachable() -> None:
    assert tcp_reachable(f"127.0.0.1:{free_port()}", timeout_s=0.5) is not None


def test_endpoints_answer_with_the_problems() -> None:
    registry = CollectorRegistry()
    Counter("qsmon_probe_total", "a counter", registry=registry).inc()
    health = Health()
    health.liveness["loop"] = lambda: None
    waiting: list[str] = []
    health.readiness["database"] = lambda: waiting[0] if waiting else None
    port = free_port()
    server = serve(registry, health, "127.0.0.1", port)
    try:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/readyz").json() == {"status": "ok", "problems": {}}
        waiting.append("connection refused")
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503
        assert ready.json()["problems"] == {"database": "connection refused"}
        assert httpx.get(f"{base}/healthz").status_code == 200  # not ready is not dead: no restart for that
        assert "qsmon_probe_total 1.0" in httpx.get(f"{base}/metrics").text
        assert httpx.get(f"{base}/other").status_code == 404
    finally:
        server.shutdown()
