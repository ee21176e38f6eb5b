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
    "POSTGRES_PASSWORD": "p",
    "QSMON_DB_PASSWORD": "q",
    "GRAFANA_DB_PASSWORD": "g",
    "GRAFANA_ADMIN_PASSWORD": "a",
    "QSMON_INGEST_TOKENS": '["t"]',
}


@pytest.fixture(scope="module")
def compose() -> dict[str, object]:
    if not shutil.which("docker-compose"):
        pytest.fail("docker-compose not installed: deploy/local/install.sh installs it")
    out = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env={**os.environ, **SECRETS},
        check=True,
    ).stdout
    return yaml.safe_load(out)  # type: ignore[no-any-return]


class TestCompose:
    def test_every_component_of_the_stack_is_a_service(self, compose: dict[str, dict[str, object]]) -> None:
        assert {
            "kafka",
            "timescaledb",
            "prometheus",
            "alertmanager",
            "grafana",
            "init",
            "worker",
            "alerts",
            "ingest",
            "reports",
        } <= set(compose["services"])

    def test_grafana_mounts_the_provisioning_from_dashboards(self, compose: dict[str, Any]) -> None:
        volumes = [str(v) for v in compose["services"]["grafana"]["volumes"]]
        assert any("dashboards/provisioning/datasources" in v for v in volumes)
        assert any("dashboards/json" in v for v in volumes)

    def test_a_missing_secret_stops_the_stack_from_being_configured(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in SECRETS}
        result = subprocess.run(
            ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert result.returncode != 0
        assert "set " in result.stderr

    def test_only_grafana_and_the_two_apis_are_published_beyond_this_host(self, compose: dict[str, Any]) -> None:
        public = set()
        for name, service in compose["services"].items():
            for port in service.get("ports", []):
                published = str(port)
                if not published.startswith("127.0.0.1:"):
                    public.add(name)
        assert public == {"grafana", "ingest", "api"}  # each API behind its tokens; the rest stays inside

    def test_prometheus_runs_without_its_lifecycle_api(self, compose: dict[str, Any]) -> None:
        assert "--web.enable-lifecycle" not in compose["services"]["prometheus"].get("command", [])

    def test_the_database_is_initialised_by_the_shared_admin_script(self, compose: dict[str, Any]) -> None:
        volumes = [str(v) for v in compose["services"]["timescaledb"]["volumes"]]
        assert any("deploy/postgres/admin.sql" in v for v in volumes)
        assert "admin.sql" in (ROOT / "deploy/compose/initdb/10-qsmon.sh").read_text(encoding="utf-8")

    def test_every_mounted_host_path_exists(self, compose: dict[str, Any]) -> None:
        named = set(compose.get("volumes", {}))
        for name, service in compose["services"].items():
            for volume in service.get("volumes", []):
                source = str(volume).split(":", 1)[0] if isinstance(volume, str) else str(volume["source"])
                if source in named:
                    continue
                assert Path(source).exists(), f"{name} mounts {source}, which is not in the repository"

    def test_every_long_running_service_has_a_healthcheck_and_limits(self, compose: dict[str, Any]) -> None:
        for name, service in compose["services"].items():
            if service.get("restart") == "no":
                continue  # one-shot: runs to completion
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
            assert service.get("mem_limit"), f"{name} has no memory limit"

    def test_qsmon_healthchecks_use_the_readiness_endpoints(self, compose: dict[str, Any]) -> None:
        for name in ("worker", "alerts", "ingest"):
            test = compose["services"][name]["healthcheck"]["test"]
            assert test[:3] == ["CMD", "qsmon", "probe"]
            assert test[3].endswith("/readyz")

    def test_prometheus_loads_qsmon_s_own_rules_and_the_plans(self, compose: dict[str, Any]) -> None:
        volumes = [str(v) for v in compose["services"]["prometheus"]["volumes"]]
        assert any("deploy/prometheus/rules:/etc/prometheus/rules/pipeline" in v for v in volumes)
        assert any(v.startswith("plan-rules:") for v in volumes)
        config = yaml.safe_load((ROOT / "deploy/compose/prometheus.yml").read_text(encoding="utf-8"))
        assert "/etc/prometheus/rules/pipeline/*.yml" in config["rule_files"]
        assert "/etc/prometheus/rules/plans/*.yml" in config["rule_files"]
        plan_rules = compose["services"]["plan-rules"]
        assert plan_rules["command"][:2] == ["alerts", "prometheus-rules"]
        assert any(str(v).startswith("plan-rules:/rules") for v in plan_rules["volumes"])

    def test_prometheus_scrapes_every_worker_replica(self, compose: dict[str, Any]) -> None:
        config = yaml.safe_load((ROOT / "deploy/compose/prometheus.yml").read_text(encoding="utf-8"))
        worker_job = next(j for j in config["scrape_configs"] if j["job_name"] == "qsmon-worker")
        assert worker_job["dns_sd_configs"][0]["names"] == ["worker"]
        assert compose["services"]["worker"].get("scale", 1) > 1

    def test_someone_is_notified_and_alertmanager_keeps_its_state(self, compose: dict[str, Any]) -> None:
        env = compose["services"]["alerts"]["environment"]
        assert env["QSMON_CHANNELS_FILE"] == "/etc/qsmon/channels.yml"
        assert env["QSMON_LOG_FORMAT"] == "json"
        from notify.routing import load_channels

        channels = load_channels(ROOT / "deploy/compose/channels.yml").channels
        assert [c.type for c in channels] == ["alertmanager"]
        am = compose["services"]["alertmanager"]
        assert any(str(v).startswith("alertmanager-data:/alertmanager") for v in am["volumes"])
        assert "--storage.path=/alertmanager" in am["command"]

    def test_the_image_gives_the_services_writable_directories(self) -> None:
        dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
        assert "chown qsmon:qsmon /reports /rules" in dockerfile
        assert dockerfile.index("chown qsmon") < dockerfile.index("USER qsmon")

    def test_the_image_holds_every_package_the_wheel_does(self) -> None:
        """The read API's package was left out: the compose `api` service could not import it."""
        import tomllib

        packages = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]["build"][
            "targets"
        ]["wheel"]["packages"]
        copied = {
            line.split()[1]
            for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
            if line.startswith("COPY ") and len(line.split()) == 3
        }
        assert set(packages) <= copied, sorted(set(packages) - copied)
