"""The settings model: what operators see of it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.workers import ROOT


def test_qsmon_config_masks_every_credential() -> None:
    env = {**os.environ, "QSMON_DATABASE_URL": "postgresql://qsmon:db-pass-9876@db:5432/qsmon",
           "QSMON_PROMETHEUS_URL": "http://ops:prom-pass-5432@prometheus:9090",
           "QSMON_ALERTMANAGER_URL": "http://alertmanager:9093/?token=am-token-1098",
           "QSMON_GRAFANA_URL": "https://admin:grafana-pass-7654@grafana.example",
           "QSMON_INGEST_TOKENS": '["ingest-token-3210"]'}
    shown = subprocess.run([sys.executable, "-m", "qsmon.cli", "config"], cwd=ROOT, env=env, capture_output=True,
                           text=True, check=True).stdout
    for secret in ("db-pass-9876", "prom-pass-5432", "am-token-1098", "grafana-pass-7654", "ingest-token-3210"):
        assert secret not in shown
    assert "prometheus:9090" in shown  # where it points is still shown
