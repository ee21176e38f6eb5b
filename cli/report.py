"""``qsmon report``: the monthly trend export, on demand or on a schedule."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer

from cli._common import friendly_errors
from qsmon.settings import get_settings

report_app = typer.Typer(help="Monthly trend exports for the monthly meeting.", no_args_is_help=True)


def _formats(value: str) -> list[str]:
    formats = [f.strip() for f in value.split(",") if f.strip()]
    unknown = set(formats) - {"xlsx", "pdf", "csv"}
    if unknown:
        raise typer.BadParameter(f"unknown format(s): {', '.join(sorted(unknown))}; use xlsx, pdf, csv")
    return formats


@report_app.command("monthly")
@friendly_errors
def monthly(
    plan: Annotated[str, typer.Option(help="plan id, e.g. jingzhou-2023")],
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    fmt: Annotated[str, typer.Option("--format", help="comma-separated: xlsx,pdf,csv")] = "xlsx,pdf,csv",
    out: Annotated[Path, typer.Option(help="output directory")] = Path("reports-out"),
    notify: Annotated[list[str] | None, typer.Option(help="channel of QSMON_CHANNELS_FILE to send it to")] = None,
) -> None:
    """Write a month's report; re-running overwrites it identically for the same data."""
    from cli.plans import get_plan
    from reports.run import write_report

    year, _, mon = month.partition("-")
    if not (year.isdigit() and mon.isdigit() and 1 <= int(mon) <= 12):
        raise typer.BadParameter("--month must be YYYY-MM")
    for path in write_report(get_settings(), get_plan(plan), int(year), int(mon), out, _formats(fmt),
                             notify=notify or ()):
        typer.echo(str(path))


@report_app.command("schedule")
@friendly_errors
def schedule(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("reports-out"),
    plan: Annotated[list[str] | None, typer.Option(help="plan ids (default: QSMON_ACTIVE_PLANS, else all)")] = None,
    fmt: Annotated[str, typer.Option("--format")] = "xlsx,pdf,csv",
    notify: Annotated[list[str] | None, typer.Option(help="channel of QSMON_CHANNELS_FILE to send it to")] = None,
) -> None:
    """Write last month's report for each plan on the first day of every month (runs until stopped)."""
    import signal

    from cli.plans import all_plans
    from reports.run import run_schedule

    settings = get_settings()
    plans = all_plans()
    chosen = plan or list(settings.active_plans) or list(plans)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_schedule(settings, [plans[p] for p in chosen], out, stop, _formats(fmt), notify or ())
