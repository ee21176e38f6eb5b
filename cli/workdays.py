"""``qsmon workdays check``: which years the working-day calendar knows, and where each comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli._common import friendly_errors, print_json
from qsmon.settings import get_settings

workdays_app = typer.Typer(
    help="The official working-day calendar (法定工作日): the package's years and the bureau's workdays file.",
    no_args_is_help=True,
)


@workdays_app.command("check")
@friendly_errors
def check(
    path: Annotated[
        Path | None, typer.Option("--file", help="a workdays file to check (default: QSMON_WORKDAYS_FILE)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Read the workdays file (refused with the reason when malformed), list the years known with their source,
    and warn (exit 1) when this year, or from 1 November next year, is missing."""
    from qsmon import clock
    from qsmon.workdays import load_calendar

    settings = get_settings()
    calendar = load_calendar(path or settings.workdays_file)
    today = clock.today(settings.timezone)
    known = calendar.known_years()
    warning = calendar.warning(today)
    if as_json:
        print_json(
            {
                "file": str(calendar.path) if calendar.path else None,
                "today": today.isoformat(),
                "years": [{"year": k.year, "source": k.source} for k in known],
                "missing": calendar.missing(today),
                "warning": warning,
            }
        )
    else:
        typer.echo(f"workdays file: {calendar.path or '(none: QSMON_WORKDAYS_FILE unset)'}")
        package = [k.year for k in known if k.year not in calendar.arrangements]
        if package:
            typer.echo(f"  {package[0]}-{package[-1]}: {known[0].source}")
        for k in known:
            if k.year in calendar.arrangements:
                typer.echo(f"  {k.year}: {k.source}")
        typer.echo(f"working days known without a gap up to {calendar.last_year}")
    if warning:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(1)
