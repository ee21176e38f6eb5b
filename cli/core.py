"""``qsmon stack``, ``qsmon init`` and ``qsmon config``: the foundation commands."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from cli._common import LOCAL_STACK_SCRIPT, friendly_errors, print_json
from qsmon.settings import get_settings

stack_app = typer.Typer(help="The local stack (Kafka, TimescaleDB, Prometheus, Alertmanager) without Docker.")


def _stack_script() -> Path:
    # The scripts live in the checkout; an installed wheel has no local stack to manage.
    if not LOCAL_STACK_SCRIPT.exists():
        raise typer.BadParameter(f"{LOCAL_STACK_SCRIPT} not found: run qsmon stack from a qsmon checkout")
    return LOCAL_STACK_SCRIPT


def _run_stack(action: str, *, ha: bool = False) -> None:
    script = _stack_script()
    if ha:  # the replicated cluster beside the stack (deploy/local/ha.sh), on its own ports
        script = script.with_name("ha.sh")
    completed = subprocess.run(["bash", str(script), action], check=False)
    raise typer.Exit(completed.returncode)


HA_OPTION = typer.Option(
    "--ha",
    help="the replicated cluster instead: three KRaft brokers (RF 3, min.insync 2) and a"
    " PostgreSQL primary with a streaming standby (deploy/local/ha.sh)",
)


@stack_app.command("up")
def stack_up(ha: Annotated[bool, HA_OPTION] = False) -> None:
    """Install what is missing, start every service, wait until each answers (idempotent)."""
    _run_stack("up", ha=ha)


@stack_app.command("down")
def stack_down(ha: Annotated[bool, HA_OPTION] = False) -> None:
    """Stop the services `up` started, and nothing else."""
    _run_stack("down", ha=ha)


@stack_app.command("status")
def stack_status(ha: Annotated[bool, HA_OPTION] = False) -> None:
    """Each service with its port and health; exit status 1 when one is down."""
    _run_stack("status", ha=ha)


@friendly_errors
def init() -> None:
    """Apply pending database migrations and create the Kafka topics. Running it twice changes nothing."""
    from alerts.service import sync_reference_data
    from qsmon.plans import presets
    from qsmon.storage import apply_migrations, connect
    from qsmon.topics import ensure_topics

    settings = get_settings()
    with connect(settings.dsn) as conn:
        applied = apply_migrations(conn)
        indicators = sync_reference_data(conn, presets(settings.plans_dir).values())
    created = ensure_topics(settings)
    typer.echo(f"plan indicators synced: {indicators}")
    typer.echo(f"migrations applied: {', '.join(f'{m.version:03d}_{m.name}' for m in applied) or 'none'}")
    typer.echo(f"topics created: {', '.join(created) or 'none'}")


def schema() -> None:
    """Print the JSON Schema of the inspection result event (schema v2; v1 events are still read)."""
    from qsmon.schema import json_schema

    print_json(json_schema())


@friendly_errors
def config(
    check: bool = typer.Option(
        False,
        "--check",
        help="check the settings, channels file and plan files; print problems one per line, exit 1 on any",
    ),
    table: bool = typer.Option(False, "--table", help="every setting with its default and meaning (Markdown)"),
) -> None:
    """Print the effective settings (secrets masked)."""
    from qsmon.settings import documented, load_settings, misspelt_variables

    if table:
        typer.echo("| variable | default | meaning |\n|---|---|---|")
        for name, default, meaning in documented():
            typer.echo(f"| `{name}` | {f'`{default}`' if default else ''} | {meaning} |")
        return
    settings = load_settings()  # not get_settings: --check reports misspelt variables itself, once
    if check:
        from notify.routing import load_channels
        from qsmon.plans import presets

        channels = load_channels(settings.channels_file)
        plans = presets(settings.plans_dir)
        unknown = sorted(set(settings.active_plans) - set(plans))
        if unknown:
            raise typer.BadParameter(f"QSMON_ACTIVE_PLANS names unknown plans: {', '.join(unknown)}")
        read_by_channels = set().union(*(c.variables() for c in channels.channels))
        misspelt = misspelt_variables({k: v for k, v in os.environ.items() if k not in read_by_channels})
        if misspelt:
            typer.echo("\n".join(misspelt), err=True)
            raise typer.Exit(1)
        typer.echo(f"settings valid; {len(channels.channels)} channels, {len(plans)} plans")
        return
    print_json(settings.masked())


def worker(loglevel: str = typer.Option("WARNING", help="log level")) -> None:
    """Run a stream worker: Kafka results into TimescaleDB, exactly. Start several to scale out."""
    from streams.run import run_worker

    run_worker(get_settings(), loglevel=loglevel.upper())


@friendly_errors
def rollups_rebuild(
    from_day: str = typer.Option("1900-01-01", "--from", help="first local day to recompute (YYYY-MM-DD)"),
) -> None:
    """Recompute the rollups and current failures from the stored final verdicts; report any difference fixed."""
    from datetime import date

    from qsmon import clock
    from qsmon.storage import connect
    from qsmon.storage.retention import earliest_rebuild_day
    from streams.rebuild import rebuild

    settings = get_settings()
    try:
        start = date.fromisoformat(from_day)
    except ValueError:
        raise typer.BadParameter("--from is a day, YYYY-MM-DD") from None
    with connect(settings.dsn) as conn:
        earliest = earliest_rebuild_day(conn, settings, clock.today(settings.timezone))
        if start < earliest:  # history before it was dropped by retention: a rebuild there would lose rows
            typer.echo(
                f"retention dropped the result history before a day of {earliest.year - 1}: rebuilding from {earliest}"
            )
            start = earliest
        fixed = rebuild(conn, start)
    if not fixed:
        typer.echo("rollups match the stored results: nothing to fix")
        return
    typer.echo(f"fixed {len(fixed)} derived rows:")
    for d in fixed:
        typer.echo(f"  {d.table} [{d.key}]: {d.kept or '(missing)'} -> {d.truth or '(none)'}")


rollups_app = typer.Typer(help="Rollup maintenance.", no_args_is_help=True)
rollups_app.command("rebuild")(rollups_rebuild)


@friendly_errors
def retention_run() -> None:
    """Apply the retention settings now (the leading alert engine does it every 6 hours)."""
    from qsmon.storage import connect
    from qsmon.storage.retention import apply_retention

    settings = get_settings()
    with connect(settings.dsn) as conn:
        outcome = apply_retention(conn, settings)
    typer.echo(
        f"history chunks dropped: {outcome.history_chunks_dropped}; delivered notifications deleted: "
        f"{outcome.outbox_rows_deleted}; alert events deleted: {outcome.alert_events_deleted}"
    )


retention_app = typer.Typer(help="Deleting what the retention settings no longer keep.", no_args_is_help=True)
retention_app.command("run")(retention_run)


@friendly_errors
def demo() -> None:
    """Run the whole mission on the local stack, step by step."""
    from cli import demo as demo_module

    demo_module.run()


def probe(
    url: Annotated[str | None, typer.Argument(help="a health endpoint, e.g. http://127.0.0.1:9401/readyz")] = None,
    file: Annotated[Path | None, typer.Option(help="instead: a heartbeat file a process touches")] = None,
    max_age: Annotated[float, typer.Option(help="seconds the heartbeat file may be old")] = 7300.0,
) -> None:
    """Exit 0 when the endpoint answers 200 (or the heartbeat file is fresh), else 1 with the reason: for
    container healthchecks (the image has no curl)."""
    import time

    import httpx

    if file is not None:
        age = time.time() - file.stat().st_mtime if file.exists() else float("inf")
        if age > max_age:
            typer.echo(f"{file}: last beat {age:.0f}s ago (limit {max_age:.0f}s)", err=True)
            raise typer.Exit(1)
        return
    if url is None:
        raise typer.BadParameter("give a URL or --file")
    try:
        response = httpx.get(url, timeout=5)
    except httpx.HTTPError as exc:
        typer.echo(f"{url}: {type(exc).__name__}", err=True)
        raise typer.Exit(1) from None
    if response.status_code != 200:
        typer.echo(f"{url}: {response.status_code} {response.text[:500]}", err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("probe")(probe)
    app.add_typer(stack_app, name="stack")
    app.command("demo")(demo)
    app.command("worker")(worker)
    app.add_typer(rollups_app, name="rollups")
    app.add_typer(retention_app, name="retention")
    app.command("init")(init)
    app.command("config")(config)
    app.command("schema")(schema)
