"""``qsmon cases list|show|record|import``: follow-up of failed samples (核查处置)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cli._common import friendly_errors, print_json
from qsmon.settings import get_settings

cases_app = typer.Typer(help="Follow-up of failed samples (核查处置): cases, steps, deadlines.", no_args_is_help=True)


def _today() -> date:
    from qsmon import clock

    return clock.today(get_settings().timezone)


@cases_app.command("list")
@friendly_errors
def list_(
    status: Annotated[str, typer.Option(help="open, closed, overturned or all")] = "open",
    region: Annotated[str | None, typer.Option(help="a bureau's GB/T 2260 code (a city lists its counties)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="cases per page")] = 200,
    offset: Annotated[int, typer.Option(min=0, help="cases to skip (the next page starts at offset + limit)")] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Cases oldest first, with each one's most urgent step; a page at a time, saying how many it left out."""
    from cases.labels import case_label
    from cases.store import list_cases
    from qsmon.regions import name_of
    from qsmon.storage import connect

    today = _today()
    with connect(get_settings().dsn) as conn:
        page = list_cases(conn, status=None if status == "all" else status, region=region, limit=limit, offset=offset)
    rows = []
    for case in page.cases:
        pending = [s for s in case.steps if s.done_on is None and s.due_on is not None]
        urgent = min(pending, key=lambda s: s.due_on or today, default=None)
        rows.append(
            {
                "id": case.id,
                "sample_id": case.sample_id,
                "region": name_of(case.region_code),
                "category": case.category,
                "opened_on": case.opened_on.isoformat(),
                "status": case.status,
                "next_step": urgent.name if urgent else None,
                "due_on": urgent.due_on.isoformat() if urgent and urgent.due_on else None,
                "state": case_label(urgent.state(today)) if urgent else None,
            }
        )
    following = page.total - offset - len(rows)  # after this page (the rest of what it left out is before it)
    left_out = (
        (
            f"{page.left_out} of {page.total} case(s) not shown"
            + (f"; next page: --offset {offset + len(rows)}" if following > 0 else "")
        )
        if page.left_out
        else ""
    )
    if as_json:
        print_json(rows)  # a list, as before; what the page left out goes to stderr
        if left_out:
            typer.echo(left_out, err=True)
        return
    for r in rows:
        typer.echo(
            f"#{r['id']:<6} {r['opened_on']} {r['region']:<8} {r['sample_id']:<24} {r['status']:<10} "
            f"{r['next_step'] or '-'} {r['due_on'] or ''} {r['state'] or ''}"
        )
    typer.echo(f"{len(rows)} case(s)" + (f" ({left_out})" if left_out else ""))


@cases_app.command("show")
@friendly_errors
def show(case_id: int, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One case: every step with its deadline, the article it comes from, and what was recorded."""
    from cases.labels import case_label
    from cases.store import get_case
    from qsmon.regions import name_of
    from qsmon.storage import connect

    today = _today()
    with connect(get_settings().dsn) as conn:
        case = get_case(conn, case_id)
    if as_json:
        print_json(
            {
                "case": {k: getattr(case, k) for k in case.__slots__ if k != "steps"},
                "steps": [
                    {k: getattr(s, k) for k in s.__slots__} | {"state": s.state(today).value} for s in case.steps
                ],
            }
        )
        return
    typer.echo(
        f"case #{case.id}: sample {case.sample_id} (revision {case.revision}), {case.category},"
        f" {name_of(case.region_code)}, {case.product or ''} {case.firm or ''}"
    )
    typer.echo(f"opened {case.opened_on}, {case.status}" + (f" on {case.closed_on}" if case.closed_on else ""))
    if case.assist:
        typer.echo(f"生产者所在地 {name_of(case.manufacturer_region_code or '')}: 协查")
    if case.recall_level is not None:
        typer.echo(f"召回级别: {_recall_name(case.category, case.recall_level)}")
    for s in case.steps:
        due = f"due {s.due_on}" + (" (provisional)" if s.provisional else "") if s.due_on else "waiting"
        done = f"done {s.done_on} by {s.done_by}" + (f": {s.note}" if s.note else "") if s.done_on else ""
        typer.echo(f"  {s.name:<24} {due:<26} {case_label(s.state(today)):<8} {done}")
        typer.echo(f"  {'':<24} {s.basis}")


def _recall_name(category: str, level_id: str) -> str:
    from qsmon.case_rules import NO_RECALL, load_table

    table = load_table(get_settings().case_deadlines_file)
    level = table.recall.level(level_id) if table.recall else None
    return "无需召回" if level_id == NO_RECALL else (level.name if level else level_id)


@cases_app.command("record")
@friendly_errors
def record(
    case_id: int,
    step: Annotated[str, typer.Option(help="the step's id (see `cases show`)")],
    done_on: Annotated[str, typer.Option("--on", help="the day it was done (YYYY-MM-DD)")],
    by: Annotated[str, typer.Option(help="who did it")],
    note: Annotated[str, typer.Option(help="what was done")] = "",
    attachment: Annotated[str | None, typer.Option(help="a reference to the document (number, file name)")] = None,
    recall_level: Annotated[
        str | None,
        typer.Option(
            help="with risk_control: the recall level (level_1/一级, level_2/二级, level_3/三级, or none), which adds"
            " the recall's start and completion steps (《食品召回管理办法》)"
        ),
    ] = None,
) -> None:
    """Record a step as done; refused (nothing changed) when out of order, before the failure or in the future."""
    from cases.store import Progress, record_step
    from qsmon.case_rules import load_table
    from qsmon.storage import connect

    settings = get_settings()
    try:
        day = date.fromisoformat(done_on)
    except ValueError:
        raise typer.BadParameter("--on must be YYYY-MM-DD") from None
    with connect(settings.dsn) as conn:
        case = record_step(
            conn,
            load_table(settings.case_deadlines_file),
            case_id,
            Progress(step, day, by, note, attachment, recall_level),
            today=_today(),
            via="cli",
            soon_working_days=settings.cases_due_soon_working_days,
        )
    typer.echo(f"case #{case.id}: {step} recorded on {day}; case {case.status}")


@cases_app.command("import")
@friendly_errors
def import_(path: Path) -> None:
    """Import progress from a 核查处置情况 workbook or CSV (columns 抽样编号, 步骤, 完成日期, 经办人[, 备注, 附件]);
    bad rows are reported with their row numbers, good ones recorded."""
    from cases.progress_import import import_progress
    from qsmon.case_rules import load_table
    from qsmon.storage import connect

    settings = get_settings()
    with connect(settings.dsn) as conn:
        report = import_progress(
            conn,
            load_table(settings.case_deadlines_file),
            path,
            today=_today(),
            soon_working_days=settings.cases_due_soon_working_days,
        )
    typer.echo(
        f"{report.recorded} step(s) recorded, {report.unchanged} already recorded, "
        f"{len(report.rejected)} row(s) rejected"
    )
    for row, reason in report.rejected:
        typer.echo(f"  row {row}: {reason}")
    if report.rejected:
        raise typer.Exit(1)


@cases_app.command("deadlines")
@friendly_errors
def deadlines_table() -> None:
    """The steps and deadlines in force (QSMON_CASE_DEADLINES_FILE, else qsmon/case_deadlines.yaml), as Markdown."""
    from qsmon.case_rules import load_table, markdown_table

    typer.echo(markdown_table(load_table(get_settings().case_deadlines_file)))
