"""The stream worker at work: live counts, a poisoned record and a hostile viewer, rates, the audit, the stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import typer

from cli.demo.console import RUNNING, step, stored_offsets, wait_stored
from qsmon import clock
from qsmon.schema import InspectionResult
from qsmon.settings import Settings
from qsmon.topics import end_offset_total
from qsmon.vocab import Category, SamplingType, Verdict


def _stored_totals(settings: Settings) -> tuple[int, int, int]:
    from qsmon.storage import connect

    with connect(settings.dsn) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(tested),0), coalesce(sum(passed),0), coalesce(sum(failed),0) FROM rollup_daily"
        ).fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)


def demo_worker(settings: Settings) -> None:
    """Start a real worker and watch the stored counts grow until it has caught up."""
    step("Stream worker (qsmon worker): Kafka -> TimescaleDB, live counts")
    worker = subprocess.Popen(
        [sys.executable, "-m", "cli", "worker"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    RUNNING.append(worker)
    target = end_offset_total(settings)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        tested, passed, failed = _stored_totals(settings)
        typer.echo(f"   stored {tested:>6} final verdicts: {passed} pass, {failed} fail (risk monitoring included)")
        if stored_offsets(settings) >= target:
            break
        time.sleep(2)
    else:
        raise typer.Exit(1)
    _show_backlog_rate(settings)
    _show_scraped_metrics(settings)
    typer.echo("   worker caught up; it keeps running for the next steps")


def _show_backlog_rate(settings: Settings) -> None:
    """How fast the worker drained the backlog: history rows over the span of their commits (bench.e2e's measure)."""
    from qsmon.storage import connect

    with connect(settings.dsn) as conn:
        row = conn.execute(
            "SELECT count(*), extract(epoch FROM max(stored_at) - min(stored_at)) FROM inspection_results"
        ).fetchone()
    count, seconds = (int(row[0]), float(row[1] or 0)) if row else (0, 0.0)
    if seconds > 0:
        typer.echo(
            f"   backlog: {count:,} results stored in {seconds:.1f} s ({count / seconds:,.0f} results/s, one"
            " worker, whole fetches per batch; `make bench` measures a million)"
        )


def _show_scraped_metrics(settings: Settings) -> None:
    """What the local Prometheus scraped from the worker's /metrics."""
    import httpx

    query = "sum by (verdict) (qsmon_results_processed_total)"
    prometheus = settings.prometheus_url.get_secret_value()
    for _ in range(30):  # Prometheus scrapes every 5 s
        answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=10).json()
        series = answer.get("data", {}).get("result", [])
        if series:
            shown = ", ".join(f"{s['metric'].get('verdict')}={float(s['value'][1]):.0f}" for s in series)
            typer.echo(f"   Prometheus has scraped the worker: {query} -> {shown}")
            return
        time.sleep(1)
    typer.echo("   Prometheus has not scraped the worker yet")


