"""Follow-up of failed samples: a failure opened a case with its steps, the risk-control step is recorded with a
recall level, overdue notices go out, a 协查 notice reaches the manufacturer's bureau and an overdue step is
escalated to the city."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import TYPE_CHECKING

import typer

from cli.demo.console import step
from qsmon import clock
from qsmon.settings import Settings

if TYPE_CHECKING:
    from cases.store import Case
    from notify.routing import ChannelsConfig
    from qsmon.case_rules import DeadlineTable


def _channels(settings: Settings, url: str) -> ChannelsConfig:
    """Fresh channels: the day's digest goes out on every run; a step's notice, a 协查 and an escalation once ever
    (kept with the step or the case), so a later run counts them as sent before. 洪湖市's case channel, 荆州市's
    分管 leader (escalations), and the bureau of a case made outside its region (协查), if there is one."""
    from notify.routing import ChannelsConfig
    from qsmon.storage import connect

    suffix = int(time.time())
    with connect(settings.dsn) as conn:
        assist = conn.execute(
            "SELECT c.manufacturer_region_code FROM cases c JOIN case_steps s ON s.case_id = c.id"
            " AND s.step = 'assist_sent' WHERE c.status = 'open'"
            " ORDER BY c.assist_noticed_at NULLS FIRST, c.id LIMIT 1"
        ).fetchone()
    channels = [
        {"name": f"honghu-cases-{suffix}", "plans": ["cases"], "regions": ["421083"]},
        {"name": f"jingzhou-leader-{suffix}", "plans": ["cases-escalation"], "regions": ["421000"]},
        *([{"name": f"made-in-{suffix}", "plans": ["cases"], "regions": [str(assist[0])]}] if assist else []),
    ]
    return ChannelsConfig.model_validate(
        {"channels": [c | {"type": "webhook", "url": url, "group_wait_s": 0} for c in channels]}
    )


def _show_recall(case: Case, table: DeadlineTable) -> None:
    recall = [s for s in case.steps if s.step.startswith("recall_")]
    if case.recall_level is None or not recall or table.recall is None:
        return
    typer.echo(f"   召回级别 {recall[0].name.split(':')[0]} ({table.sources[table.recall.source].split('(')[0]}):")
    for s in recall:
        due = s.due_on.isoformat() if s.due_on else "自召回公告发布之日起算"
        typer.echo(f"     {s.name:<22} 期限 {due:<10} {s.basis}")


def demo_cases(settings: Settings) -> None:
    from prometheus_client import CollectorRegistry

    from alerts.messages import renderer
    from cases.labels import case_label
    from cases.store import get_case
    from cases.sweep import CaseSweep
    from notify.delivery import Notifier
    from notify.testing import WebhookReceiver
    from qsmon.case_rules import load_table
    from qsmon.storage import connect

    step("Follow-up of failed samples (qsmon cases): cases, legal deadlines, recall levels, 协查, escalation")
    table = load_table(settings.case_deadlines_file)
    today = clock.today(settings.timezone)
    receiver = WebhookReceiver()
    channels = _channels(settings, receiver.url)
    try:
        with connect(settings.dsn) as conn:
            sweep = CaseSweep(
                table,
                list(channels.channels),
                soon_working_days=settings.cases_due_soon_working_days,
                digest_hour=0,
                timezone=settings.timezone,
            )
            counts: dict[str, int] = dict(conn.execute("SELECT status, count(*) FROM cases GROUP BY status").fetchall())
            typer.echo(
                f"   every recent final fail has a case, opened by the worker with its steps and deadlines:"
                f" {counts.get('open', 0)} open, {counts.get('overturned', 0)} overturned by a later revision,"
                f" {counts.get('closed', 0)} closed"
            )
            row = conn.execute(
                "SELECT id FROM cases WHERE status = 'open' AND region_code = '421083'"
                " AND category = 'food' ORDER BY opened_on, id LIMIT 1"
            ).fetchone()
            if row is None:
                typer.echo("   no open food case in 洪湖市 to follow")
                return
            case = get_case(conn, int(row[0]))
        typer.echo(
            f"   case #{case.id}: {case.product or case.sample_id} ({case.firm or '-'}),"
            f" opened {case.opened_on}; deadlines from {table.source_of(case.category)}:"
        )
        for s in case.steps:
            due = s.due_on.isoformat() if s.due_on else "待前序步骤"
            typer.echo(f"     {s.name:<22} 期限 {due:<10} {case_label(s.state(today)):<6} {s.basis}")
        first = case.steps[0]
        if first.done_on is None:
            recorded = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "cli",
                    "cases",
                    "record",
                    str(case.id),
                    "--step",
                    first.step,
                    "--on",
                    case.opened_on.isoformat(),
                    "--by",
                    "洪湖市市场监管局 张三",
                    "--note",
                    "已责令下架封存、一级召回",
                    "--recall-level",
                    "一级",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            typer.echo(f"   recorded: {recorded.stdout.strip() or recorded.stderr.strip()}")
            with connect(settings.dsn) as conn:
                _show_recall(get_case(conn, case.id), table)  # (a later run lists them with the steps above)
        with connect(settings.dsn) as conn:
            sweep.run(conn, clock.now(), today, 23)
            sent = conn.execute(
                "SELECT (SELECT count(*) FROM cases WHERE assist_noticed_at IS NOT NULL),"
                " (SELECT count(*) FROM case_steps WHERE escalated_at IS NOT NULL)"
            ).fetchone()
        notifier = Notifier(
            settings.dsn, {c.name: c for c in channels.channels}, CollectorRegistry(), renderer(channels)
        )
        notifier.deliver_due()
        for message in receiver.received:
            typer.echo(f'   message: "{message["title"]}"')
        assists, escalated = sent if sent else (0, 0)
        typer.echo(
            f"   协查 notices sent so far (once per case, to the manufacturer's region): {assists};"
            f" steps escalated to the city (督办, once per step): {escalated}"
        )
    finally:
        receiver.stop()
