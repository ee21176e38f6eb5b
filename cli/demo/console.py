"""How the demo talks: numbered step headings, and the background processes it must stop."""

from __future__ import annotations

import subprocess
import time

import typer

from qsmon.settings import Settings
from qsmon.topics import end_offset_total

_step_number = [0]
RUNNING: list[subprocess.Popen[bytes]] = []  # background services of the demo, stopped at its end


def step(title: str) -> None:
    """A step's heading, numbered in the order the steps run."""
    _step_number[0] += 1
    typer.secho(f"\n== {_step_number[0]}. {title}", fg=typer.colors.CYAN, bold=True)


def stored_offsets(settings: Settings) -> int:
    from qsmon.storage import connect
    from streams.store import stored_offset_total

    with connect(settings.dsn) as conn:
        return stored_offset_total(conn, settings.worker_group, settings.results_topic)


def wait_stored(settings: Settings, timeout_s: float = 180) -> None:
    """Until the worker has applied everything on the results topic (or the timeout passes)."""
    target = end_offset_total(settings)
    deadline = time.monotonic() + timeout_s
    while stored_offsets(settings) < target and time.monotonic() < deadline:
        time.sleep(0.5)
