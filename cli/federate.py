"""``qsmon federate pull|report``: read other qsmon instances' closed months through their read APIs, and add them
up into a national (or provincial) overview."""

from __future__ import annotations

from typing import Annotated

import typer

from cli._common import friendly_errors, print_json
from qsmon.settings import get_settings

federate_app = typer.Typer(
    help="Provinces feeding the nation: pull closed months, report the sum.", no_args_is_help=True
)


def _month(value: str) -> tuple[int, int]:
    year, _, month = value.partition("-")
    if not (len(year) == 4 and year.isdigit() and month.isdigit() and 1 <= int(month) <= 12):
        raise typer.BadParameter("the month must be YYYY-MM")
    return int(year), int(month)


@federate_app.command("pull")
@friendly_errors
def pull(
    since: Annotated[str, typer.Option(help="YYYY-MM: closed months from this one (default: a year back)")] = "",
) -> None:
    """Pull every instance of QSMON_FEDERATION_INSTANCES_FILE; one that fails is reported, the others still pulled."""
    from datetime import date

    from federation import load_instances, pull_instance
    from federation.exceptions import FederationError
    from qsmon.storage import connect

    settings = get_settings()
    first = date(*_month(since), 1) if since else None
    failed = 0
    with connect(settings.dsn) as conn:
        for instance in load_instances(settings.federation_instances_file):
            try:
                pulled = pull_instance(conn, instance, since=first)
            except FederationError as exc:
                failed += 1
                typer.secho(f"{instance.name}: {exc}", fg=typer.colors.RED, err=True)
                continue
            typer.echo(
                f"{pulled.instance}: {pulled.months} month(s), {pulled.figures} figure(s),"
                f" {pulled.failures} published failure(s)"
            )
    if failed:
        raise typer.Exit(1)


@federate_app.command("report")
@friendly_errors
def report(
    month: Annotated[str, typer.Argument(help="YYYY-MM")], as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """The national overview of a closed month: each indicator over every instance that reported it."""
    from datetime import date

    from federation import national_overview
    from federation.national import published_failures
    from indicators.labels import number
    from qsmon.storage import connect

    first = date(*_month(month), 1)
    with connect(get_settings().dsn) as conn:
        figures = national_overview(conn, first)
        failures = published_failures(conn, first)
    if as_json:
        print_json(
            {
                "month": month,
                "published_failures": failures,
                "figures": [
                    {
                        "plan_id": f.plan_id,
                        "indicator_id": f.indicator_id,
                        "indicator_name": f.indicator_name,
                        "samples": f.reported.samples,
                        "failed": f.reported.failed,
                        "value": f.reported.value,
                        "corrected": None
                        if not f.corrected
                        else {"samples": f.current.samples, "failed": f.current.failed, "value": f.current.value},
                        "instances": [
                            {
                                "instance": p.instance,
                                "region_code": p.region_code,
                                "samples": p.reported.samples,
                                "failed": p.reported.failed,
                                "value": p.reported.value,
                            }
                            for p in f.parts
                        ],
                    }
                    for f in figures
                ],
            }
        )
        return
    typer.echo(f"{month} 全国汇总({len({p.instance for f in figures for p in f.parts})} 个实例)")
    for f in figures:
        typer.echo(
            f"{f.indicator_name}({f.plan_id}):{f.reported.samples} 批次,不合格 {f.reported.failed},"
            f" {number(f.reported.value, f.measure)}"
            + "".join(f";{p.instance} {p.reported.samples} 批次" for p in f.parts)
        )
    corrected = [f for f in figures if f.corrected]
    if corrected:
        typer.echo("上报后更正:")
        for f in corrected:
            typer.echo(
                f"  {f.indicator_name}:上报 {f.reported.samples} 批次 {number(f.reported.value, f.measure)}"
                f" → 现 {f.current.samples} 批次 {number(f.current.value, f.measure)}"
                f"({', '.join(p.instance for p in f.parts if p.current is not None)} 更正)"
            )
    typer.echo("公布不合格: " + (", ".join(f"{i} {n} 条" for i, n in failures.items()) or "无"))