def demo_hostile(settings: Settings) -> None:
    """A record the schema refuses and a dashboard viewer's SQL: neither stops storage."""
    import orjson
    import psycopg
    from kafka import KafkaProducer

    from producers.kafka_sink import ResultSink
    from qsmon.exceptions import StorageError
    from qsmon.storage import connect

    step("One bad record, one hostile dashboard viewer: storage goes on")
    now = clock.now()
    followers = [
        InspectionResult(
            sample_id=f"AFTER-{int(now.timestamp())}-{i}",
            sampled_at=now,
            reported_at=now,
            category=Category.FOOD,
            sampling_type=SamplingType.EVALUATIVE,
            region_code="421002",
            verdict=Verdict.PASS,
            source="demo",
        )
        for i in range(21)
    ]
    poisoned = orjson.loads(followers.pop().to_json()) | {"source": "lab\u0000"}  # what the database would refuse
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    producer.send(settings.results_topic, key=poisoned["sample_id"].encode(), value=orjson.dumps(poisoned))
    producer.flush()
    producer.close()
    with ResultSink(settings) as sink:
        sink.send_all(followers)
    started = time.monotonic()
    wait_stored(settings, timeout_s=30)
    typer.echo(
        f"   a result with a NUL went to {settings.dlq_topic}; the 20 behind it were stored in "
        f"{time.monotonic() - started:.1f}s"
    )
    from cli.deadletters import described
    from streams.dead_letters import read_dead_letters

    for letter in read_dead_letters(settings):
        if letter.key == poisoned["sample_id"].encode():
            typer.echo(f"   qsmon deadletters list: {letter.position} {described(letter, reason_chars=90)}")
    reader = psycopg.conninfo.conninfo_to_dict(settings.dsn) | {
        "user": "qsmon_grafana",
        "password": os.environ.get("PG_READER_PASSWORD", "qsmon_grafana"),
    }
    try:
        with connect(psycopg.conninfo.make_conninfo("", **reader), autocommit=True) as viewer:
            for sql in (
                "SELECT pg_advisory_lock(hashtext('inspection.results.v1'), 0)",
                "SELECT last_error FROM notification_outbox",
                "SELECT * FROM stream_offsets",
            ):
                try:
                    viewer.execute(sql)
                    typer.echo(f"   as Grafana's role: {sql[:60]} -> allowed (!)")
                except psycopg.errors.InsufficientPrivilege as exc:
                    typer.echo(f"   as Grafana's role: {sql[:60]} -> {str(exc).splitlines()[0]}")
    except StorageError as exc:  # a database without the local stack's reader password: say so, go on
        typer.echo(f"   (Grafana's role not reachable here: {str(exc).splitlines()[0]})")


def demo_rates(settings: Settings) -> None:
    """Pass rates of the last 30 local days by category, and the incident's county against its neighbours."""
    from indicators.counting import in_totals_sql, rate, shown_text
    from indicators.labels import label
    from qsmon.regions import name_of
    from qsmon.storage import connect

    step("Last 30 days: pass rate by category; 蔬菜 by county (the incident shows)")
    today = clock.today(settings.timezone)
    with connect(settings.dsn) as conn:
        by_category = conn.execute(  # results in totals: risk monitoring and surveys stand apart
            f"SELECT category, sum(tested), sum(passed) FROM rollup_daily WHERE day > %s::date - 30"
            f" AND {in_totals_sql()} GROUP BY category HAVING sum(tested) > 0 ORDER BY category",
            (today,),
        ).fetchall()
        by_county = conn.execute(
            "SELECT region_code, sum(tested), sum(passed) FROM rollup_daily WHERE day > %s::date - 10"
            " AND subcategory = '蔬菜' GROUP BY region_code ORDER BY sum(passed)::float / sum(tested)",
            (today,),
        ).fetchall()
    for category, tested, passed in by_category:
        typer.echo(f"   {label(Category(category)):<8} {tested:>6} samples  {shown_text(rate(passed, tested)):>7}")
    typer.echo("   蔬菜, last 10 days:")
    for region, tested, passed in by_county[:4]:
        typer.echo(f"   {name_of(region):<8} {tested:>6} samples  {shown_text(rate(passed, tested)):>7}")


def demo_audit(settings: Settings) -> None:
    from qsmon.storage import connect
    from streams.rebuild import DERIVED, differences

    step("Audit: rollups recomputed from the stored final verdicts (qsmon rollups rebuild)")
    with connect(settings.dsn) as conn:
        found = differences(conn)
    typer.echo(
        f"   differences between what the worker keeps and the truth: {len(found)}"
        f" (checked {', '.join(d.table for d in DERIVED)})"
    )
    if found:
        raise typer.Exit(1)


def demo_stop(settings: Settings) -> None:
    step("Stop the background worker (SIGTERM: a write under way finishes, nothing unstored is committed)")
    for process in RUNNING:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    typer.echo(f"   stopped {len(RUNNING)} process(es) cleanly")
    RUNNING.clear()
