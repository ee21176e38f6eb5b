"""Follow-up cases (核查处置) on the real stack: opened by the worker's transaction, deadlines from the official
calendar, progress by CLI, API and spreadsheet with clear refusals, overdue notices once through the outbox and
the digest (issue #17)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
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
from producers.kafka_sink import ResultSink
from qsmon import clock
from qsmon.case_rules import load_table
from qsmon.plans import presets
from qsmon.schema import InspectionResult
from qsmon.settings import Settings
from qsmon.storage import connect
from qsmon.storage.retention import apply_retention
from qsmon.topics import ensure_topics
from qsmon.workdays import add_working_days, package_coverage
from reports.data import gather
from reports.tables import cases as cases_table
from tests.factories import result
from tests.workers import DirectWriter, WorkerProcess, reader_dsn, run_cli, serve_ingest, wait_until

pytestmark = pytest.mark.integration
TOKEN = "case-token-0123456789"


@pytest.fixture
def writer(settings: Settings) -> Iterator[DirectWriter]:
    w = DirectWriter(settings)
    yield w
    w.close()


def failed(sample: str, days_ago: int) -> InspectionResult:
    return result(
        sample,
        verdict="fail",
        at=clock.now() - timedelta(days=days_ago),
        region="421083",
        product="小白菜",
        manufacturer="洪湖某农业合作社",
    )


def run_sweep(
    db: psycopg.Connection, settings: Settings, channels: ChannelsConfig | None = None, hour: int = 9
) -> None:
    """One case sweep at ``hour`` local time (the digest goes out from 8)."""
    sweep = CaseSweep(
        load_table(),
        list((channels or ChannelsConfig()).channels),
        soon_working_days=2,
        digest_hour=8,
        timezone=settings.timezone,
    )
    sweep.run(db, clock.now(), clock.today(settings.timezone), hour)


def count(db: psycopg.Connection, sql: str) -> int:
    row = db.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


class TestOpening:
    def test_a_failure_opens_exactly_one_case_even_when_redelivered(
        self, writer: DirectWriter, db: psycopg.Connection
    ) -> None:
        records = writer.records(
            [
                failed("F-1", 3),
                result("P-1"),
                result("E-1", verdict="fail", category="engineering", sampling_type="acceptance"),
            ]
        )
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
        writer.write(
            writer.records(
                [result("F-2", revision=2, verdict="pass", region="421083", at=clock.now() - timedelta(days=10))]
            )
        )
        case = find_case(db, "F-2")
        assert (case.status, case.revision) == ("overturned", 2)
        assert case.closed_on is not None
        # The pass rate counts the final verdict; the failure left the current failures too.
        assert count(db, "SELECT count(*) FROM failure_current WHERE sample_id = 'F-2'") == 0


class TestDeadlines:
    def test_the_worker_writes_each_step_s_deadline_with_the_case_and_the_sql_state_agrees_with_python(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings
    ) -> None:
        writer.write(writer.records([failed("F-3", 20)]))  # no sweep: the steps came with the case
        case = find_case(db, "F-3")
        assert [s.step for s in case.steps] == [s.id for s in load_table().categories["food"].steps]
        serve = next(s for s in case.steps if s.step == "serve_conclusion")
        assert serve.basis.startswith("第二十九条")
        assert serve.due_on is not None
        days = [case.opened_on + timedelta(days=d) for d in range(-2, 100, 3)]
        for s in case.steps:
            for day in days:
                for done in (None, s.due_on, (s.due_on + timedelta(days=1)) if s.due_on else None):
                    sql = db.execute(
                        "SELECT case_step_state(%s, %s, %s, %s)", (done, s.due_on, s.soon_on, day)
                    ).fetchone()
                    assert sql is not None
                    assert sql[0] == step_state(done, s.due_on, s.soon_on, day).value, (s.step, day, done)


class TestWrittenWithTheCase:
    def test_a_step_recorded_right_after_the_worker_stores_a_failure_is_kept_via_cli_and_api(
        self, settings: Settings, db: psycopg.Connection, tmp_path: Path
    ) -> None:
        """The real worker, no alert service: each case has its steps and deadlines the moment it exists."""
        ensure_topics(settings)
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        service = serve_ingest(settings, tokens=(TOKEN,), routers=[router])
        base, _ = next(service)
        try:
            with ResultSink(settings) as sink:
                sink.send_all([failed("W-1", 2), failed("W-2", 2)])
            wait_until(lambda: count(db, "SELECT count(*) FROM cases") == 2, 60, "the worker to open both cases")
            one, two = find_case(db, "W-1"), find_case(db, "W-2")
            day = one.opened_on.isoformat()
            cli = run_cli(
                settings, "cases", "record", str(one.id), "--step", "risk_control", "--on", day, "--by", "张三"
            )
            answer = httpx.post(
                f"{base}/v1/cases/{two.id}/steps",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={"step": "risk_control", "done_on": day, "done_by": "李四"},
                timeout=30,
            )
        finally:
            assert worker.terminate() == 0
            next(service, None)
        assert cli.returncode == 0, cli.stderr
        assert answer.status_code == 200, answer.text
        assert count(db, "SELECT count(*) FROM notification_outbox") == 0  # no sweep ran
        for case in (find_case(db, "W-1"), find_case(db, "W-2")):
            risk = next(s for s in case.steps if s.step == "risk_control")
            assert (risk.done_on, risk.recorded_via) == (
                case.opened_on,
                "cli" if case.sample_id == "W-1" else "api:configured:1",
            )  # the API names its sender
            serve = next(s for s in case.steps if s.step == "serve_conclusion")
            assert serve.due_on is not None  # before any sweep
            assert serve.due_on > case.opened_on  # 5 working days
        listed = run_cli(settings, "cases", "list", "--json")
        assert [r["due_on"] is not None for r in json.loads(listed.stdout)] == [True, True]

    def test_recording_a_step_the_case_does_not_have_is_an_error_and_changes_nothing(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings
    ) -> None:
        writer.write(writer.records([failed("F-9", 3)]))
        case = find_case(db, "F-9")
        db.execute("DELETE FROM case_steps WHERE case_id = %s AND step = 'risk_control'", (case.id,))
        service = serve_ingest(settings, tokens=(TOKEN,), routers=[router])
        base, _ = next(service)
        try:
            answer = httpx.post(
                f"{base}/v1/cases/{case.id}/steps",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={"step": "risk_control", "done_on": case.opened_on.isoformat(), "done_by": "李四"},
                timeout=30,
            )
        finally:
            next(service, None)
        assert answer.status_code == 422
        assert "no such step written" in answer.text
        cli = run_cli(
            settings,
            "cases",
            "record",
            str(case.id),
            "--step",
            "risk_control",
            "--on",
            case.opened_on.isoformat(),
            "--by",
            "张三",
        )
        assert cli.returncode != 0
        assert "no such step written" in cli.stderr + cli.stdout
        assert count(db, f"SELECT count(*) FROM case_steps WHERE case_id = {case.id} AND done_on IS NOT NULL") == 0

    def test_cases_list_says_how_many_it_left_out_and_pages_on(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings
    ) -> None:
        writer.write(writer.records([failed(f"L-{i}", 10 - i) for i in range(3)]))
        first = run_cli(settings, "cases", "list", "--limit", "2")
        assert first.returncode == 0, first.stderr
        assert "2 case(s) (1 of 3 case(s) not shown; next page: --offset 2)" in first.stdout
        rest = run_cli(settings, "cases", "list", "--limit", "2", "--offset", "2", "--json")
        assert [r["sample_id"] for r in json.loads(rest.stdout)] == ["L-2"]
        assert "2 of 3 case(s) not shown" in rest.stderr


class TestProgress:
    def test_progress_by_cli_api_and_spreadsheet_shows_in_cases_show(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings, tmp_path: Path
    ) -> None:
        writer.write(writer.records([failed("F-4", 12)]))  # no alert service, no sweep: all counted from the steps
        case = find_case(db, "F-4")
        opened = case.opened_on
        cli = run_cli(
            settings,
            "cases",
            "record",
            str(case.id),
            "--step",
            "risk_control",
            "--on",
            opened.isoformat(),
            "--by",
            "张三",
            "--note",
            "已下架封存",
        )
        assert cli.returncode == 0, cli.stderr

        service = serve_ingest(settings, tokens=(TOKEN,), routers=[router])
        base, _ = next(service)
        answer = httpx.post(
            f"{base}/v1/cases/{case.id}/steps",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={
                "step": "serve_conclusion",
                "done_on": opened.isoformat(),
                "done_by": "李四",
                "attachment": "鄂市监抽通〔2026〕12号",
            },
        )
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
        by_county = expand(
            CASES_BY_COUNTY, {"plan": "jingzhou-2023", "region": "421000"}, now - timedelta(days=30), now
        )
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
        case = find_case(db, "F-5")
        service = serve_ingest(settings, tokens=(TOKEN,), routers=[router])
        base, _ = next(service)
        api = httpx.Client(base_url=base, timeout=30)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        opened, today = case.opened_on.isoformat(), clock.today(settings.timezone)

        def post(case_id: int, **body: object) -> tuple[int, str]:
            answer = api.post(
                f"/v1/cases/{case_id}/steps",
                headers=auth,
                json={"step": "risk_control", "done_on": opened, "done_by": "张三"} | body,
            )
            return answer.status_code, answer.text

        assert post(999_999)[0] == 404
        status, reason = post(case.id, step="no_such_step")
        assert status == 422
        assert "unknown step" in reason
        assert "out of order" in post(case.id, step="review_window")[1]
        assert "before the failure" in post(case.id, done_on=(case.opened_on - timedelta(days=1)).isoformat())[1]
        assert "in the future" in post(case.id, done_on=(today + timedelta(days=1)).isoformat())[1]
        assert (
            api.post(
                f"/v1/cases/{case.id}/steps", json={"step": "risk_control", "done_on": opened, "done_by": "x"}
            ).status_code
            == 401
        )
        # without a token, nothing of the request is checked: a stranger learns no field or path rule
        assert api.post("/v1/cases/not-a-number/steps", json={"unknown": 1}).status_code == 401
        assert (
            api.post(
                f"/v1/cases/{case.id}/steps",
                headers=auth,
                json={"step": "risk_control", "done_on": "yesterday", "done_by": "x"},
            ).status_code
            == 422
        )
        assert count(db, f"SELECT count(*) FROM case_steps WHERE case_id = {case.id} AND done_on IS NOT NULL") == 0
        assert post(case.id) == post(case.id)  # a retried request: the same answer, recorded once
        assert count(db, f"SELECT count(*) FROM case_steps WHERE case_id = {case.id} AND done_on IS NOT NULL") == 1
        paths = api.get("/openapi.json").json()["paths"]
        assert "/v1/cases/{case_id}/steps" in paths
        next(service, None)


class TestRecallLevels:
    def test_a_level_1_recall_gets_its_24_hour_and_10_working_day_deadlines(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings
    ) -> None:
        writer.write(writer.records([failed("R-1", 2)]))
        case = find_case(db, "R-1")
        day = case.opened_on.isoformat()
        wrong = run_cli(
            settings,
            "cases",
            "record",
            str(case.id),
            "--step",
            "serve_conclusion",
            "--on",
            day,
            "--by",
            "张三",
            "--recall-level",
            "一级",
        )
        assert wrong.returncode == 1
        assert "risk-control step only" in wrong.stderr
        done = run_cli(
            settings,
            "cases",
            "record",
            str(case.id),
            "--step",
            "risk_control",
            "--on",
            day,
            "--by",
            "张三",
            "--recall-level",
            "一级",
            "--note",
            "责令一级召回",
        )
        assert done.returncode == 0, done.stderr
        case = find_case(db, "R-1")
        assert case.recall_level == "level_1"
        steps = {s.step: s for s in case.steps}
        assert steps["recall_start"].due_on == case.opened_on + timedelta(days=1)  # 24 h
        assert steps["recall_start"].basis.startswith("第十三条")
        assert steps["recall_complete"].due_on is None  # counts from the announcement, not made yet
        other = run_cli(
            settings,
            "cases",
            "record",
            str(case.id),
            "--step",
            "risk_control",
            "--on",
            day,
            "--by",
            "张三",
            "--recall-level",
            "二级",
        )
        assert other.returncode == 1
        assert "another recall level" in other.stderr
        announced = run_cli(
            settings,
            "cases",
            "record",
            str(case.id),
            "--step",
            "recall_start",
            "--on",
            day,
            "--by",
            "某食品公司",
            "--attachment",
            "召回公告",
        )
        assert announced.returncode == 0, announced.stderr
        complete = next(s for s in find_case(db, "R-1").steps if s.step == "recall_complete")
        assert complete.due_on == add_working_days(case.opened_on, 10)[0]
        assert complete.basis.startswith("第十六条")
        shown = run_cli(settings, "cases", "show", str(case.id))
        assert "召回级别: 一级召回" in shown.stdout

    def test_a_workbook_records_the_level_and_names_the_recall_steps_in_chinese(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings, tmp_path: Path
    ) -> None:
        writer.write(writer.records([failed("R-2", 2)]))
        day = find_case(db, "R-2").opened_on.isoformat()
        sheet = tmp_path / "核查处置情况.csv"
        sheet.write_text(
            "抽样编号,步骤,完成日期,经办人,召回级别\n"
            f"R-2,风险控制(封存、下架、召回),{day},张三,二级\n"
            f"R-2,二级召回:启动召回并发布召回公告,{day},某食品公司,\n",
            encoding="utf-8",
        )
        imported = run_cli(settings, "cases", "import", str(sheet))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        case = find_case(db, "R-2")
        assert case.recall_level == "level_2"
        complete = next(s for s in case.steps if s.step == "recall_complete")
        assert complete.due_on == add_working_days(case.opened_on, 20)[0]


class TestAssist:
    def test_a_failure_made_in_another_city_sends_one_assist_notice_to_that_city_s_channel(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings, tmp_path: Path
    ) -> None:
        receiver = WebhookReceiver()
        channels = ChannelsConfig.model_validate(
            {
                "channels": [
                    {
                        "name": "honghu",
                        "type": "webhook",
                        "url": receiver.url,
                        "plans": ["cases"],
                        "regions": ["421083"],
                        "group_wait_s": 0,
                    },
                    {
                        "name": "wuhan",
                        "type": "webhook",
                        "url": receiver.url,
                        "plans": ["cases"],
                        "regions": ["420100"],
                        "group_wait_s": 0,
                    },
                ]
            }
        )
        try:
            writer.write(
                writer.records(
                    [
                        result(
                            "A-1",
                            verdict="fail",
                            at=clock.now() - timedelta(days=1),
                            region="421083",
                            product="腊肠",
                            manufacturer="武汉某食品有限公司",
                            manufacturer_region_code="420102",
                        ),
                        result(
                            "A-2",
                            verdict="fail",
                            at=clock.now() - timedelta(days=1),
                            region="421083",
                            product="莲藕",
                            manufacturer="洪湖某合作社",
                            manufacturer_region_code="421083",
                        ),
                    ]
                )
            )
            made_elsewhere, made_here = find_case(db, "A-1"), find_case(db, "A-2")
            steps = {s.step: s for s in made_elsewhere.steps}
            assert steps["assist_sent"].due_on == add_working_days(made_elsewhere.opened_on, 5)[0]
            assert steps["assist_reply"].due_on is None  # counts from the 协查 being sent
            assert "assist_sent" not in {s.step for s in made_here.steps}
            for _ in range(3):
                run_sweep(db, settings, channels, hour=6)  # before the digest hour
            rows = db.execute(
                "SELECT channel, case_id FROM notification_outbox WHERE payload->>'kind' = 'case_assist'"
            ).fetchall()
            assert rows == [("wuhan", made_elsewhere.id)]
            db.execute("DELETE FROM notification_outbox")  # retention, say: the fact is kept with the case
            run_sweep(db, settings, channels, hour=6)
            assert count(db, "SELECT count(*) FROM notification_outbox WHERE payload->>'kind' = 'case_assist'") == 0
            shown = run_cli(settings, "cases", "show", str(made_elsewhere.id))
            assert "协查发出" in shown.stdout
            assert "江岸区" in shown.stdout
        finally:
            receiver.stop()

    def test_the_assist_notice_reads_as_a_request_to_the_manufacturer_s_bureau(self) -> None:
        from cases.messages import render

        message = render(
            [
                {
                    "kind": "case_assist",
                    "case_id": 1,
                    "sample_id": "A-1",
                    "region": "421083",
                    "region_name": "洪湖市",
                    "made_in": "420102",
                    "made_in_name": "江岸区",
                    "category": "food",
                    "product": "腊肠",
                    "firm": "武汉某食品有限公司",
                    "opened_on": "2026-12-01",
                    "due_on": "2026-12-08",
                    "reply_basis": "30个工作日",
                }
            ]
        )
        assert message is not None
        assert message.title == "【协查】江岸区 1件不合格产品的生产者在贵辖区"
        assert "洪湖市抽检不合格:腊肠 武汉某食品有限公司" in message.markdown


class TestEscalation:
    def test_a_step_overdue_by_its_working_days_escalates_once_to_the_city_s_channel(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings
    ) -> None:
        receiver = WebhookReceiver()
        channels = ChannelsConfig.model_validate(
            {
                "channels": [
                    {
                        "name": "honghu",
                        "type": "webhook",
                        "url": receiver.url,
                        "plans": ["cases"],
                        "regions": ["421083"],
                        "group_wait_s": 0,
                    },
                    {
                        "name": "jingzhou-leader",
                        "type": "webhook",
                        "url": receiver.url,
                        "plans": ["cases-escalation"],
                        "regions": ["421000"],
                        "group_wait_s": 0,
                    },
                ]
            }
        )
        try:
            writer.write(writer.records([failed("E-1", 40), failed("E-2", 1)]))  # reported 35 days ago, and today
            for _ in range(3):
                run_sweep(db, settings, channels, hour=6)
            rows = db.execute(
                "SELECT channel, payload->>'sample_id', payload->>'step' FROM notification_outbox"
                " WHERE payload->>'kind' = 'case_escalation' ORDER BY 3"
            ).fetchall()
            # risk_control escalates 1 working day overdue, serve_conclusion 3: both long past for E-1.
            assert rows == [("jingzhou-leader", "E-1", "risk_control"), ("jingzhou-leader", "E-1", "serve_conclusion")]
            honghu = db.execute(
                "SELECT DISTINCT payload->>'kind' FROM notification_outbox WHERE channel = 'honghu'"
            ).fetchall()
            assert honghu == [("case_step",)]  # the county hears of its overdue steps, not of the escalation
            notifier = Notifier(
                settings.dsn, {c.name: c for c in channels.channels}, CollectorRegistry(), renderer(channels)
            )
            notifier.deliver_due()
            titles = sorted(m["title"] for m in receiver.received)
            assert "【核查处置·督办】洪湖市 2项超期未办结" in titles
            db.execute("DELETE FROM notification_outbox")  # retention: the escalation is kept with the step
            run_sweep(db, settings, channels, hour=6)
            assert count(db, "SELECT count(*) FROM notification_outbox") == 0
            assert count(db, "SELECT count(*) FROM case_steps WHERE escalated_at IS NOT NULL") == 2
        finally:
            receiver.stop()


FIXTURE_2027 = Path(__file__).resolve().parents[1] / "fixtures" / "workdays-2027-fixture.yaml"  # a test fixture


class TestCalendarFile:
    def test_a_2027_calendar_file_changes_a_deadline_across_the_spring_festival_and_without_it_a_warning(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings
    ) -> None:
        """On 3 February 2027 (QSMON_CLOCK), two bureaus serve their conclusions; the 复检、异议 window is 7 working
        days. The one whose CLI reads the 2027 file (a test fixture, not the published notice) counts the holiday
        and its make-up Sunday; the other counts Monday to Friday and says provisional."""
        writer.write(writer.records([failed("SF-1", 3), failed("SF-2", 3)]))
        on_the_day = {"QSMON_CLOCK": "2027-02-03T10:00:00+08:00"}
        with_file = on_the_day | {"QSMON_WORKDAYS_FILE": str(FIXTURE_2027)}
        for sample, env in (("SF-1", with_file), ("SF-2", on_the_day)):
            case = find_case(db, sample)
            for step in ("risk_control", "serve_conclusion"):
                done = run_cli(
                    settings,
                    "cases",
                    "record",
                    str(case.id),
                    "--step",
                    step,
                    "--on",
                    "2027-02-03",
                    "--by",
                    "张三",
                    extra_env=env,
                )
                assert done.returncode == 0, done.stderr
        windows = {
            sample: next(s for s in find_case(db, sample).steps if s.step == "review_window")
            for sample in ("SF-1", "SF-2")
        }
        assert (windows["SF-1"].due_on, windows["SF-1"].provisional) == (date(2027, 2, 19), False)
        if package_coverage()[1] < 2027:  # without the file, nothing knows 2027
            assert (windows["SF-2"].due_on, windows["SF-2"].provisional) == (date(2027, 2, 12), True)

        november = {"QSMON_CLOCK": "2026-11-02T09:00:00+08:00"}
        missing = run_cli(settings, "workdays", "check", extra_env=november)
        assert missing.returncode == 1
        assert "lacks 2027" in missing.stderr
        known = run_cli(
            settings, "workdays", "check", "--json", extra_env=november | {"QSMON_WORKDAYS_FILE": str(FIXTURE_2027)}
        )
        assert known.returncode == 0, known.stderr
        assert json.loads(known.stdout)["years"][-1]["year"] == 2027


class TestNotices:
    def test_an_overdue_case_notifies_once_through_a_webhook_and_appears_in_the_digest(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings, tmp_path: Path
    ) -> None:
        receiver = WebhookReceiver()
        channels_file = tmp_path / "channels.yaml"
        channels_file.write_text(
            f"channels:\n  - {{name: county-duty, type: webhook, url: '{receiver.url}', regions: ['421083'],"
            f" plans: [cases], group_wait_s: 0}}\n",
            encoding="utf-8",
        )
        channels = load_channels(channels_file)
        try:
            writer.write(writer.records([failed("F-6", 40)]))  # reported 35 days ago: early steps overdue
            for _ in range(3):  # however often the sweep runs: once
                run_sweep(db, settings, channels, hour=9)
            rows = db.execute(
                "SELECT payload->>'kind', payload->>'step', payload->>'state' FROM notification_outbox ORDER BY id"
            ).fetchall()
            steps = sorted((kind, step) for kind, step, _ in rows if kind == "case_step")
            assert steps == [("case_step", "risk_control"), ("case_step", "serve_conclusion")]
            assert [kind for kind, _, _ in rows].count("case_digest") == 1
            notifier = Notifier(
                settings.dsn, {c.name: c for c in channels.channels}, CollectorRegistry(), renderer(channels)
            )
            assert notifier.deliver_due() == 1  # one message for the bureau: both steps and the digest
            assert notifier.deliver_due() == 0
            [message] = receiver.received
            assert message["title"].startswith("【核查处置·超期】洪湖市 2项已超期")
            kinds = sorted(n["kind"] for n in message["notices"])
            assert kinds == ["case_digest", "case_step", "case_step"]
        finally:
            receiver.stop()

    def test_a_notice_is_not_repeated_after_retention_deleted_its_outbox_row(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings
    ) -> None:
        channels = ChannelsConfig.model_validate(
            {"channels": [{"name": "duty", "type": "webhook", "url": "http://127.0.0.1:9/hook", "plans": ["cases"]}]}
        )
        writer.write(writer.records([failed("F-8", 40)]))
        run_sweep(db, settings, channels, hour=6)  # before the digest hour: step notices only
        assert count(db, "SELECT count(*) FROM notification_outbox") == 2
        # Delivered long ago: retention deletes the rows, and with them their idempotency keys.
        db.execute("UPDATE notification_outbox SET delivered_at = now() - interval '400 days'")
        assert apply_retention(db, settings).outbox_rows_deleted == 2
        for _ in range(3):
            run_sweep(db, settings, channels, hour=6)
        assert count(db, "SELECT count(*) FROM notification_outbox") == 0
        assert count(db, "SELECT count(*) FROM case_steps WHERE overdue_noticed_at IS NOT NULL") == 2

    def test_a_silence_for_the_cases_plan_mutes_a_bureau_s_notices(
        self, writer: DirectWriter, db: psycopg.Connection, settings: Settings
    ) -> None:
        channels = ChannelsConfig.model_validate(
            {"channels": [{"name": "duty", "type": "webhook", "url": "http://127.0.0.1:9/hook", "plans": ["cases"]}]}
        )
        db.execute(
            "INSERT INTO silences (plan_id, region_code, until, reason, created_by)"
            " VALUES ('cases', '421083', %s, 'inspection week', 'test')",
            (datetime.now(UTC) + timedelta(days=1),),
        )
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
        writer.write(writer.records([failed("OLD-1", 20), failed("OLDER-1", 200), failed("STEPLESS-1", 5)]))
        # As after upgrading to migration 013, and a case a worker before 030 opened without its steps.
        db.execute("DELETE FROM case_steps WHERE case_id IN (SELECT id FROM cases WHERE sample_id <> 'STEPLESS-1')")
        db.execute("DELETE FROM cases WHERE sample_id <> 'STEPLESS-1'")
        db.execute("DELETE FROM case_steps")
        run_sweep(db, settings)
        run_sweep(db, settings)
        assert sorted(r[0] for r in db.execute("SELECT sample_id FROM cases").fetchall()) == ["OLD-1", "STEPLESS-1"]
        assert find_case(db, "OLD-1").steps  # with deadlines
        assert find_case(db, "STEPLESS-1").steps
