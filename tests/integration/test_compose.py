"""docker-compose.yml is valid and wires the production stack; no engine runs here, so the parser checks it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "POSTGRES_PASSWORD": "p", "QSMON_DB_PASSWORD": "q", "GRAFANA_DB_PASSWORD": "g",
    "GRAFANA_ADMIN_PASSWORD": "a", "QSMON_INGEST_TOKENS": '["t"]',
}


@pytest.fixture(scope="module")
def compose() -> dict[str, object]:
    if not shutil.which("docker-compose"):
        pytest.fail("docker-compose not installed: deploy/local/install.sh installs it")
    out = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True, text=True, env={**os.environ, **SECRETS}, check=True,
    ).stdout
    return yaml.safe_load(out)  # type: ignore[no-any-return]


class TestCompose:
    def test_every_component_of_the_stack_is_a_service(self, compose: dict[str, dict[str, object]]) -> None:
        assert {"kafka", "timescaledb", "prometheus", "alertmanager", "grafana", "init", "worker", "alerts",
                "ingest", "reports"} <= set(compose["services"])

    def test_grafana_mounts_the_provisioning_from_dashboards(self, compose: dict[str, Any]) -> None:
        volumes = [str(v) for v in compose["services"]["grafana"]["volumes"]]
        assert any("dashboards/provisioning/datasources" in v for v in volumes)
        assert any("dashboards/json" in v for v in volumes)

    def test_a_missing_secret_stops_the_stack_from_being_configured(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in SECRETS}
        result = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                                capture_output=True, text=True, env=env, check=False)
        assert result.returncode != 0
        assert "set " in result.stderr

    def test_only_grafana_and_the_ingest_api_are_published_beyond_this_host(self, compose: dict[str, Any]) -> None:
        public = set()
        for name, service in compose["services"].items():
            for port in service.get("ports", []):
                published = str(port)
                if not published.startswith("127.0.0.1:"):
                    public.add(name)
        assert public == {"grafana", "ingest"}

    def test_prometheus_runs_without_its_lifecycle_api(self, compose: dict[str, Any]) -> None:
        assert "--web.enable-lifecycle" not in compose["services"]["prometheus"].get("command", [])

    def test_the_database_is_initialised_by_the_shared_admin_script(self, compose: dict[str, Any]) -> None:
        volumes = [str(v) for v in compose["services"]["timescaledb"]["volumes"]]
        assert any("deploy/postgres/admin.sql" in v for v in volumes)
        assert "admin.sql" in (ROOT / "deploy/compose/initdb/10-qsmon.sh").read_text(encoding="utf-8")
