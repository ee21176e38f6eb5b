"""The Kubernetes chart (deploy/helm/qsmon) without a cluster: helm lint and helm template with the default and the
example values, every rendered manifest valid against the Kubernetes schemas (kubernetes-validate, strict), and
the example Strimzi and CloudNativePG resources consistent with what the chart and qsmon expect.

helm is built from its Go module by deploy/local/install.sh (`qsmon stack up` runs it); without it these tests
skip, except in CI where they fail."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from qsmon.settings import Settings
from tests.workers import ROOT

pytestmark = pytest.mark.integration

CHART = ROOT / "deploy/helm/qsmon"
EXAMPLES = ROOT / "deploy/helm/examples"
KUBERNETES_VERSION = "1.33"  # the oldest minor the chart is checked against (CronJob timeZone needs 1.27)


def helm_binary() -> str:
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    env = (ROOT / "deploy/local/env.sh").read_text(encoding="utf-8")
    match = re.search(r"HELM_VERSION=\$\{HELM_VERSION:-(v[\d.]+)\}", env)
    assert match, "deploy/local/env.sh names the helm version"
    cache = Path(
        os.environ.get("QSMON_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qsmon"
    )
    path = cache / f"helm-{match.group(1)}" / "helm"
    if not path.exists():
        reason = f"helm not built at {path}: deploy/local/install.sh builds it from its Go module"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return str(path)


@pytest.fixture(scope="module")
def helm() -> str:
    return helm_binary()


def run(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120, check=False)


def render(helm: str, *args: str) -> list[dict[str, Any]]:
    done = run(helm, "template", "qsmon", str(CHART), "--kube-version", f"{KUBERNETES_VERSION}.0", *args)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def example_values() -> list[str]:
    return ["-f", str(EXAMPLES / "values-example.yaml")]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]
    pod = spec["jobTemplate"]["spec"]["template"]["spec"] if doc["kind"] == "CronJob" else spec["template"]["spec"]
    return list(pod["containers"])


class TestChart:
    def test_helm_lint_passes_strictly_with_the_default_and_the_example_values(self, helm: str) -> None:
        for values in ([], example_values()):
            done = run(helm, "lint", "--strict", "--kube-version", f"{KUBERNETES_VERSION}.0", str(CHART), *values)
            assert done.returncode == 0, done.stdout + done.stderr

    @pytest.mark.parametrize("values", [[], example_values()], ids=["defaults", "example"])
    def test_every_rendered_manifest_is_valid_against_the_kubernetes_schemas(
        self, helm: str, values: list[str]
    ) -> None:
        docs = render(helm, *values)
        assert {d["kind"] for d in docs} >= {
            "Deployment",
            "Service",
            "CronJob",
            "ConfigMap",
            "Job",
            "PersistentVolumeClaim",
            "PodDisruptionBudget",
        }
        for doc in docs:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)

    def test_workers_alerts_and_apis_run_as_the_issue_asks(self, helm: str) -> None:
        docs = render(helm, *example_values())
        deployments = by_kind(docs, "Deployment")
        assert deployments["qsmon-qsmon-worker"]["spec"]["replicas"] == 4
        assert deployments["qsmon-qsmon-alerts"]["spec"]["replicas"] == 2
        probes = {
            name.removeprefix("qsmon-qsmon-"): (c["readinessProbe"]["httpGet"], c["livenessProbe"]["httpGet"])
            for name, d in deployments.items()
            for c in containers(d)
        }
        assert probes == {
            "worker": ({"path": "/readyz", "port": 9401}, {"path": "/healthz", "port": 9401}),
            "alerts": ({"path": "/readyz", "port": 9410}, {"path": "/healthz", "port": 9410}),
            "ingest": ({"path": "/readyz", "port": 8480}, {"path": "/healthz", "port": 8480}),
            "api": ({"path": "/readyz", "port": 8490}, {"path": "/healthz", "port": 8490}),
        }
        services = by_kind(docs, "Service")
        assert sorted(services) == ["qsmon-qsmon-api", "qsmon-qsmon-ingest"]
        [cronjob] = by_kind(docs, "CronJob").values()
        assert cronjob["spec"]["timeZone"] == "Asia/Shanghai"
        assert 'qsmon report monthly --plan "$plan"' in containers(cronjob)[0]["args"][0]

    def test_more_workers_than_partitions_is_refused(self, helm: str) -> None:
        done = run(
            helm,
            "template",
            "qsmon",
            str(CHART),
            "--kube-version",
            f"{KUBERNETES_VERSION}.0",
            "--set",
            "worker.replicas=7",
            "--set",
            "kafka.resultsPartitions=6",
        )
        assert done.returncode != 0
        assert "worker.replicas (7) must not exceed kafka.resultsPartitions (6)" in done.stderr

    def test_every_setting_the_chart_passes_is_a_qsmon_setting(self, helm: str) -> None:
        docs = render(helm, *example_values())
        fields = set(Settings.model_fields)
        env = {
            e["name"]
            for d in docs
            if d["kind"] in ("Deployment", "CronJob", "Job")
            for c in containers(d)
            for e in c.get("env", [])
        }
        assert {n.removeprefix("QSMON_").lower() for n in env if n.startswith("QSMON_")} <= fields | {"config_file"}
        config = by_kind(docs, "ConfigMap")["qsmon-qsmon-config"]["data"]
        settings = yaml.safe_load(config["qsmon.yml"])
        assert set(settings) <= fields
        from notify.routing import ChannelsConfig

        ChannelsConfig.model_validate(yaml.safe_load(config["channels.yml"]))

    def test_the_grafana_configmaps_hold_the_dashboards_as_built(self, helm: str) -> None:
        docs = render(helm, *example_values())
        dashboards = by_kind(docs, "ConfigMap")["qsmon-qsmon-grafana-dashboards"]["data"]
        built = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "dashboards/json").glob("*.json")}
        assert dashboards.keys() == built.keys()
        for name, text in built.items():
            assert dashboards[name].strip() == text.strip(), name
        provisioned = by_kind(docs, "ConfigMap")["qsmon-qsmon-grafana-datasources"]["data"]["qsmon.yaml"]
        datasources = yaml.safe_load(provisioned)
        tsdb = next(d for d in datasources["datasources"] if d["uid"] == "qsmon-tsdb")
        assert (tsdb["url"], tsdb["user"]) == ("qsmon-db-ro:5432", "qsmon_grafana")  # the read-only service and role


def example(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text(encoding="utf-8")) if d]


class TestOperatorExamples:
    def test_the_kafka_topics_are_qsmons_replicated_three_times_with_two_in_sync(self) -> None:
        docs = example("strimzi-kafka.yaml")
        topics = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "KafkaTopic"}
        defaults = Settings.model_fields
        assert set(topics) == {defaults[f].default for f in ("results_topic", "dlq_topic", "changes_topic")}
        for spec in topics.values():
            assert spec["replicas"] == 3
            assert spec["config"]["min.insync.replicas"] == 2
        chart_values = yaml.safe_load((EXAMPLES / "values-example.yaml").read_text(encoding="utf-8"))
        assert topics[defaults["results_topic"].default]["partitions"] == chart_values["kafka"]["resultsPartitions"]
        [pool] = [d for d in docs if d["kind"] == "KafkaNodePool"]
        assert pool["spec"]["replicas"] == 3
        [kafka] = [d for d in docs if d["kind"] == "Kafka"]
        assert chart_values["kafka"]["bootstrap"].startswith(f"{kafka['metadata']['name']}-kafka-bootstrap:")

    def test_the_database_cluster_has_a_standby_and_timescaledb_preloaded(self) -> None:
        [cluster] = example("cnpg-cluster.yaml")
        assert cluster["kind"] == "Cluster"
        assert cluster["spec"]["instances"] >= 2
        assert "timescaledb" in cluster["spec"]["postgresql"]["shared_preload_libraries"]
        chart_values = yaml.safe_load((EXAMPLES / "values-example.yaml").read_text(encoding="utf-8"))
        name = cluster["metadata"]["name"]
        assert (chart_values["database"]["appSecret"], chart_values["database"]["readOnlyHost"]) == (
            f"{name}-app",
            f"{name}-ro",
        )  # the Secret and read-only service CloudNativePG creates

    def test_the_example_resources_validate_against_the_operators_crds(self) -> None:
        """Against the CRDs' own schemas, from QSMON_CRD_DIR (e.g. `kubectl get crd -o yaml` of a cluster with the
        operators): no package registry this project reaches ships them as files."""
        crd_dir = os.environ.get("QSMON_CRD_DIR")
        if not crd_dir:
            pytest.skip("QSMON_CRD_DIR not set: the Strimzi and CloudNativePG CRDs are not shipped by a registry")
        schemas: dict[tuple[str, str], dict[str, Any]] = {}
        for path in Path(crd_dir).glob("*.y*ml"):
            for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                for item in (crd or {}).get("items", [crd]) if crd else []:
                    if item.get("kind") != "CustomResourceDefinition":
                        continue
                    for version in item["spec"]["versions"]:
                        api_version = f"{item['spec']['group']}/{version['name']}"
                        schemas[(api_version, item["spec"]["names"]["kind"])] = version["schema"]["openAPIV3Schema"]
        for doc in example("strimzi-kafka.yaml") + example("cnpg-cluster.yaml"):
            schema = schemas.get((doc["apiVersion"], doc["kind"]))
            assert schema is not None, f"no CRD for {doc['apiVersion']} {doc['kind']} in {crd_dir}"
            jsonschema.validate(doc, schema)
