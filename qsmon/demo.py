"""``qsmon demo``: the whole mission on the local stack, step by step, with what each step shows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from qsmon.schema import InspectionResult, parse_result
from qsmon.settings import Settings, get_settings
from qsmon.topics import end_offset_total
from qsmon.vocab import Category, SamplingType, Stage, Verdict

_step_number = [0]


def step(title: str) -> None:
    """A step's heading, numbered in the order the steps run."""
    _step_number[0] += 1
    typer.secho(f"\n== {_step_number[0]}. {title}", fg=typer.colors.CYAN, bold=True)


def demo_init(settings: Settings) -> None:
    from qsmon.storage import apply_migrations, connect
    from qsmon.topics import ensure_topics

    step("Schema and topics (qsmon init)")
    with connect(settings.dsn) as conn:
        applied = apply_migrations(conn)
    typer.echo(f"   migrations applied now: {len(applied)}; topics created now: {ensure_topics(settings) or 'none'}")


def demo_roundtrip(settings: Settings) -> None:
    """Produce a few results and read them back: Kafka carries the event unchanged."""
    from kafka import KafkaConsumer, TopicPartition

    from producers.kafka_sink import ResultSink

    step("Produce five results to Kafka and read them back")
    now = datetime.now(UTC)
    results = [
        InspectionResult(
            sample_id=f"DEMO-{int(now.timestamp())}-{i}",
            sampled_at=now - timedelta(days=1),
            reported_at=now,
            category=Category.FOOD,
            subcategory="蔬菜",
            sampling_type=SamplingType.EVALUATIVE,
            stage=Stage.DISTRIBUTION,
            region_code="421003",
            product="普通白菜",
            verdict=Verdict.PASS if i else Verdict.FAIL,
            source="demo",
        )
        for i in range(5)
    ]
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, consumer_timeout_ms=2000)
    partitions = [TopicPartition(settings.results_topic, p)
                  for p in sorted(consumer.partitions_for_topic(settings.results_topic) or [])]
    consumer.assign(partitions)
    consumer.seek_to_end()
    positions = {tp: consumer.position(tp) for tp in partitions}
    with ResultSink(settings, client_id="qsmon-demo") as sink:
        sink.send_all(results)
    wanted = {r.sample_id for r in results}
    for tp, offset in positions.items():
        consumer.seek(tp, offset)
    seen: set[str] = set()
    deadline = time.monotonic() + 20
    while seen != wanted and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            seen.update(parse_result(r.value).sample_id for r in records if r.key and r.key.decode() in wanted)
    consumer.close()
    typer.echo(f"   sent {len(results)}, read back {len(seen & wanted)} from topic {settings.results_topic}")
    if seen != wanted:
        raise typer.Exit(1)


DEMO_SCENARIO = Path(__file__).resolve().parents[1] / "producers/simulator/scenarios/honghu-vegetables.yaml"


def demo_import(settings: Settings) -> None:
    """A workbook in the layout bureaus publish, with the quirks of real ones, into Kafka."""
    import tempfile

    from producers.importers import import_files
    from producers.importers.example import build_samr_workbook
    from producers.importers.samr import SamrOptions
    from producers.kafka_sink import ResultSink

    step("Import a SAMR announcement workbook (qsmon import): pass and fail sheets, merged cells, bad rows")
    with tempfile.TemporaryDirectory() as tmp:
        workbook = build_samr_workbook(Path(tmp) / "2026年第3期抽检公告.xlsx")
        with ResultSink(settings, client_id="qsmon-demo") as sink:
            summary = import_files([workbook], fmt="samr", sink=sink, samr=SamrOptions(),
                                   rejects_path=Path(tmp) / "rejects.csv")
    typer.echo(f"   rows read {summary.rows_read}, valid {summary.valid}, rejected {summary.rejected}, "
               f"sent {summary.sent}")
    for rejection in summary.rejections:
        typer.echo(f"   rejected: sheet {rejection.sheet} row {rejection.row}: {rejection.reason}")


