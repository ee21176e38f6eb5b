"""``qsmon report``: the monthly trend export, on demand or on a schedule."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cli._common import friendly_errors
from qsmon.plans.model import Plan
from qsmon.settings import get_settings

report_app = typer.Typer(help="Monthly trend exports for the monthly meeting.", no_args_is_help=True)


def _formats(value: str) -> list[str]:
    formats = [f.strip() for f in value.split(",") if f.strip()]
    unknown = set(formats) - {"xlsx", "pdf", "csv"}
    if unknown:
        raise typer.BadParameter(f"unknown format(s): {', '.join(sorted(unknown))}; use xlsx, pdf, csv")
    return formats


# A region without a plan has no target of its own: the report measures against this reference, and says so.
REFERENCE_FOOD_PASS = 98.0


def region_plan(code: str, year: int, reference: float = REFERENCE_FOOD_PASS) -> Plan:
    """A plan synthesised for a province, city, county or the nation (000000) that has none: its food sampling pass
    rate, by 大类 too, for the year, against a reference value the title and source name as such."""
    from qsmon.regions import NATION, name_of, regions

    if code != NATION and code not in regions():
        raise typer.BadParameter(f"unknown region {code}: a GB/T 2260 code such as 330000 (浙江省), or 000000")
    name = "全国" if code == NATION else name_of(code)
    return Plan.model_validate(
        {
            "id": f"region-{code}",
            "title": f"{name}食品安全抽检情况(按地区生成,无规划目标)",
            "issuer": "qsmon(按地区生成)",
            "jurisdiction": {"name": name, "region_code": None if code == NATION else code},
            "period": {"start": date(year, 1, 1), "end": date(year, 12, 31)},
            "notes": f"无规划文件:以食品抽检合格率{reference:g}%为参考值,不是该地区的规划目标。",
            "indicators": [
                {
                    "id": "food-pass",
                    "name": "食品抽检合格率",
                    "measure": "pass_rate",
                    "source": f"参考值:食品抽检合格率不低于{reference:g}%(按地区生成的报告,非规划目标)",
                    "filter": {"categories": ["food"]},
                    "target": {"op": ">=", "value": reference},
                    "windows": ["month_to_date", "year_to_date"],
                    "breakdown": ["subcategory"],
                    "min_samples": 30,
                }
            ],
        }
    )


@report_app.command("monthly")
@friendly_errors
def monthly(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    plan: Annotated[str | None, typer.Option(help="plan id, e.g. jingzhou-2023")] = None,
    region: Annotated[
        str | None,
        typer.Option(
            help="instead of a plan: a GB/T 2260 code (330000 a province, 000000 the nation) for a report of its food"
            " sampling against a reference value"
        ),
    ] = None,
    reference: Annotated[
        float, typer.Option(help="with --region: the reference pass rate, percent")
    ] = REFERENCE_FOOD_PASS,
    fmt: Annotated[str, typer.Option("--format", help="comma-separated: xlsx,pdf,csv")] = "xlsx,pdf,csv",
    out: Annotated[Path, typer.Option(help="output directory")] = Path("reports-out"),
    notify: Annotated[list[str] | None, typer.Option(help="channel of QSMON_CHANNELS_FILE to send it to")] = None,
) -> None:
    """Write a month's report for a plan or a region; re-running overwrites it identically for the same data."""
    from cli.plans import get_plan
    from reports.run import write_report

    year, _, mon = month.partition("-")
    if not (year.isdigit() and mon.isdigit() and 1 <= int(mon) <= 12):
        raise typer.BadParameter("--month must be YYYY-MM")
    if (plan is None) == (region is None):
        raise typer.BadParameter("name a --plan or a --region, one of them")
    chosen = get_plan(plan) if plan is not None else region_plan(str(region), int(year), reference)
    for path in write_report(get_settings(), chosen, int(year), int(mon), out, _formats(fmt), notify=notify or ()):
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
