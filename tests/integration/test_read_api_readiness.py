"""The read API's readiness probe (/readyz, what Kubernetes routes traffic by): ready while the database answers."""

from __future__ import annotations

import time

import httpx
import pytest

from qsmon.settings import Settings
from tests.integration.test_federation import serving

pytestmark = pytest.mark.integration


class TestReadiness:
    def test_ready_while_the_database_answers(self, settings: Settings) -> None:
        with serving(settings) as base:
            answer = httpx.get(f"{base}/readyz", timeout=30)
        assert answer.status_code == 200
        assert answer.json() == {"status": "ready"}

    def test_not_ready_within_seconds_when_the_database_is_away(self, settings: Settings) -> None:
        away = settings.model_copy(
            update={"database_url": type(settings.database_url)("postgresql://qsmon@127.0.0.1:1/qsmon")}
        )
        with serving(away) as base:
            started = time.monotonic()
            answer = httpx.get(f"{base}/readyz", timeout=30)
            assert time.monotonic() - started < 15
            assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200  # alive: no restart for it
        assert answer.status_code == 503
        assert answer.headers["content-type"].startswith("application/problem+json")
