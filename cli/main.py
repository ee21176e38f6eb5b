"""The ``qsmon`` command. Each group lives in its own module and imports its heavy parts lazily."""

from __future__ import annotations

import typer

from cli import core, producers
from cli.alerts import alerts_app, status
from cli.cases import cases_app
from cli.dashboards import dashboards_app
from cli.deadletters import deadletters_app
from cli.federate import federate_app
from cli.months import months_app
from cli.offsets import offsets_app
from cli.plans import plans_app
from cli.report import report_app
from cli.results import results_app
from cli.tokens import serve_api, tokens_app
from cli.workdays import workdays_app

app = typer.Typer(
    name="qsmon",
    help="Live pass rates of inspection results against city quality-plan targets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
core.register(app)
producers.register(app)
app.add_typer(plans_app, name="plans")
app.add_typer(alerts_app, name="alerts")
app.command("status")(status)
app.add_typer(report_app, name="report")
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(offsets_app, name="offsets")
app.add_typer(deadletters_app, name="deadletters")
app.add_typer(cases_app, name="cases")
app.add_typer(workdays_app, name="workdays")
app.add_typer(months_app, name="months")
app.add_typer(tokens_app, name="tokens")
app.add_typer(results_app, name="results")
app.add_typer(federate_app, name="federate")
producers.serve_app.command("api")(serve_api)


def main() -> None:
    """The console script: errors qsmon raises on purpose are one line (or one per problem), never a traceback."""
    import sys

    from qsmon.exceptions import QsmonError

    try:
        app()
    except QsmonError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(1)
