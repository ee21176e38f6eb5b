"""``qsmon dashboards``: build, check and push the Grafana dashboards."""

from __future__ import annotations

from typing import Annotated

import typer

from cli._common import friendly_errors

dashboards_app = typer.Typer(help="Grafana dashboards as code.", no_args_is_help=True)


@dashboards_app.command("build")
def build() -> None:
    """Write dashboards/json/*.json from the code (grafana-foundation-sdk)."""
    from dashboards.build import write

    for path in write():
        typer.echo(str(path))


@dashboards_app.command("check")
def check() -> None:
    """Fail when the committed dashboards/json is stale (CI runs this through the tests)."""
    from dashboards.build import stale

    outdated = stale()
    if outdated:
        typer.secho(f"stale: {', '.join(outdated)}; run `qsmon dashboards build`", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo("dashboards/json is current")


@dashboards_app.command("push")
@friendly_errors
def push(
    token: Annotated[str, typer.Option(help="service account token", envvar="QSMON_GRAFANA_TOKEN")],
    url: Annotated[str | None, typer.Option(help="Grafana URL (default QSMON_GRAFANA_URL)")] = None,
) -> None:
    """Upload the dashboards through Grafana's API (grafana-client), into the folder 质量安全监测 qsmon."""
    from dashboards.push import push as push_all
    from qsmon.settings import get_settings

    for uid in push_all(url or get_settings().grafana_url.get_secret_value(), token):
        typer.echo(f"pushed {uid}")
