"""The rules file generated from the plans passes `promtool check rules` and `promtool test rules`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from alerts.prom_rules import rules_yaml
from qsmon.plans import presets

pytestmark = pytest.mark.integration

UNIT_TESTS = """\
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'qsmon_indicator_state{plan="jingzhou-2023", indicator="food-evaluative-pass", region="421083", subcategory="all", window="rolling_30d"}'
        values: '0 0 2 2 2 2 2 2 2 2'
      - series: 'qsmon_indicator_state{plan="jingzhou-2023", indicator="drug-evaluative-pass", region="421000", subcategory="all", window="year_to_date"}'
        values: '0 0 0 0 0 0 0 0 0 0'
      - series: 'qsmon_indicator_state{plan="jingzhou-2023", indicator="manufactured-pass", region="421000", subcategory="all", window="rolling_30d"}'
        values: '2 2 2 2 2 2 2 2 2 2'
    alert_rule_test:
      - eval_time: 4m
        alertname: QsmonIndicatorBelowTarget
        exp_alerts: []
      - eval_time: 8m
        alertname: QsmonIndicatorBelowTarget
        exp_alerts:
          - exp_labels: {severity: critical, plan: jingzhou-2023, indicator: food-evaluative-pass,
                         region: "421083", subcategory: all, window: rolling_30d}
            exp_annotations:
              summary: "食品安全评价性抽检合格率(421083,rolling_30d)未达目标"
              description: "荆州市质量强市建设实施方案:食品安全评价性抽检合格率 目标 ≥ 98.50%;状态 2(1 警告,2 严重)"
          # A `warning` indicator in the critical state: the rule, like the notification, says warning.
          - exp_labels: {severity: warning, plan: jingzhou-2023, indicator: manufactured-pass,
                         region: "421000", subcategory: all, window: rolling_30d}
            exp_annotations:
              summary: "制造业产品质量合格率(421000,rolling_30d)未达目标"
              description: "荆州市质量强市建设实施方案:制造业产品质量合格率 目标 ≥ 95.00%;状态 2(1 警告,2 严重)"
"""


class TestGeneratedRules:
    def test_promtool_accepts_the_rules_of_every_plan(self, promtool: str, tmp_path: Path) -> None:
        rules = tmp_path / "rules.yml"
        rules.write_text(rules_yaml(presets().values()), encoding="utf-8")
        check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        # A rule per firing state where the indicator's severity tells them apart (critical ones), else one.
        total = sum(2 if i.severity.value == "critical" else 1 for p in presets().values() for i in p.indicators)
        assert f"{total} rules found" in check.stdout

    def test_the_rule_fires_after_its_for_period_and_not_before(self, promtool: str, tmp_path: Path) -> None:
        (tmp_path / "rules.yml").write_text(rules_yaml([presets()["jingzhou-2023"]]), encoding="utf-8")
        (tmp_path / "tests.yml").write_text(UNIT_TESTS, encoding="utf-8")
        run = subprocess.run(
            [promtool, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert run.returncode == 0, run.stdout + run.stderr

    def test_cli_prints_the_same_rules(self) -> None:
        from typer.testing import CliRunner

        from cli.main import app

        out = CliRunner().invoke(app, ["alerts", "prometheus-rules"])
        assert out.exit_code == 0
        assert yaml.safe_load(out.stdout) == yaml.safe_load(rules_yaml(presets().values()))
