"""``qsmon months close|list|changes``: freeze what was reported upward for a month, and see what moved since."""

from __future__ import annotations

from typing import Annotated

import typer

from cli._common import friendly_errors, print_json
from qsmon.settings import get_settings

months_app = typer.Typer(help="Month close: what was reported upward, and the corrections since.", no_args_is_help=True)


def _year_month(value: str) -> tuple[int, int]:
    year, _, month = value.partition("-")
    if not (len(year) == 4 and year.isdigit() and month.isdigit() and 1 <= int(month) <= 12):
        raise typer.BadParameter("the month must be YYYY-MM")
    return int(year), int(month)


@months_app.command("close")
@friendly_errors
def close(
    month: Annotated[str, typer.Argument(help="YYYY-MM")],
    by: Annotated[str, typer.Option(help="who reported the month upward")],
    note: Annotated[str | None, typer.Option(help="e.g. the report's document number")] = None,
    again: Annotated[
        bool, typer.Option("--again", help="replace an earlier close (the month was re-reported)")
    ] = False,
) -> None:
    """Freeze every plan's indicator figures for the month as they stand now."""
    from cli.plans import all_plans
    from qsmon.storage import connect
    from reports.months import close_month

    settings = get_settings()
    year, mon = _year_month(month)
    with connect(settings.dsn) as conn:
        stored = close_month(
            conn, all_plans().values(), year, mon, closed_by=by, note=note, again=again, timezone=settings.timezone
        )
    typer.echo(f"{year}-{mon:02d} closed: {stored} figure(s) frozen")


@months_app.command("list")
@friendly_errors
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Closed months, latest first."""
    from qsmon.storage import connect
    from reports.months import closed_months

    with connect(get_settings().dsn) as conn:
        rows = [
            {"month": m.strftime("%Y-%m"), "closed_by": by, "note": note, "figures": n}
            for m, by, note, n in closed_months(conn)
        ]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['month']}  {r['figures']:>6} figure(s)  closed by {r['closed_by']}  {r['note'] or ''}")


@months_app.command("changes")
@friendly_errors
def changes(
    plan: Annotated[str, typer.Option(help="plan id")],
    before: Annotated[
        str, typer.Option(help="YYYY-MM: closed months in the year before it (default: next month)")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Figures of closed months that changed since they were reported (the report's 上报后更正 lines)."""
    from cli.plans import get_plan
    from indicators.labels import number
    from indicators.windows import shift_month
    from qsmon import clock
    from qsmon.storage import connect
    from reports.months import corrections

    settings = get_settings()
    today = clock.today(settings.timezone)
    year, mon = _year_month(before) if before else shift_month(today.year, today.month, 1)
    chosen = get_plan(plan)
    with connect(settings.dsn) as conn:
        found = corrections(conn, chosen, year, mon, timezone=settings.timezone)
    rows = [
        {
            "month": c.month.strftime("%Y-%m"),
            "indicator": c.indicator.id,
            "region": c.region_code,
            "region_name": c.region_name,
            "reported": {"samples": c.reported.samples, "failed": c.reported.failed, "value": c.reported.value},
            "current": {"samples": c.current.samples, "failed": c.current.failed, "value": c.current.value},
        }
        for c in found
    ]
    if as_json:
        print_json(rows)
        return
    for c in found:
        typer.echo(
            f"{c.month:%Y-%m} {c.indicator.name} {c.region_name}: 上报 {c.reported.samples} 批次"
            f" {number(c.reported.value, c.indicator.measure)} → 现 {c.current.samples} 批次"
            f" {number(c.current.value, c.indicator.measure)}"
        )
    typer.echo(f"{len(found)} changed figure(s)")
