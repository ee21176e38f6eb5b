"""What the stored results become: alerts and notifications, status, dashboards, the monthly report."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from pydantic import SecretStr

from cli._common import CHECKOUT, LOCAL_STACK_DIR, LOCAL_STACK_SCRIPT
from cli.demo.console import step, wait_stored
from qsmon import clock
from qsmon.schema import InspectionResult
from qsmon.settings import Settings
from qsmon.vocab import Category, SamplingType, Stage, Verdict

if TYPE_CHECKING:
    from notify.testing import WebhookReceiver
    from reports.data import MonthlyReport

REFERENCE_EXAMPLE = CHECKOUT / "deploy" / "examples" / "reference-figures.yaml"


def demo_alerts(settings: Settings) -> None:
    """Plan indicators evaluated live: one grouped message per change, to a webhook and Alertmanager."""
    import tempfile
    import threading

    import httpx

    from alerts.messages import group_message
    from alerts.service import run_service
    from notify.routing import DEFAULT_INHIBIT_RULES
    from notify.testing import StuckReceiver, WebhookReceiver

    step("Alerts (qsmon alerts run): the plan in force evaluated live, one grouped message per change")
    _load_rules_into_prometheus(settings)
    receiver = WebhookReceiver()
    robot = WebhookReceiver(reply=b'{"errcode": 0}')  # the duty officer's DingTalk group
    stuck = StuckReceiver()  # a robot gateway that takes the request and never finishes answering
    alertmanager = settings.alertmanager_url.get_secret_value()
    with tempfile.TemporaryDirectory() as tmp:
        channels = Path(tmp) / "channels.yaml"
        channels.write_text(
            f"channels:\n  - {{name: duty, type: webhook, url: '{receiver.url}', plans: [jingzhou-2023],"
            f" group_wait_s: 5, group_interval_s: 5}}"
            f"\n  - {{name: am, type: alertmanager, url: '{alertmanager}', plans: [jingzhou-2023]}}"
            f"\n  - {{name: robot, type: dingtalk, url: '{robot.url}', plans: [jingzhou-2023], group_wait_s: 5}}"
            f"\n  - {{name: stuck-robot, type: wecom, url: '{stuck.url}', plans: [jingzhou-2023], group_wait_s: 0,"
            f" timeout_s: 2}}\n",
            encoding="utf-8",
        )
        configured = settings.model_copy(
            update={
                "channels_file": channels,
                "active_plans": ("jingzhou-2023",),
                "alerts_hold_seconds": 5.0,
                "alerts_sweep_seconds": 3.0,
                "alerts_group": f"qsmon-demo-alerts-{int(time.time())}",
                "ack_secret": SecretStr(secrets.token_urlsafe(24)),
                "ack_link_url": f"http://{settings.api_host}:{settings.api_port}",
            }
        )
        stop = threading.Event()
        service = threading.Thread(target=run_service, args=(configured, stop), kwargs={"metrics": False}, daemon=True)
        service.start()
        try:
            _wait_for(lambda: bool(receiver.received), 30)
            if not receiver.received:
                typer.echo("   no new alert fired (a re-run: earlier alerts are still open, see qsmon alerts list)")
            else:
                message = receiver.received[0]
                typer.echo(f"   message 1 of the incident: {len(message['alerts'])} changes in one message:")
                rendered = group_message(message["alerts"], DEFAULT_INHIBIT_RULES)
                for line in (rendered.markdown if rendered else "").splitlines():
                    typer.echo(f"     {line}")
                _acknowledge_from_the_link(configured, robot)
            _show_stuck_channel(configured, stuck.requests)
            active = httpx.get(
                f"{alertmanager}/api/v2/alerts", params={"filter": 'plan="jingzhou-2023"'}, timeout=10
            ).json()
            typer.echo(
                f"   Alertmanager (API v2) holds {len(active)} alerts for the plan, one per indicator × region"
                " × window, and groups them itself"
            )
            typer.echo("   the incident ends: 洪湖市 re-inspections and new samples pass …")
            before = len(receiver.received)
            _recover_honghu(settings)
            _wait_for(
                lambda: any(
                    a["transition"] == "resolved" and a["region"] == "421083"
                    for m in receiver.received[before:]
                    for a in m["alerts"]
                ),
                60,
            )
            resolved = [a for m in receiver.received[before:] for a in m["alerts"] if a["transition"] == "resolved"]
            examples = ", ".join(f"{a['region_name']} {a['indicator_name']} {a['window_label']}" for a in resolved[:2])
            typer.echo(
                f"   {len(resolved)} alerts resolved after the 5 s hold, e.g. {examples}"
                if resolved
                else "   no alert resolved in this run (a re-run: resolved before)"
            )
            typer.echo(f"   the duty webhook received {len(receiver.received)} messages in all")
        finally:
            stop.set()
            service.join(timeout=30)
            receiver.stop()
            robot.stop()
            stuck.stop()


def _acknowledge_from_the_link(settings: Settings, robot: WebhookReceiver) -> None:
    """The duty officer opens the 确认告警 link of the robot message and acknowledges (as POST /v1/ack does)."""
    import re

    from alerts.acks import redeem, verify
    from alerts.exceptions import AckLinkUsedError
    from qsmon.exceptions import QsmonError
    from qsmon.storage import connect

    _wait_for(lambda: bool(robot.received), 15)
    text = str(robot.received[0]["markdown"]["text"]) if robot.received else ""
    found = re.search(r"\[确认告警\]\((\S+?/v1/ack\?t=(\S+?))\)", text)
    if settings.ack_secret is None or found is None:
        typer.echo("   (no acknowledge link in the robot message)")
        return
    token = found.group(2).replace("%3D", "=")
    try:
        claim = verify(settings.ack_secret.get_secret_value(), token, clock.now())
        with connect(settings.dsn) as conn:
            done = redeem(conn, claim, "值班员张三", clock.now())
        typer.echo(
            f"   the DingTalk message's 确认告警 link ({found.group(1)[:48]}…) acknowledged {len(done)}"
            " alerts as 值班员张三: no reminders until they change; later messages say 已确认:值班员张三"
        )
        with connect(settings.dsn) as conn:
            redeem(conn, claim, "值班员张三", clock.now())
    except AckLinkUsedError as exc:
        typer.echo(f"   the same link a second time: refused ({exc.message})")
    except QsmonError as exc:
        typer.echo(f"   the link acknowledged nothing: {exc.message}")


def _show_stuck_channel(settings: Settings, requests: int) -> None:
    """What the hung robot cost: its own delivery, recorded failed and retried later, and nothing else."""
    from qsmon.storage import connect

    with connect(settings.dsn) as conn:
        row = conn.execute(
            "SELECT count(*), max(attempts), max(last_error) FROM notification_outbox"
            " WHERE channel = 'stuck-robot' AND delivered_at IS NULL"
        ).fetchone()
    if row and row[0]:
        typer.echo(
            f"   a robot that never finishes answering ({requests} request(s) taken) held up no other channel:"
            f" its {row[0]} change(s) wait, attempt {row[1]}, '{row[2]}', retried with backoff"
        )


def _wait_for(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1)


def _load_rules_into_prometheus(settings: Settings) -> None:
    """The rules generated from the plans, into the local Prometheus (reloaded by SIGHUP: no lifecycle API)."""
    import httpx

    from alerts.prom_rules import rules_yaml
    from qsmon.plans import presets

    rules_dir = LOCAL_STACK_DIR / "prometheus" / "rules"
    if not rules_dir.is_dir():
        return
    (rules_dir / "qsmon.yml").write_text(rules_yaml(presets(settings.plans_dir).values()), encoding="utf-8")
    prometheus = settings.prometheus_url.get_secret_value()
    subprocess.run(["bash", str(LOCAL_STACK_SCRIPT), "reload", "prometheus"], check=True)
    time.sleep(1)  # the reload is asynchronous
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    typer.echo(
        f"   Prometheus loaded {sum(len(g['rules']) for g in groups)} generated rules (qsmon alerts prometheus-rules)"
    )


def _recover_honghu(settings: Settings) -> None:
    from producers.kafka_sink import ResultSink

    now = clock.now()
    with ResultSink(settings, client_id="qsmon-demo") as sink:
        for i in range(1500):
            sink.send(
                InspectionResult(
                    sample_id=f"DEMO-RECOVERY-{i:05d}",
                    sampled_at=now - timedelta(hours=1 + i % 200),
                    reported_at=now,
                    category=Category.AGRICULTURAL,
                    subcategory="蔬菜",
                    sampling_type=SamplingType.ROUTINE_MONITORING,
                    stage=Stage.DISTRIBUTION,
                    region_code="421083",
                    product="莲藕",
                    verdict=Verdict.PASS,
                    source="demo",
                )
            )
    wait_stored(settings)


def demo_status(settings: Settings) -> None:
    from indicators.counting import shown_text
    from qsmon.storage import connect

    step("Status (qsmon status --plan jingzhou-2023): the city-wide figures per indicator, rolling 30 days")
    with connect(settings.dsn) as conn:
        rows = conn.execute(
            "SELECT indicator_id, tested, value, low, high, op, target, state FROM indicator_evaluations"
            " WHERE plan_id = 'jingzhou-2023' AND region_code = '421000' AND subcategory = ''"
            " AND window_name IN ('rolling_30d', 'quarter_to_date') ORDER BY indicator_id"
        ).fetchall()
    for indicator, tested, value, low, high, op, target, state in rows:
        figure = "—" if value is None else f"{shown_text(value, '')} [{low:.1f}–{high:.1f}]"
        typer.echo(f"   {indicator:<36} n={tested:<6} {figure:<22} target {op} {target if target else ''}  {state}")
    from cli.alerts import forecast_lines
    from qsmon.plans import presets

    forecast_lines([presets(settings.plans_dir)["jingzhou-2023"]], clock.today(settings.timezone))


def demo_dashboards(settings: Settings) -> None:
    """The Grafana dashboards as code: current JSON, and every SQL panel executed as Grafana would run it."""
    import json

    from dashboards.build import render, stale
    from dashboards.macros import expand
    from qsmon.storage import connect

    step("Dashboards (qsmon dashboards build|check|push): every SQL panel run against the database")
    typer.echo(f"   committed dashboards/json is {'current' if not stale() else 'STALE'}")
    now = clock.now().replace(microsecond=0)
    variables = {
        "plan": "jingzhou-2023",
        "indicator": "agricultural-routine-pass",
        "region": "421000",
        "window": "rolling_30d",
        "category": "all",
    }
    with connect(settings.dsn) as conn:
        for text in render().values():
            board = json.loads(text)
            counts = []
            for panel in board["panels"]:
                for target in panel.get("targets", []):
                    if "rawSql" in target:
                        sql = expand(target["rawSql"], variables, now - timedelta(days=30), now)
                        counts.append(len(conn.execute(sql.encode()).fetchall()))
            shown = ", ".join(str(c) for c in counts) if counts else "PromQL panels (Prometheus)"
            typer.echo(f"   {board['title']:<16} rows per SQL panel (last 30 days): {shown}")


def demo_report(settings: Settings) -> None:
    """The monthly report of the simulated month: workbook, PDF and CSV."""
    from qsmon.plans import presets
    from qsmon.storage import connect
    from reports.analysis import analysis
    from reports.bulletin import load_references
    from reports.data import gather
    from reports.run import write_report

    step("Monthly report and bulletin (qsmon report monthly --plan jingzhou-2023 --month …)")
    today = clock.today(settings.timezone)
    out = CHECKOUT / "reports-out"
    # Reference figures are the site's data; the demo's are placeholders that say so in their source.
    with_references = settings.model_copy(update={"reference_figures_file": REFERENCE_EXAMPLE})
    plan = presets(settings.plans_dir)["jingzhou-2023"]
    files = write_report(with_references, plan, today.year, today.month, out)
    for path in (p for p in files if p.suffix in (".xlsx", ".pdf")):
        typer.echo(f"   {path.relative_to(out.parent)} ({path.stat().st_size // 1024} KiB)")
    csvs = [p for p in files if p.suffix == ".csv"]
    typer.echo(
        f"   … and {len(csvs)} CSV tables (UTF-8 with BOM): " + "、".join(p.stem.rsplit("-", 1)[-1] for p in csvs)
    )
    with connect(settings.dsn) as conn:
        report = gather(
            conn,
            plan,
            today.year,
            today.month,
            timezone=settings.timezone,
            references=load_references(REFERENCE_EXAMPLE),
        )
    typer.echo("   分析 (each sentence names the table its numbers come from):")
    for sentence in analysis(report):
        typer.echo(f"     {sentence.text}" + (f" [{sentence.table}]" if sentence.table else ""))
    _one_number(settings, report)
    _notice(settings, report)
    _region_report(settings, out)


def _one_number(settings: Settings, report: MonthlyReport) -> None:
    """One indicator, the city and the month, as the alert engine evaluates it, as the report and the bulletin print
    it: one figure (indicators.counting; tests/integration/test_one_number.py checks every reader)."""
    from indicators.counting import rate, shown_text
    from indicators.evaluate import evaluate_indicator
    from qsmon.regions import name_of
    from qsmon.storage import connect

    plan, city = report.plan, report.plan.jurisdiction.code
    row = next(r for r in report.indicators if r.indicator.id == "food-evaluative-pass")
    with connect(settings.dsn) as conn:
        evaluation = next(
            e
            for e in evaluate_indicator(
                conn, plan, row.indicator, report.month_range.last, ("month_to_date",), timezone=settings.timezone
            )
            if e.scope.region_code == city and not e.scope.subcategory
        )
    line = next((r for r in report.bulletin.sampling_types if r.key == SamplingType.EVALUATIVE), None)
    typer.echo(f"   一个数 ({row.indicator.name}, {name_of(city)}, {report.label}):")
    typer.echo(
        f"     alert engine {evaluation.samples} 批次, 不合格 {evaluation.failed},"
        f" {shown_text(evaluation.value)} · report {row.month.samples} 批次, 不合格 {row.month.failed},"
        f" {shown_text(row.month.value)}"
    )
    if line is not None and line.month.rate is not None:
        typer.echo(
            f"     bulletin 评价性抽检 {line.month.batches} 批次, 不合格 {line.month.failed},"
            f" 合格率 {shown_text(rate(line.month.batches - line.month.failed, line.month.batches))}"
            f" ({report.bulletin.scope.label}合计"
            f" {report.bulletin.total.month.batches if report.bulletin.total else 0} 批次, 不含风险监测)"
        )


def _notice(settings: Settings, report: MonthlyReport) -> None:
    """The public notice's title block and first paragraphs, as the bureau would publish them."""
    from reports.notice import build_notice, load_texts
    from reports.run import bureau_of

    notice = build_notice(
        report,
        load_texts(settings.notice_texts_file),
        bureau=bureau_of(settings, report.plan),
        number=settings.notice_number,
        issued=clock.today(settings.timezone),
    )
    typer.echo(f"   信息公告 (public: {report.plan.id}-…-信息公告.pdf, annex {len(notice.annex)} 不合格产品):")
    typer.echo(f"     {notice.bureau}（{notice.number}）")
    typer.echo(f"     {notice.title}")
    for key in ("总体情况", "问题类型"):
        if key in notice.paragraphs:
            typer.echo(f"     {notice.paragraphs[key]}")


def _region_report(settings: Settings, out: Path) -> None:
    """A jurisdiction without a plan of its own (a province): the report against a reference rate, said so."""
    from cli.report import region_plan
    from reports.run import write_report

    today = clock.today(settings.timezone)
    plan = region_plan("420000", today.year)
    files = write_report(settings, plan, today.year, today.month, out, ["xlsx"])
    typer.echo(
        f"   $ qsmon report monthly --region 420000 --month {today:%Y-%m} -> {plan.title}:"
        f" {', '.join(p.name for p in files)}"
    )
