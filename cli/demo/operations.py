"""Operating it: offsets judged against the broker's log, readiness, qsmon's own alerting rules, retention."""

from __future__ import annotations

import httpx
import typer

from cli.demo.console import step
from qsmon.settings import Settings


def demo_offsets(settings: Settings) -> None:
    """The database's offsets against the broker's log; a refused partition is repaired deliberately."""
    from streams.offsets import LogReader, refusals
    from streams.store import ResultStore

    step("Offsets against the broker's log (qsmon offsets show | reset)")
    store = ResultStore(settings.dsn, group=settings.worker_group, topic=settings.results_topic)
    try:
        log = LogReader(settings.kafka_bootstrap, settings.results_topic).read()
        stored = store.stored_offsets()
        refused = refusals(stored, log, log.end)
        typer.echo(
            f"   broker log {log.identity}: {len(log.end)} partitions, {sum(log.end.values())} records;"
            f" the database has offsets for {len(stored)}, {len(refused)} refused"
        )
        for partition, reason in sorted(refused.items()):
            typer.echo(f"   refused: {reason[:160]}...")
            # The demo decides as an operator would here: store what the new log holds.
            store.reset_offset(partition, log.start.get(partition, 0), log)
        if refused:
            typer.echo(
                f"   reset {len(refused)} partition(s) to the log's start (`qsmon offsets reset --to earliest"
                " --yes`): results stored before are not counted twice"
            )
    finally:
        store.close()


def demo_health(settings: Settings) -> None:
    """What a supervisor and Prometheus see: readiness, and the pipeline rules loaded with their state."""
    from qsmon.storage import connect
    from qsmon.storage.retention import apply_retention

    step("Self-monitoring: /readyz, qsmon's own alerting rules, retention")
    port = settings.worker_metrics_port
    ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
    typer.echo(f"   worker /readyz -> {ready.status_code} {ready.text.strip()}")
    prometheus = settings.prometheus_url.get_secret_value()
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    own = [rule for group in groups if group["name"] in ("qsmon-pipeline", "qsmon-alerting") for rule in group["rules"]]
    firing = sorted(f"{r['name']} ({r['state']})" for r in own if r["state"] != "inactive")
    typer.echo(
        f"   Prometheus has {len(own)} of qsmon's own rules (deploy/prometheus/rules), each with a runbook;"
        f" active now: {', '.join(firing) or 'none'}"
    )
    with connect(settings.dsn) as conn:
        outcome = apply_retention(conn, settings)
    typer.echo(
        f"   retention (qsmon retention run): history kept "
        f"{settings.retention_history_days or 'forever'}"
        f"{' days' if settings.retention_history_days else ''}, delivered notifications"
        f" {settings.retention_outbox_days} days; deleted now: {outcome.outbox_rows_deleted} notifications"
    )
