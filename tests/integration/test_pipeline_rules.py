"""qsmon's own alerting rules: promtool accepts them, they fire when they should, and each has a runbook section."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules"

UNIT_TESTS = """\
rule_files: [pipeline.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="qsmon-worker", instance="w1:9401"}'
        values: '1 1 1 0 0 0 0 0 0 0'
      - series: 'qsmon_pipeline_partition_refused{partition="3", instance="a:9410"}'
        values: '0 0 1 1 1 1 1 1 1 1'
      - series: 'qsmon_pipeline_lag_records{partition="3", instance="a:9410"}'
        values: '0 0 0 60x13'
      # The last commit at 3m; records wait from 3m: stalled from 8m (5 minutes without a commit), fires at 13m.
      - series: 'qsmon_last_commit_timestamp_seconds{instance="w1:9401"}'
        values: '60 120 180 180x13'
      - series: 'qsmon_outbox_oldest_pending_seconds{instance="a:9410"}'
        values: '0 0 0 0 0 0 0 0 0 0'
      # 1 November comes at 2m: next year missing from then, warned after 30 minutes.
      - series: 'qsmon_workdays_next_year_missing{instance="a:9410"}'
        values: '0 0 1x40'
    alert_rule_test:
      - eval_time: 4m
        alertname: QsmonWorkerAbsent
        exp_alerts: []
      - eval_time: 6m
        alertname: QsmonWorkerAbsent
        exp_alerts:
          - exp_labels: {severity: critical, component: worker}
            exp_annotations:
              summary: "没有运行中的流处理 worker:抽检结果不再入库"
              description: "Prometheus has scraped no qsmon worker for 2 minutes; results wait in Kafka."
              runbook_url: docs/runbook.md#qsmonworkerabsent
      - eval_time: 4m
        alertname: QsmonPartitionRefused
        exp_alerts:
          - exp_labels: {severity: critical, component: worker, partition: "3"}
            exp_annotations:
              summary: "分区 3 的偏移量与 Kafka 日志不符,结果暂停入库"
              description: "The database's offsets for partition 3 count another log (topic recreated or
                another cluster); nothing from it is stored until `qsmon offsets reset`."
              runbook_url: docs/runbook.md#qsmonpartitionrefused
      - eval_time: 12m
        alertname: QsmonPipelineStalled
        exp_alerts: []
      - eval_time: 14m
        alertname: QsmonPipelineStalled
        exp_alerts:
          - exp_labels: {severity: critical, component: worker}
            exp_annotations:
              summary: "有结果待入库,但 5 分钟内没有任何批次提交"
              description: "60 records wait and no worker committed a batch in 5 minutes."
              runbook_url: docs/runbook.md#qsmonpipelinestalled
      - eval_time: 9m
        alertname: QsmonOutboxStuck
        exp_alerts: []
      - eval_time: 31m
        alertname: QsmonWorkdaysNextYearMissing
        exp_alerts: []
      - eval_time: 33m
        alertname: QsmonWorkdaysNextYearMissing
        exp_alerts:
          - exp_labels: {severity: warning, component: cases}
            exp_annotations:
              summary: "法定工作日日历缺少下一年度的节假日安排"
              description: "From 1 November the working-day calendar must know next year; without it, working-day
                deadlines there are provisional (Monday to Friday). Add the year to QSMON_WORKDAYS_FILE from the
                State Council's notice."
              runbook_url: docs/runbook.md#qsmonworkdaysnextyearmissing
"""


def rules() -> list[dict[str, object]]:
    found = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            found.extend(group["rules"])
    return found


def test_promtool_accepts_every_rule_file(promtool: str) -> None:
    files = sorted(RULES.glob("*.yml"))
    assert files
    check = subprocess.run([promtool, "check", "rules", *map(str, files)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_rules_fire_when_they_should(promtool: str, tmp_path: Path) -> None:
    shutil.copy(RULES / "pipeline.yml", tmp_path / "pipeline.yml")
    (tmp_path / "tests.yml").write_text(UNIT_TESTS, encoding="utf-8")
    run = subprocess.run(
        [promtool, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_rule_links_its_runbook_section() -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^## (.+)$", runbook, re.M)}
    for rule in rules():
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        url = str(annotations["runbook_url"])
        assert url == f"docs/runbook.md#{str(rule['alert']).lower()}", rule["alert"]
        assert url.split("#", 1)[1] in anchors, f"{rule['alert']}: no section in docs/runbook.md"
