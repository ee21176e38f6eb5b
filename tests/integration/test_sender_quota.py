"""Per-sender quotas and volumes on the ingest API (issue #31): a flood past a token's records a minute gets 429 and
sends nothing beyond it; each sender's records and failures are counted, and the alerts on a jump fire in promtool."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qsmon.provenance import WriteScope
from qsmon.settings import Settings
from qsmon.storage import connect
from qsmon.tokens import Scope, create_token
from qsmon.topics import end_offset_total
from tests.factories import result
from tests.workers import serve_ingest

pytestmark = pytest.mark.integration
RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules" / "pipeline.yml"


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[str, Settings]]:
    yield from serve_ingest(settings, tokens=("configured-token-0001",), ingest_max_records=100)


def post(url: str, token: str, first: int, count: int, verdict: str = "fail") -> httpx.Response:
    body = b"\n".join(result(f"Q-{i}", verdict=verdict).to_json() for i in range(first, first + count))
    return httpx.post(
        f"{url}/v1/results",
        content=body,
        timeout=30,
        headers={"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"},
    )


class TestQuota:
    def test_a_flood_past_the_quota_gets_429_and_sends_nothing_beyond_it(self, api: tuple[str, Settings]) -> None:
        url, settings = api
        with connect(settings.dsn) as conn:
            token, secret = create_token(
                conn, "实验室B", {Scope.INGEST}, write_scope=WriteScope(), records_per_minute=100
            )
        assert post(url, secret, 0, 60).status_code == 202
        flooded = [post(url, secret, 60 + 60 * n, 60) for n in range(3)]
        assert [r.status_code for r in flooded] == [429, 429, 429]
        assert int(flooded[0].headers["retry-after"]) >= 1
        assert "nothing was sent" in flooded[0].json()["detail"]
        assert end_offset_total(settings) == 60  # the first request only
        # another sender is not held up by this one's flood
        assert post(url, "configured-token-0001", 1000, 60, verdict="pass").status_code == 202
        metrics = httpx.get(f"{url}/metrics/", timeout=10).text
        assert f'qsmon_ingest_sender_records_total{{sender="token:{token.id}"}} 60.0' in metrics
        assert f'qsmon_ingest_sender_failures_total{{sender="token:{token.id}"}} 60.0' in metrics
        assert 'qsmon_ingest_sender_failures_total{sender="configured:1"} 0.0' in metrics
        assert f'qsmon_ingest_quota_refused_records_total{{sender="token:{token.id}"}} 180.0' in metrics


PROMTOOL_TESTS = """\
rule_files: [pipeline.yml]
evaluation_interval: 10m
tests:
  - interval: 10m
    input_series:
      # token:7 sends 100 records each 10 minutes, 2 % failing, for eight days; then 3,000, 20 % failing.
      - series: 'qsmon_ingest_sender_records_total{sender="token:7", instance="i:8480"}'
        values: '0+100x1152 118200+3000x6'
      - series: 'qsmon_ingest_sender_failures_total{sender="token:7", instance="i:8480"}'
        values: '0+2x1152 2904+600x6'
      # token:8 keeps its pace
      - series: 'qsmon_ingest_sender_records_total{sender="token:8", instance="i:8480"}'
        values: '0+100x1158'
    alert_rule_test:
      - eval_time: 11500m
        alertname: QsmonSenderVolumeJump
        exp_alerts: []
      - eval_time: 11500m
        alertname: QsmonSenderFailureShareJump
        exp_alerts: []
      - eval_time: 11580m
        alertname: QsmonSenderVolumeJump
        exp_alerts:
          - exp_labels: {severity: warning, component: ingest, sender: "token:7"}
            exp_annotations:
              summary: "报送方 token:7 一小时内报送 18k 条,远超其近一周水平"
              description: "Sender token:7 sent over ten times its hourly average of the week before (and over 500
                records) in the last hour."
              runbook_url: docs/runbook.md#qsmonsendervolumejump
      - eval_time: 11580m
        alertname: QsmonSenderFailureShareJump
        exp_alerts:
          - exp_labels: {severity: warning, component: ingest, sender: "token:7"}
            exp_annotations:
              summary: "报送方 token:7 一小时内不合格占比远超其近一周水平"
              description: "Sender token:7's failure share in the last hour is over three times its share of the week
                before (at least 2 %), with over 20 failures."
              runbook_url: docs/runbook.md#qsmonsenderfailuresharejump
"""


def test_a_senders_volume_or_failure_share_jump_alerts(promtool: str, tmp_path: Path) -> None:
    shutil.copy(RULES, tmp_path / "pipeline.yml")
    (tmp_path / "tests.yml").write_text(PROMTOOL_TESTS, encoding="utf-8")
    run = subprocess.run(
        [promtool, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
