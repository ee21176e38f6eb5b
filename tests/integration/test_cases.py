"""Follow-up cases (核查处置) on the real stack: opened by the worker's transaction, deadlines from the official
calendar, progress by CLI, API and spreadsheet with clear refusals, overdue notices once through the outbox and
the digest (issue #17)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import openpyxl
import psycopg
import pytest
from prometheus_client import CollectorRegistry

from alerts.messages import renderer
from alerts.service import sync_reference_data
from cases.api import router
from cases.deadlines import step_state
from cases.store import find_case
from cases.sweep import CaseSweep
from dashboards.macros import expand
from dashboards.queries import CASES_BY_COUNTY
from notify.delivery import Notifier
from notify.routing import ChannelsConfig, load_channels
from notify.testing import WebhookReceiver
from qsmon import clock
from qsmon.case_rules import load_table
from qsmon.plans import presets
from qsmon.schema import InspectionResult
from qsmon.settings import Settings
from qsmon.storage import connect
from reports.data import gather
from reports.tables import cases as cases_table
from tests.factories import result
from tests.workers import DirectWriter, reader_dsn, run_cli, serve_ingest

pytestmark = pytest.mark.integration
TOKEN = "case-token-0123456789"


@pytest.fixture
def writer(settings: Settings) -> Iterator[DirectWriter]:
    w = DirectWriter(settings)
    yield w
    w.close()


def failed(sample: str, days_ago: int) -> InspectionResult:
    return result(sample, verdict="fail", at=clock.now() - timedelta(days=days_ago), region="421083",
                  product="小白菜", manufacturer="洪湖某农业合作社")


def run_sweep(db: psycopg.Connection, settings: Settings, channels: ChannelsConfig | None = None,
              hour: int = 9) -> None:
    """One case sweep at ``hour`` local time (the digest goes out from 8)."""
    sweep = CaseSweep(load_table(), list((channels or ChannelsConfig()).channels), soon_working_days=2,
                      digest_hour=8, timezone=settings.timezone)
    sweep.run(db, clock.now(), clock.today(settings.timezone), hour)


def count(db: psycopg.Connection, sql: str) -> int:
    row = db.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


class TestOpening:
    def test_a_failure_opens_exactly_one_case_even_when_redelivered(
        self, writer: DirectWriter, db: psycopg.Connection
    ) -> None:
        records = writer.records([failed("F-1", 3), result("P-1"),
                                  result("E-1", verdict="fail", category="engineering", sampling_type="acceptance")])
        writer.write(records)
        writer.write(records)  # redelivered
        assert count(db, "SELECT count(*) FROM cases") == 1  # engineering has no follow-up steps
        case = find_case(db, "F-1")
        assert (case.status, case.region_code, case.category) == ("open", "421083", "food")
        # Opened the day the failing conclusion was reported (sampled 3 days ago, reported today).
        assert case.opened_on == clock.today("Asia/Shanghai")

    def test_a_retest_that_overturns_the_verdict_closes_the_case_as_such(
        self, writer: DirectWriter, db: psycopg.Connection
    ) -> None:
        writer.write(writer.records([failed("F-2", 10)]))
        writer.write(writer.records([result("F-2", revision=2, verdict="pass", region="421083",
                                            at=clock.now() - timedelta(days=10))]))
        case = find_case(db, "F-2")
        assert (case.status, case.revision) == ("overturned", 2)
        assert case.closed_on is not None
        # The pass rate counts the final verdict; the failure left the current failures too.
        assert count(db, "SELECT count(*) FROM failure_current WHERE sample_id = 'F-2'") == 0


class TestDeadlines:
    def test_the_sweep_writes_each_step_s_deadline_and_the_sql_state_agrees_with_python(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings
    ) -> None:
        writer.write(writer.records([failed("F-3", 20)]))
        run_sweep(db, settings)
        case = find_case(db, "F-3")
        assert [s.step for s in case.steps] == [s.id for s in load_table().categories["food"].steps]
        serve = next(s for s in case.steps if s.step == "serve_conclusion")
        assert serve.basis.startswith("第二十九条")
        assert serve.due_on is not None
        days = [case.opened_on + timedelta(days=d) for d in range(-2, 100, 3)]
        for s in case.steps:
            for day in days:
                for done in (None, s.due_on, (s.due_on + timedelta(days=1)) if s.due_on else None):
                    sql = db.execute("SELECT case_step_state(%s, %s, %s, %s)",
                                     (done, s.due_on, s.soon_on, day)).fetchone()
                    assert sql is not None
                    assert sql[0] == step_state(done, s.due_on, s.soon_on, day).value, (s.step, day, done)


class TestProgress:
    def test_progress_by_cli_api_and_spreadsheet_shows_in_cases_show(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings, tmp_path: Path
    ) -> None:
        writer.write(writer.records([failed("F-4", 12)]))
        run_sweep(db, settings)
        case = find_case(db, "F-4")
        opened = case.opened_on
        cli = run_cli(settings, "cases", "record", str(case.id), "--step", "risk_control", "--on", opened.isoformat(),
                      "--by", "张三", "--note", "已下架封存")
        assert cli.returncode == 0, cli.stderr

        service = serve_ingest(settings, tokens=(TOKEN,), routers=[router])
        base, _ = next(service)
        answer = httpx.post(f"{base}/v1/cases/{case.id}/steps", headers={"Authorization": f"Bearer {TOKEN}"},
                          json={"step": "serve_conclusion", "done_on": opened.isoformat(), "done_by": "李四",
                                "attachment": "鄂市监抽通〔2026〕12号"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["steps"][1]["done_on"] == opened.isoformat()
        next(service, None)  # stop it

        sheet = tmp_path / "核查处置情况.xlsx"
        workbook = openpyxl.Workbook()
        rows = workbook.create_sheet("核查处置", 0)
        rows.append(["抽样编号", "步骤", "完成日期", "经办人", "备注"])
        rows.append(["F-4", "复检、异议申请期(受理或期满)", opened.strftime("%Y年%m月%d日"), "王五", "期满未申请"])
        rows.append(["NO-SUCH", "verification", opened.isoformat(), "王五", ""])
        workbook.save(sheet)
        imported = run_cli(settings, "cases", "import", str(sheet))
        assert imported.returncode == 1  # one row rejected
        assert "1 step(s) recorded" in imported.stdout
        assert "row 3: no case for this sample" in imported.stdout

        shown = run_cli(settings, "cases", "show", str(case.id), "--json")
        assert shown.returncode == 0, shown.stderr
        steps = {s["step"]: s for s in json.loads(shown.stdout)["steps"]}
        assert steps["risk_control"]["done_by"] == "张三"
        assert steps["serve_conclusion"]["recorded_via"] == "api:configured:1"  # the API and who sent it
        assert steps["review_window"]["recorded_via"] == "import"
        assert steps["review_window"]["note"] == "期满未申请"
        assert steps["verification"]["state"] in ("open", "due_soon")
        assert steps["publication"]["state"] == "waiting"

        # The dashboard's query, as Grafana's role, and the month's report see the same case.
        sync_reference_data(db, presets().values())  # region names and labels, as the alert service syncs them
        now = datetime.now(UTC)
        by_county = expand(CASES_BY_COUNTY, {"plan": "jingzhou-2023", "region": "421000"},
                           now - timedelta(days=30), now)
        with connect(reader_dsn(settings.dsn)) as reader:
            rows = reader.execute(by_county.encode()).fetchall()
        assert [(r[0], r[1]) for r in rows] == [("洪湖市", "完成核查处置")]  # the only step still pending with a date
        report = gather(db, presets()["jingzhou-2023"], opened.year, opened.month, timezone=settings.timezone)
        [row] = report.cases
        assert (row.region, row.opened, row.open_at_month_end) == ("洪湖市", 1, 1)
        assert [c.value for c in cases_table(report).rows[0]] == ["洪湖市", 1, 0, 0, 0, 1, 0]

    def test_bad_input_gets_a_clear_4xx_and_changes_nothing(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings
    ) -> None:
        writer.write(writer.records([failed("F-5", 12)]))
        run_sweep(db, settings)
        case = find_case(db, "F-5")
        service = serve_ingest(settings, tokens=(TOKEN,), routers=[router])
        base, _ = next(service)
        api = httpx.Client(base_url=base, timeout=30)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        opened, today = case.opened_on.isoformat(), clock.today(settings.timezone)

        def post(case_id: int, **body: object) -> tuple[int, str]:
            answer = api.post(f"/v1/cases/{case_id}/steps", headers=auth,
                              json={"step": "risk_control", "done_on": opened, "done_by": "张三"} | body)
            return answer.status_code, answer.text

        assert post(999_999)[0] == 404
        status, reason = post(case.id, step="no_such_step")
        assert status == 422
        assert "unknown step" in reason
        assert "out of order" in post(case.id, step="review_window")[1]
        assert "before the failure" in post(case.id, done_on=(case.opened_on - timedelta(days=1)).isoformat())[1]
        assert "in the future" in post(case.id, done_on=(today + timedelta(days=1)).isoformat())[1]
        assert api.post(f"/v1/cases/{case.id}/steps", json={"step": "risk_control", "done_on": opened,
                                                            "done_by": "x"}).status_code == 401
        # without a token, nothing of the request is checked: a stranger learns no field or path rule
        assert api.post("/v1/cases/not-a-number/steps", json={"unknown": 1}).status_code == 401
        assert api.post(f"/v1/cases/{case.id}/steps", headers=auth,
                        json={"step": "risk_control", "done_on": "yesterday", "done_by": "x"}).status_code == 422
        assert count(db, f"SELECT count(*) FROM case_steps WHERE case_id = {case.id} AND done_on IS NOT NULL") == 0
        assert post(case.id) == post(case.id)  # a retried request: the same answer, recorded once
        assert count(db, f"SELECT count(*) FROM case_steps WHERE case_id = {case.id} AND done_on IS NOT NULL") == 1
        paths = api.get("/openapi.json").json()["paths"]
        assert "/v1/cases/{case_id}/steps" in paths
        next(service, None)


class TestNotices:
    def test_an_overdue_case_notifies_once_through_a_webhook_and_appears_in_the_digest(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings, tmp_path: Path
    ) -> None:
        receiver = WebhookReceiver()
        channels_file = tmp_path / "channels.yaml"
        channels_file.write_text(
            f"channels:\n  - {{name: county-duty, type: webhook, url: '{receiver.url}', regions: ['421083'],"
            f" plans: [cases], group_wait_s: 0}}\n", encoding="utf-8")
        channels = load_channels(channels_file)
        try:
            writer.write(writer.records([failed("F-6", 40)]))  # reported 35 days ago: early steps overdue
            for _ in range(3):  # however often the sweep runs: once
                run_sweep(db, settings, channels, hour=9)
            rows = db.execute("SELECT payload->>'kind', payload->>'step', payload->>'state' FROM notification_outbox"
                              " ORDER BY id").fetchall()
            steps = sorted((kind, step) for kind, step, _ in rows if kind == "case_step")
            assert steps == [("case_step", "risk_control"), ("case_step", "serve_conclusion")]
            assert [kind for kind, _, _ in rows].count("case_digest") == 1
            notifier = Notifier(settings.dsn, {c.name: c for c in channels.channels}, CollectorRegistry(),
                                renderer(channels))
            assert notifier.deliver_due() == 1  # one message for the bureau: both steps and the digest
            assert notifier.deliver_due() == 0
            [message] = receiver.received
            assert message["title"].startswith("【核查处置·超期】洪湖市 2项已超期")
            kinds = sorted(n["kind"] for n in message["notices"])
            assert kinds == ["case_digest", "case_step", "case_step"]
        finally:
            receiver.stop()

    def test_a_silence_for_the_cases_plan_mutes_a_bureau_s_notices(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings
    ) -> None:
        channels = ChannelsConfig.model_validate({"channels": [
            {"name": "duty", "type": "webhook", "url": "http://127.0.0.1:9/hook", "plans": ["cases"]}]})
        db.execute("INSERT INTO silences (plan_id, region_code, until, reason, created_by)"
                   " VALUES ('cases', '421083', %s, 'inspection week', 'test')",
                   (datetime.now(UTC) + timedelta(days=1),))
        writer.write(writer.records([failed("F-7", 40)]))
        run_sweep(db, settings, channels)
        assert count(db, "SELECT count(*) FROM notification_outbox") == 0
        db.execute("UPDATE silences SET expired_at = now()")  # the silence ends: the notices go out
        run_sweep(db, settings, channels)
        assert count(db, "SELECT count(*) FROM notification_outbox") > 0
        assert count(db, "SELECT count(*) FROM case_steps WHERE due_on IS NOT NULL") >= 3  # still tracked


class TestUpgrade:
    def test_recent_failures_stored_before_cases_existed_get_their_cases(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings
    ) -> None:
        writer.write(writer.records([failed("OLD-1", 20), failed("OLDER-1", 200)]))
        db.execute("DELETE FROM cases")  # as after upgrading to migration 013
        run_sweep(db, settings)
        run_sweep(db, settings)
        assert [r[0] for r in db.execute("SELECT sample_id FROM cases").fetchall()] == ["OLD-1"]
        assert find_case(db, "OLD-1").steps  # with deadlines
