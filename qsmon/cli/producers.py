"""``qsmon simulate``, ``qsmon import``, ``qsmon serve ingest``: the ways results enter Kafka."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from qsmon.cli._common import friendly_errors, print_json
from qsmon.settings import get_settings


@friendly_errors
def simulate(
    count: Annotated[int | None, typer.Option(help="send this many results spread over --days")] = None,
    rate: Annotated[float | None, typer.Option(help="send live results at this many per second")] = None,
    duration: Annotated[float, typer.Option(help="seconds to run at --rate")] = 60.0,
    days: Annotated[int, typer.Option(help="history span of --count, ending --end")] = 30,
    end: Annotated[str | None, typer.Option(help="last day of the history (YYYY-MM-DD, default today)")] = None,
    scenario: Annotated[Path | None, typer.Option(help="YAML file of injected incidents")] = None,
    seed: Annotated[int, typer.Option(help="same seed, same events")] = 1,
    region: Annotated[str, typer.Option(help="GB/T 2260 code of the city")] = "421000",
    duplicates: Annotated[float, typer.Option(help="share of redelivered duplicates")] = 0.0,
    corrections: Annotated[float, typer.Option(help="share of higher revisions (复检/异议)")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Simulated inspection results of a city's counties: realistic mix, seasonality, incidents."""
    from producers.simulate import send_history, send_live
    from producers.simulator import SimulatorOptions, load_scenario
    from producers.simulator.scenario import Scenario

    if (count is None) == (rate is None):
        raise typer.BadParameter("give exactly one of --count and --rate")
    last_day = date.fromisoformat(end) if end else datetime.now(ZoneInfo("Asia/Shanghai")).date()
    options = SimulatorOptions(
        seed=seed, region=region, first_day=last_day - timedelta(days=days - 1), last_day=last_day,
        duplicate_rate=duplicates, correction_rate=corrections,
        scenario=load_scenario(scenario) if scenario else Scenario(),
    )
    settings = get_settings()
    if count is not None:
        report = send_history(settings, options, count)
    elif rate is not None:
        report = send_live(settings, options, rate, duration)
    summary = {"sent": report.sent, "seconds": round(report.seconds, 2), "topic": settings.results_topic}
    if as_json:
        print_json(summary)
    else:
        typer.echo(f"sent {report.sent} results to {settings.results_topic} in {report.seconds:.1f}s")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
