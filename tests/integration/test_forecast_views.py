"""达标预测 where people look, on the real database: the read API, `qsmon status` and the monthly report show the
forecast indicators.pace computes from the stored results."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from typer.testing import CliRunner

from alerts.service import sync_reference_data
from indicators.pace import forecast_rows
from producers.simulator import Simulator, SimulatorOptions
from qsmon import clock
from qsmon.plans import Plan, presets
from qsmon.settings import Settings, get_settings
from qsmon.storage import connect
from qsmon.tokens import Scope, create_token
from reports.run import write_report
from streams.records import SourceRecord, classify
from streams.store import ResultStore
from tests.integration.test_read_api import serving

pytestmark = pytest.mark.integration

TODAY = clock.today("Asia/Shanghai")
IN_FORCE: Plan = presets()["jingzhou-2023"].model_copy(update={"in_force_until": date(2099, 12, 31)})


@pytest.fixture
def stored(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Fifteen months of simulated 荆州市 results (so last year's volume and season exist) and the plan kept in
    force through a plan file."""
    with connect(settings.dsn) as conn:
        sync_reference_data(conn, [IN_FORCE])
    events = list(
        Simulator(SimulatorOptions(seed=35, first_day=date(TODAY.year - 1, 1, 1), last_day=TODAY)).events(20_000)
    )
    store = ResultStore(settings.dsn, group="fc", topic="fc")
    records = [SourceRecord(0, i, e.key, e.to_json()) for i, e in enumerate(events)]
    for start in range(0, len(records), 5000):
        batch = records[start : start + 5000]
        store.write(classify(batch, clock.now() + timedelta(days=1))[0], batch)
    store.close()
    plans = tmp_path_factory.mktemp("plans")
    (plans / "in-force.yaml").write_text("extends: jingzhou-2023\nin_force_until: 2099-12-31\n", encoding="utf-8")
    return settings.model_copy(update={"plans_dir": plans})


def truth(settings: Settings, day: date, region: str | None = "421000") -> list[dict[str, Any]]:
    with connect(settings.dsn) as conn:
        return forecast_rows(conn, IN_FORCE, day, timezone=settings.timezone, region=region)


class TestReadApi:
    def test_v1_forecast_answers_what_indicators_pace_computes_as_json_and_csv(self, stored: Settings) -> None:
        with connect(stored.dsn) as conn:
            token = create_token(conn, "forecast", {Scope.READ}, 10_000)[1]
        expected = truth(stored, TODAY)
        assert expected, "the simulated year gives every rate indicator a forecast"
        with serving(stored) as base:
            headers = {"Authorization": f"Bearer {token}"}
            answer = httpx.get(
                f"{base}/v1/forecast", params={"plan": "jingzhou-2023", "region": "421000"}, headers=headers, timeout=60
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["as_of"] == TODAY.isoformat()
            got = {(i["indicator_id"], i["subcategory"]): i for i in body["items"]}
            assert set(got) == {(r["indicator_id"], r["subcategory"]) for r in expected}
            for r in expected:
                item = got[(r["indicator_id"], r["subcategory"])]
                assert item["tested"] == r["tested"]
                assert item["projected"] == pytest.approx(r["projected"])
                assert item["probability"] == pytest.approx(r["probability"])
                assert item["planned_text"] == r["planned_text"]
            as_csv = httpx.get(
                f"{base}/v1/forecast", params={"plan": "jingzhou-2023", "format": "csv"}, headers=headers, timeout=60
            )
            assert as_csv.status_code == 200
            header = next(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
            assert {"预计年底", "达标概率", "其余需达"} <= set(header)
            assert (
                httpx.get(
                    f"{base}/v1/forecast", params={"plan": "no-such-plan"}, headers=headers, timeout=10
                ).status_code
                == 404
            )
            assert (
                httpx.get(
                    f"{base}/v1/forecast",
                    params={"plan": "jingzhou-2023", "region": "420100"},
                    headers=headers,
                    timeout=10,
                ).status_code
                == 422
            )  # 武汉市: not the plan's
            assert httpx.get(f"{base}/v1/forecast", params={"plan": "jingzhou-2023"}, timeout=10).status_code == 401


class TestStatusAndReport:
    def test_qsmon_status_prints_each_plans_forecast(self, stored: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
        from cli.main import app

        monkeypatch.setenv("QSMON_DATABASE_URL", stored.dsn)
        monkeypatch.setenv("QSMON_PLANS_DIR", str(stored.plans_dir))
        get_settings.cache_clear()
        try:
            out = CliRunner().invoke(app, ["status", "--plan", "jingzhou-2023"])
        finally:
            get_settings.cache_clear()
        assert out.exit_code == 0, out.output
        assert "jingzhou-2023 年度达标预测" in out.output
        food = next(
            r for r in truth(stored, TODAY) if r["indicator_id"] == "food-evaluative-pass" and not r["subcategory"]
        )
        line = next(x for x in out.output.splitlines() if x.strip().startswith("food-evaluative-pass"))
        assert f"预计年底 {food['projected']:.2f}%" in line
        assert str(food["planned_text"]) in line

    def test_the_monthly_report_has_a_forecast_sheet_as_of_the_months_end(
        self, stored: Settings, tmp_path: Path
    ) -> None:
        month_end = TODAY.replace(day=1) - timedelta(days=1)  # last month's report, as the schedule writes it
        year, month = month_end.year, month_end.month
        files = write_report(stored, IN_FORCE, year, month, tmp_path, ["xlsx"])
        book = openpyxl.load_workbook(next(p for p in files if p.name.endswith(".xlsx") and "不合格" not in p.name))
        sheet = book["年度达标预测"]
        rows = [r for r in sheet.iter_rows(min_row=4, values_only=True) if r[0]]
        expected = truth(stored, month_end, region=None)
        assert len(rows) == len(expected) > 0
        city = {(r[0], r[1]): r for r in rows}
        for r in expected:
            if r["region_code"] != "421000" or r["subcategory"]:
                continue
            row = city[(r["indicator_name"], r["region_name"])]
            assert row[3] == r["tested"]
            # Excel keeps percentages as fractions; the report shows rates to two decimals, rounded half up
            assert row[8] == pytest.approx(r["projected"] / 100, abs=5e-5)
            assert row[11] in ("待定", "已确定达标", "已无法达标")
