"""Follow-up of failed samples: a failure opened a case, a step is recorded, an overdue notice goes out."""

from __future__ import annotations

import subprocess
import sys
import time

import typer

from cli.demo.console import step
from qsmon import clock
from qsmon.settings import Settings


def demo_cases(settings: Settings) -> None:
    from prometheus_client import CollectorRegistry

    from alerts.messages import renderer
    from cases.labels import case_label
    from cases.store import get_case
    from cases.sweep import CaseSweep
    from notify.delivery import Notifier
    from notify.routing import ChannelsConfig
    from notify.testing import WebhookReceiver
    from qsmon.case_rules import load_table
    from qsmon.storage import connect

    step("Follow-up of failed samples (qsmon cases): cases, legal deadlines, progress, overdue notices")
    table = load_table(settings.case_deadlines_file)
    today = clock.today(settings.timezone)
    receiver = WebhookReceiver()
    channel = f"honghu-cases-{int(time.time())}"  # a fresh channel: its notices go out on every run
    channels = ChannelsConfig.model_validate({"channels": [
        {"name": channel, "type": "webhook", "url": receiver.url, "plans": ["cases"], "regions": ["421083"],
         "group_wait_s": 0}]})
    try:
        with connect(settings.dsn) as conn:
            sweep = CaseSweep(table, list(channels.channels), soon_working_days=settings.cases_due_soon_working_days,
                              digest_hour=0, timezone=settings.timezone)
            sweep.run(conn, clock.now(), today, 23)  # notices of the steps the worker wrote with each case
            counts: dict[str, int] = dict(conn.execute("SELECT status, count(*) FROM cases GROUP BY status").fetchall())
            typer.echo(f"   every recent final fail has a case (the worker opens them): {counts.get('open', 0)} open,"
                       f" {counts.get('overturned', 0)} overturned by a later revision, {counts.get('closed', 0)}"
                       " closed")
            row = conn.execute("SELECT id FROM cases WHERE status = 'open' AND region_code = '421083'"
                               " AND category = 'food' ORDER BY opened_on, id LIMIT 1").fetchone()
            if row is None:
                typer.echo("   no open food case in 洪湖市 to follow")
                return
            case = get_case(conn, int(row[0]))
        typer.echo(f"   case #{case.id}: {case.product or case.sample_id} ({case.firm or '-'}),"
                   f" opened {case.opened_on}; deadlines from {table.source_of(case.category)}:")
        for s in case.steps:
            due = s.due_on.isoformat() if s.due_on else "待前序步骤"
            typer.echo(f"     {s.name:<22} 期限 {due:<10} {case_label(s.state(today)):<6} {s.basis}")
        first = case.steps[0]
        if first.done_on is None:
            recorded = subprocess.run(
                [sys.executable, "-m", "cli", "cases", "record", str(case.id), "--step", first.step, "--on",
                 case.opened_on.isoformat(), "--by", "洪湖市市场监管局 张三", "--note", "已责令下架封存"],
                capture_output=True, text=True, check=False)
            typer.echo(f"   recorded: {recorded.stdout.strip() or recorded.stderr.strip()}")
        with connect(settings.dsn) as conn:
            sweep.run(conn, clock.now(), today, 23)
        notifier = Notifier(settings.dsn, {c.name: c for c in channels.channels}, CollectorRegistry(),
                            renderer(channels))
        notifier.deliver_due()
        if receiver.received:
            message = receiver.received[0]
            overdue = sum(1 for n in message["notices"] if n.get("state") == "overdue")
            typer.echo(f"   洪湖市's case channel got one message: \"{message['title']}\" ({overdue} overdue"
                       " steps, with the daily digest); each notice goes out once")
    finally:
        receiver.stop()
