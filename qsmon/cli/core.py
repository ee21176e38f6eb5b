"""``qsmon stack``, ``qsmon init`` and ``qsmon config``: the foundation commands."""

from __future__ import annotations

import subprocess
from pathlib import Path

import typer

from qsmon.cli._common import friendly_errors, print_json
from qsmon.settings import get_settings

stack_app = typer.Typer(help="The local stack (Kafka, TimescaleDB, Prometheus, Alertmanager) without Docker.")


def _stack_script() -> Path:
    # The scripts live in the checkout; an installed wheel has no local stack to manage.
    script = Path(__file__).resolve().parents[2] / "deploy" / "local" / "stack.sh"
    if not script.exists():
        raise typer.BadParameter(f"{script} not found: run qsmon stack from a qsmon checkout")
    return script


def _run_stack(action: str) -> None:
    completed = subprocess.run(["bash", str(_stack_script()), action], check=False)
    raise typer.Exit(completed.returncode)


@stack_app.command("up")
def stack_up() -> None:
    """Install what is missing, start every service, wait until each answers (idempotent)."""
    _run_stack("up")


@stack_app.command("down")
def stack_down() -> None:
    """Stop the services `up` started, and nothing else."""
    _run_stack("down")


@stack_app.command("status")
def stack_status() -> None:
    """Each service with its port and health; exit status 1 when one is down."""
    _run_stack("status")


@friendly_errors
def init() -> None:
    """Apply pending database migrations and create the Kafka topics. Running it twice changes nothing."""
    from qsmon.storage import apply_migrations, connect
    from qsmon.topics import ensure_topics

    settings = get_settings()
    with connect(settings.dsn) as conn:
        applied = apply_migrations(conn)
    created = ensure_topics(settings)
    typer.echo(f"migrations applied: {', '.join(f'{m.version:03d}_{m.name}' for m in applied) or 'none'}")
    typer.echo(f"topics created: {', '.join(created) or 'none'}")


def config() -> None:
    """Print the effective settings (secrets masked)."""
    print_json(get_settings().masked())


@friendly_errors
def demo() -> None:
    """Run the whole mission on the local stack, step by step."""
    from qsmon import demo as demo_module

    demo_module.run()


def register(app: typer.Typer) -> None:
    app.add_typer(stack_app, name="stack")
    app.command("demo")(demo)
    app.command("init")(init)
    app.command("config")(config)
