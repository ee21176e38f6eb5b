"""qsmon watching itself on the real local Prometheus and Alertmanager: with the worker stopped, the pipeline
rule fires and Alertmanager shows it, with its runbook (issue #21)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from qsmon.settings import Settings
from qsmon.topics import ensure_topics
from tests.workers import WorkerProcess, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRAPED_PORT = 9401  # the first port the local Prometheus scrapes for workers (deploy/local/prometheus.yml.tmpl)


def absent_alerts(settings: Settings) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{settings.alertmanager_url.get_secret_value()}/api/v2/alerts",
        params={"active": "true", "filter": 'alertname="QsmonWorkerAbsent"'},
        timeout=10,
    )
    answer.raise_for_status()
    return list(answer.json())


def worker_up(settings: Settings) -> bool:
    answer = httpx.get(
        f"{settings.prometheus_url.get_secret_value()}/api/v1/query",
        params={"query": f'up{{job="qsmon-worker", instance="127.0.0.1:{SCRAPED_PORT}"}} == 1'},
        timeout=10,
    ).json()
    return bool(answer["data"]["result"])


def test_a_stopped_worker_raises_the_pipeline_alert_in_alertmanager(settings: Settings, tmp_path: Path) -> None:
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", SCRAPED_PORT)) != 0, f"port {SCRAPED_PORT} is taken: stop other workers"
    ensure_topics(settings)
    worker = WorkerProcess(settings, tmp_path / "worker.log", metrics_port=SCRAPED_PORT)
    try:
        wait_until(lambda: worker_up(settings), 60, "Prometheus to scrape the worker")
        wait_until(lambda: not absent_alerts(settings), 60, "no QsmonWorkerAbsent while a worker runs")
    finally:
        assert worker.terminate() == 0
    # `for: 2m` after the last good scrape, then Prometheus's next evaluation and its push to Alertmanager.
    wait_until(lambda: bool(absent_alerts(settings)), 240, "QsmonWorkerAbsent in Alertmanager", interval=5)
    alert = absent_alerts(settings)[0]
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["runbook_url"] == "docs/runbook.md#qsmonworkerabsent"
    assert "worker" in alert["annotations"]["summary"]