def demo_ingest(settings: Settings) -> None:
    """The HTTP ingest API as a lab system uses it."""
    import httpx

    step("HTTP ingest API (qsmon serve ingest): a lab system posts results")
    token = "demo-token"  # noqa: S105 - a throwaway token for the demo's own server
    env = {**os.environ, "QSMON_INGEST_TOKENS": f'["{token}"]', "QSMON_INGEST_PORT": "18480"}
    server = subprocess.Popen([sys.executable, "-m", "qsmon.cli", "serve", "ingest"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:18480/v1/results"
    try:
        for _ in range(100):
            try:
                httpx.get("http://127.0.0.1:18480/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        now = datetime.now(UTC)
        good = [InspectionResult(sample_id=f"LAB-{int(now.timestamp())}-{i}", sampled_at=now - timedelta(days=2),
                                 reported_at=now, category=Category.DRUG, sampling_type=SamplingType.EVALUATIVE,
                                 region_code="421002", product="布洛芬片", verdict=Verdict.PASS, source="api")
                for i in range(3)]
        auth = {"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"}
        batch = b"\n".join(r.to_json() for r in good)
        ok = httpx.post(url, content=batch, headers=auth, timeout=30)
        typer.echo(f"   POST 3 results (NDJSON, token)      -> {ok.status_code} {ok.json()}")
        anonymous = httpx.post(url, content=good[0].to_json(), timeout=30)
        typer.echo(f"   POST without a token                -> {anonymous.status_code}")
        bad = httpx.post(url, content=batch + b'\n{"sample_id": "LAB-X", "verdict": "maybe"}', headers=auth,
                         timeout=30)
        first_error = bad.json()["errors"][0]
        typer.echo(f"   POST a batch with one bad record    -> {bad.status_code}: line {first_error['line']}: "
                   f"{first_error['error'][:60]}…")
        poisoned = good[0].to_json().replace(b'"source":"api"', b'"source":"lab\\u0000"')
        nul = httpx.post(url, content=poisoned, headers=auth, timeout=30)
        typer.echo(f"   POST a NUL in the source field      -> {nul.status_code}: "
                   f"{nul.json()['errors'][0]['error'][:70]}")
        text = httpx.post(url, content=batch, headers=auth | {"content-type": "text/plain"}, timeout=30)
        typer.echo(f"   POST as text/plain                  -> {text.status_code}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def demo_simulate(settings: Settings) -> None:
    """Sixty days of 荆州市 results with an incident, redeliveries and re-inspections mixed in."""
    from producers.simulate import send_history
    from producers.simulator import SimulatorOptions, load_scenario

    step("Simulate 60 days of 荆州市 inspection results (5 % redelivered, 1 % re-inspected)")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    options = SimulatorOptions(seed=2026, region="421000", first_day=today - timedelta(days=59), last_day=today,
                               duplicate_rate=0.05, correction_rate=0.01, scenario=load_scenario(DEMO_SCENARIO))
    report = send_history(settings, options, 30_000)
    typer.echo(f"   sent {report.sent} results in {report.seconds:.1f}s; incident: {DEMO_SCENARIO.name}")


def _stored_totals(settings: Settings) -> tuple[int, int, int]:
    from qsmon.storage import connect

    with connect(settings.dsn) as conn:
        row = conn.execute("SELECT coalesce(sum(tested),0), coalesce(sum(passed),0), coalesce(sum(failed),0)"
                           " FROM rollup_daily").fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)


def _stored_offsets(settings: Settings) -> int:
    from qsmon.storage import connect
    from streams.store import stored_offset_total

    with connect(settings.dsn) as conn:
        return stored_offset_total(conn, settings.worker_group, settings.results_topic)


_RUNNING: list[subprocess.Popen[bytes]] = []  # background services of the demo, stopped at its end


def _wait_stored(settings: Settings, timeout_s: float = 180) -> None:
    target = end_offset_total(settings)
    deadline = time.monotonic() + timeout_s
    while _stored_offsets(settings) < target and time.monotonic() < deadline:
        time.sleep(0.5)


def demo_worker(settings: Settings) -> None:
    """Start a real worker and watch the stored counts grow until it has caught up."""
    step("Stream worker (qsmon worker): Kafka -> TimescaleDB, live counts")
    worker = subprocess.Popen([sys.executable, "-m", "qsmon.cli", "worker"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _RUNNING.append(worker)
    target = end_offset_total(settings)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        tested, passed, failed = _stored_totals(settings)
        rate = f"{passed / tested * 100:.2f}%" if tested else "-"
        typer.echo(f"   stored {tested:>6} final verdicts: {passed} pass, {failed} fail, pass rate {rate}")
        if _stored_offsets(settings) >= target:
            break
        time.sleep(2)
    else:
        raise typer.Exit(1)
    _show_scraped_metrics(settings)
    typer.echo("   worker caught up; it keeps running for the next steps")


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


def demo_rates(settings: Settings) -> None:
    """Pass rates of the last 30 local days by category, and the incident's county against its neighbours."""
    from qsmon.regions import name_of
    from qsmon.storage import connect
    from qsmon.vocab import Category

    step("Last 30 days: pass rate by category; 蔬菜 by county (the incident shows)")
    with connect(settings.dsn) as conn:
        by_category = conn.execute(
            "SELECT category, sum(tested), sum(passed) FROM rollup_daily"
            " WHERE day > (now() AT TIME ZONE 'Asia/Shanghai')::date - 30 AND category NOT IN"
            " ('public_service', 'service') GROUP BY category ORDER BY category").fetchall()
        by_county = conn.execute(
            "SELECT region_code, sum(tested), sum(passed) FROM rollup_daily"
            " WHERE day > (now() AT TIME ZONE 'Asia/Shanghai')::date - 10 AND subcategory = '蔬菜'"
            " GROUP BY region_code ORDER BY sum(passed)::float / sum(tested)").fetchall()
    for category, tested, passed in by_category:
        typer.echo(f"   {Category(category).label:<8} {tested:>6} samples  {passed / tested * 100:6.2f}%")
    typer.echo("   蔬菜, last 10 days:")
    for region, tested, passed in by_county[:4]:
        typer.echo(f"   {name_of(region):<8} {tested:>6} samples  {passed / tested * 100:6.2f}%")


def demo_alerts(settings: Settings) -> None:
    """Plan indicators evaluated live: alerts fire, notify a webhook and Alertmanager, and resolve."""
    import tempfile
    import threading

    import httpx

    from alerts.notify.formats import markdown
    from alerts.service import run_service
    from alerts.testing import WebhookReceiver

    step("Alerts (qsmon alerts run): 荆州市质量强市建设实施方案 evaluated live, with notifications")
    _load_rules_into_prometheus(settings)
    receiver = WebhookReceiver()
    alertmanager = settings.alertmanager_url.get_secret_value()
    with tempfile.TemporaryDirectory() as tmp:
        channels = Path(tmp) / "channels.yaml"
        channels.write_text(f"channels:\n  - {{name: duty, type: webhook, url: '{receiver.url}'}}\n"
                            f"  - {{name: am, type: alertmanager, url: '{alertmanager}'}}\n", encoding="utf-8")
        configured = settings.model_copy(update={
            "channels_file": channels, "active_plans": ("jingzhou-2023",), "alerts_hold_seconds": 5.0,
            "alerts_sweep_seconds": 3.0, "alerts_group": f"qsmon-demo-alerts-{int(time.time())}"})
        stop = threading.Event()
        service = threading.Thread(target=run_service, args=(configured, stop), kwargs={"metrics": False},
                                   daemon=True)
        service.start()
        try:
            deadline = time.monotonic() + 30
            while not receiver.received and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(2)
            opened = [m for m in receiver.received if m["transition"] in ("opened", "reopened")]
            honghu = next((m for m in opened if m["region"] == "421083"), opened[0] if opened else None)
            if not honghu:
                typer.echo("   no new alert fired (a re-run: earlier alerts are still open, see qsmon alerts list)")
            else:
                typer.echo(f"   {len(opened)} alerts fired; the webhook received each once. The incident county:")
                for line in markdown(honghu).splitlines():
                    typer.echo(f"     {line}")
            active = httpx.get(f"{alertmanager}/api/v2/alerts",
                               params={"filter": 'plan="jingzhou-2023"'}, timeout=10).json()
            typer.echo(f"   Alertmanager (API v2) shows {len(active)} alerts for the plan, labelled plan / indicator /"
                       " region / severity")
            typer.echo("   the incident ends: 洪湖市 re-inspections and new samples pass …")
            _recover_honghu(settings)
            deadline = time.monotonic() + 60
            while not any(m["transition"] == "resolved" and m["region"] == "421083" for m in receiver.received) \
                    and time.monotonic() < deadline:
                time.sleep(1)
            resolved = [m for m in receiver.received if m["transition"] == "resolved"]
            if resolved:
                typer.echo(f"   {len(resolved)} alerts resolved after the 5 s hold, e.g. "
                           + ", ".join(f"{m['region_name']} {m['indicator_name']} {m['window_label']}"
                                       for m in resolved[:2]))
            else:
                typer.echo("   no alert resolved in this run (a re-run: the incident was resolved before)")
        finally:
            stop.set()
            service.join(timeout=30)
            receiver.stop()


def _load_rules_into_prometheus(settings: Settings) -> None:
    """The rules generated from the plans, into the local Prometheus (reloaded by SIGHUP: no lifecycle API)."""
    import httpx

    from alerts.prom_rules import rules_yaml
    from qsmon.plans import presets

    rules_dir = Path(__file__).resolve().parents[1] / ".stack" / "prometheus" / "rules"
    if not rules_dir.is_dir():
        return
    (rules_dir / "qsmon.yml").write_text(rules_yaml(presets().values()), encoding="utf-8")
    prometheus = settings.prometheus_url.get_secret_value()
    subprocess.run(["bash", str(rules_dir.parents[2] / "deploy/local/stack.sh"), "reload", "prometheus"], check=True)
    time.sleep(1)  # the reload is asynchronous
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    typer.echo(f"   Prometheus loaded {sum(len(g['rules']) for g in groups)} generated rules "
               "(qsmon alerts prometheus-rules)")


def _recover_honghu(settings: Settings) -> None:
    from producers.kafka_sink import ResultSink

    now = datetime.now(UTC)
    with ResultSink(settings, client_id="qsmon-demo") as sink:
        for i in range(1500):
            sink.send(InspectionResult(
                sample_id=f"DEMO-RECOVERY-{i:05d}", sampled_at=now - timedelta(hours=1 + i % 200), reported_at=now,
                category=Category.AGRICULTURAL, subcategory="蔬菜", sampling_type=SamplingType.ROUTINE_MONITORING,
                stage=Stage.DISTRIBUTION, region_code="421083", product="莲藕", verdict=Verdict.PASS,
                source="demo"))
    _wait_stored(settings)


def demo_status(settings: Settings) -> None:
    from qsmon.storage import connect

    step("Status (qsmon status --plan jingzhou-2023): the city-wide figures per indicator, rolling 30 days")
    with connect(settings.dsn) as conn:
        rows = conn.execute(
            "SELECT indicator_id, tested, value, low, high, op, target, state FROM indicator_evaluations"
            " WHERE plan_id = 'jingzhou-2023' AND region_code = '421000' AND subcategory = ''"
            " AND window_name IN ('rolling_30d', 'quarter_to_date') ORDER BY indicator_id").fetchall()
    for indicator, tested, value, low, high, op, target, state in rows:
        shown = "—" if value is None else f"{value:6.2f} [{low:.1f}–{high:.1f}]"
        typer.echo(f"   {indicator:<36} n={tested:<6} {shown:<22} target {op} {target if target else ''}  {state}")


def demo_dashboards(settings: Settings) -> None:
    """The Grafana dashboards as code: current JSON, and every SQL panel executed as Grafana would run it."""
    import json

    from dashboards.build import render, stale
    from dashboards.macros import expand
    from qsmon.storage import connect

    step("Dashboards (qsmon dashboards build|check|push): every SQL panel run against the database")
    typer.echo(f"   committed dashboards/json is {'current' if not stale() else 'STALE'}")
    now = datetime.now(UTC).replace(microsecond=0)
    variables = {"plan": "jingzhou-2023", "indicator": "agricultural-routine-pass", "region": "421000",
                 "window": "rolling_30d", "category": "all"}
    with connect(settings.dsn) as conn:
        for text in render().values():
            board = json.loads(text)
            counts = []
            for panel in board["panels"]:
                for target in panel.get("targets", []):
                    if "rawSql" in target:
                        sql = expand(target["rawSql"], variables, now - timedelta(days=30), now)
                        counts.append(len(conn.execute(sql.encode()).fetchall()))
            shown = ", ".join(str(c) for c in counts) if counts else "PromQL panels (Prometheus)"
            typer.echo(f"   {board['title']:<16} rows per SQL panel (last 30 days): {shown}")


def demo_report(settings: Settings) -> None:
    """The monthly report of the simulated month: workbook, PDF and CSV."""
    from qsmon.plans import presets
    from reports.run import write_report

    step("Monthly report (qsmon report monthly --plan jingzhou-2023 --month …)")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    out = Path(__file__).resolve().parents[1] / "reports-out"
    files = write_report(settings, presets()["jingzhou-2023"], today.year, today.month, out)
    for path in files[:2]:
        typer.echo(f"   {path.relative_to(out.parent)} ({path.stat().st_size // 1024} KiB)")
    typer.echo(f"   … and {len(files) - 2} CSV tables (UTF-8 with BOM) in {out.name}/")


def demo_hostile(settings: Settings) -> None:
    """A record the schema refuses and a dashboard viewer's SQL: neither stops storage."""
    import orjson
    import psycopg
    from kafka import KafkaProducer

    from producers.kafka_sink import ResultSink
    from qsmon.exceptions import StorageError
    from qsmon.storage import connect

    step("One bad record, one hostile dashboard viewer: storage goes on")
    now = datetime.now(UTC)
    followers = [InspectionResult(sample_id=f"AFTER-{int(now.timestamp())}-{i}", sampled_at=now, reported_at=now,
                                  category=Category.FOOD, sampling_type=SamplingType.EVALUATIVE,
                                  region_code="421002", verdict=Verdict.PASS, source="demo") for i in range(21)]
    poisoned = orjson.loads(followers.pop().to_json()) | {"source": "lab\u0000"}  # what the database would refuse
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    producer.send(settings.results_topic, key=poisoned["sample_id"].encode(), value=orjson.dumps(poisoned))
    producer.flush()
    producer.close()
    with ResultSink(settings) as sink:
        sink.send_all(followers)
    started = time.monotonic()
    _wait_stored(settings, timeout_s=30)
    typer.echo(f"   a result with a NUL went to {settings.dlq_topic}; the 20 behind it were stored in "
               f"{time.monotonic() - started:.1f}s")
    reader = psycopg.conninfo.conninfo_to_dict(settings.dsn) | {"user": "qsmon_grafana",
                                                                 "password": os.environ.get("PG_READER_PASSWORD",
                                                                                            "qsmon_grafana")}
    try:
        with connect(psycopg.conninfo.make_conninfo("", **reader), autocommit=True) as viewer:
            for sql in ("SELECT pg_advisory_lock(hashtext('inspection.results.v1'), 0)",
                        "SELECT last_error FROM notification_outbox", "SELECT * FROM stream_offsets"):
                try:
                    viewer.execute(sql)
                    typer.echo(f"   as Grafana's role: {sql[:60]} -> allowed (!)")
                except psycopg.errors.InsufficientPrivilege as exc:
                    typer.echo(f"   as Grafana's role: {sql[:60]} -> {str(exc).splitlines()[0]}")
    except StorageError as exc:  # a database without the local stack's reader password: say so, go on
        typer.echo(f"   (Grafana's role not reachable here: {str(exc).splitlines()[0]})")


def demo_stop(settings: Settings) -> None:
    step("Stop the background worker (SIGTERM: a write under way finishes, nothing unstored is committed)")
    for process in _RUNNING:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    typer.echo(f"   stopped {len(_RUNNING)} process(es) cleanly")
    _RUNNING.clear()


def demo_audit(settings: Settings) -> None:
    from qsmon.storage import connect
    from streams.rebuild import DERIVED, differences

    step("Audit: rollups recomputed from the stored final verdicts (qsmon rollups rebuild)")
    with connect(settings.dsn) as conn:
        found = differences(conn)
    typer.echo(f"   differences between what the worker keeps and the truth: {len(found)}"
               f" (checked {', '.join(d.table for d in DERIVED)})")
    if found:
        raise typer.Exit(1)


STEPS: list[Callable[[Settings], None]] = [
    demo_init, demo_roundtrip, demo_import, demo_ingest, demo_simulate, demo_worker, demo_hostile, demo_rates,
    demo_audit,
    demo_alerts, demo_status, demo_dashboards, demo_report, demo_stop,
]


def run() -> None:
    """Run every demo step against the local stack (start it with `qsmon stack up`)."""
    settings = get_settings()
    try:
        for demo_step in STEPS:
            demo_step(settings)
    finally:
        for process in _RUNNING:  # a failed step must not leave a worker behind
            process.terminate()
    typer.secho("\ndemo complete", fg=typer.colors.GREEN, bold=True)
