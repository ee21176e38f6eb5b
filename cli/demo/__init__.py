"""``qsmon demo``: the whole mission on the local stack, step by step, with what each step shows.

The steps follow the data: results into Kafka (intake), the worker storing them (pipeline), and what they become
(outcomes). Headings are numbered as the steps run.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from cli._common import LOCAL_STACK_DIR
from cli.demo.cases import demo_cases
from cli.demo.console import RUNNING
from cli.demo.intake import demo_import, demo_ingest, demo_init, demo_roundtrip, demo_simulate
from cli.demo.months import demo_counting, demo_months
from cli.demo.operations import demo_health, demo_offsets
from cli.demo.outcomes import demo_alerts, demo_dashboards, demo_report, demo_status
from cli.demo.pipeline import demo_audit, demo_hostile, demo_rates, demo_stop, demo_worker
from cli.demo.readapi import demo_read_api
from qsmon.settings import Settings, get_settings

DEMO_PLANS = LOCAL_STACK_DIR / "demo" / "plans"  # the site's own plan files

STEPS: list[Callable[[Settings], None]] = [
    demo_init,
    demo_offsets,
    demo_roundtrip,
    demo_import,
    demo_ingest,
    demo_simulate,
    demo_worker,
    demo_health,
    demo_hostile,
    demo_rates,
    demo_audit,
    demo_alerts,
    demo_cases,
    demo_counting,
    demo_months,
    demo_status,
    demo_dashboards,
    demo_report,
    demo_read_api,
    demo_stop,
]


def run() -> None:
    """Run every demo step against the local stack (start it with `qsmon stack up`)."""
    settings = get_settings().model_copy(update={"plans_dir": DEMO_PLANS})
    try:
        for demo_step in STEPS:
            demo_step(settings)
    finally:
        for process in RUNNING:  # a failed step must not leave a worker behind
            process.terminate()
    typer.secho("\ndemo complete", fg=typer.colors.GREEN, bold=True)
