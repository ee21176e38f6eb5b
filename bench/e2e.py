"""End-to-end stream benchmark: ``python -m bench.e2e [--count N] [--workers 1,2,3] [--write-docs]``.

One run measures, on the same simulated data (with redeliveries and re-inspections mixed in):
  * bare COPY     — the events' columns COPYed (binary) into a plain hypertable, a transaction per batch: what
                    the database takes from one client with nothing to validate, de-duplicate or roll up;
  * storage path  — the worker's own pipeline (validation, dead-lettering, ResultStore.write, its two stages)
                    fed the same batches from a file: Kafka and faust removed;
  * end to end    — per worker count: Kafka backlog -> `qsmon worker` process(es) -> TimescaleDB: sustained
                    results/s, peak worker RSS; then a steady 2,000/s trickle for produce-to-stored latency;
  * naive         — one insert and one commit per message (kafka-python consumer, same SQL per record).
Ratios are against the references measured in the same run, never against remembered numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote
from zlib import crc32

import orjson
from prometheus_client import CollectorRegistry

from bench import profile
from bench.docs import replace_section
from producers.simulator import Simulator, SimulatorOptions
from qsmon import clock
from qsmon.changes import RollupKey
from qsmon.settings import Settings
from qsmon.storage import apply_migrations, connect
from qsmon.topics import drop_topics, ensure_topics
from streams.batch_sql import TEMP_TABLE
from streams.metrics import WorkerMetrics
from streams.pipeline import WritePipeline
from streams.processor import BatchProcessor
from streams.records import COLUMNS, COPY_TYPES, Rejected, SourceRecord, classify
from streams.run import tune_interpreter
from streams.store import ResultStore, stored_offset_total

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".stack" / "bench"
BATCH = 5000
PROFILE_NOTE = "200 samples/s on the worker's threads, attributed by bench.profile.PARTS"


@dataclass
class EndToEnd:
    workers: int
    rate: float = 0.0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    profile: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Figures:
    count: int
    copy_rate: float = 0.0
    storage_rate: float = 0.0
    runs: list[EndToEnd] = field(default_factory=list)
    naive_rate: float = 0.0
    naive_count: int = 0


def events_file(count: int, seed: int) -> Path:
    """The simulated events as NDJSON (key TAB value), generated once and reused while the simulator is the same:
    the file is named by a digest of its options, its source and its first events, so a changed simulator (or
    event schema) makes a new one and the stale one is deleted."""
    import producers.simulator
    import qsmon.schema

    CACHE.mkdir(parents=True, exist_ok=True)
    options = SimulatorOptions(
        seed=seed, first_day=date(2024, 1, 1), last_day=date(2026, 10, 31), duplicate_rate=0.05, correction_rate=0.01
    )
    digest = hashlib.sha256(repr(options).encode())
    sources = [Path(qsmon.schema.__file__), *sorted(Path(producers.simulator.__file__).parent.glob("*.py"))]
    for source in sources:
        digest.update(source.read_bytes())
    for event in Simulator(options).events(min(count, 1000)):
        digest.update(event.to_json())
    path = CACHE / f"events-{count}-{seed}-{digest.hexdigest()[:12]}.ndjson"
    if not path.exists():
        for stale in CACHE.glob(f"events-{count}-{seed}-*.ndjson"):
            stale.unlink()
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as out:
            for event in Simulator(options).events(count):
                out.write(event.key + b"\t" + event.to_json() + b"\n")
        tmp.rename(path)
    return path


def read_events(path: Path) -> list[tuple[bytes, bytes]]:
    with path.open("rb") as f:
        return [tuple(line.rstrip(b"\n").split(b"\t", 1)) for line in f]  # type: ignore[misc]


def isolated(base: Settings, tag: str) -> Settings:
    run = f"bench_{tag}_{uuid.uuid4().hex[:6]}".lower()  # unquoted in search_path below: folded to lower case
    with connect(base.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{run}"')
    dsn = f"{base.dsn}?options={quote(f'-c search_path={run},public')}"
    settings = base.model_copy(
        update={
            "database_url": type(base.database_url)(dsn),
            "results_topic": f"{run}.results",
            "dlq_topic": f"{run}.dlq",
            "changes_topic": f"{run}.changes",
            "worker_group": run,
        }
    )
    with connect(settings.dsn) as conn:
        apply_migrations(conn)
    return settings


def drop(settings: Settings, base: Settings) -> None:
    schema = settings.worker_group
    with connect(base.dsn, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    drop_topics(settings)  # a million records each: left behind, they slow the broker for every later run


def partition_of(key: bytes, partitions: int) -> int:
    return crc32(key) % partitions


def numbered(events: list[tuple[bytes, bytes]], partitions: int) -> list[SourceRecord]:
    """The events as a topic of ``partitions`` would hold them (same keying as the producers)."""
    offsets = [0] * partitions
    records = []
    for key, value in events:
        p = partition_of(key, partitions)
        records.append(SourceRecord(p, offsets[p], key, value, time.time()))
        offsets[p] += 1
    return records


def measure_copy_ceiling(base: Settings, events: list[tuple[bytes, bytes]]) -> float:
    """The events' columns COPYed (binary) into a hypertable, BATCH rows per transaction: the ceiling."""
    settings = isolated(base, "copy")
    rows = []
    for key, value in events:  # decoding is not part of the ceiling: only what the database is handed
        event = orjson.loads(value)
        event["failed_items"] = orjson.dumps(event.get("failed_items", [])).decode()
        event["sampled_at"] = datetime.fromisoformat(event["sampled_at"])
        event["reported_at"] = datetime.fromisoformat(event["reported_at"])
        event["sample_id"] = key.decode()
        rows.append(tuple(event.get(column) for column in COLUMNS))
    with connect(settings.dsn) as conn:
        conn.execute(
            TEMP_TABLE.replace("CREATE TEMP TABLE IF NOT EXISTS incoming", "CREATE TABLE ceiling").replace(
                "ON COMMIT DELETE ROWS", ""
            )
        )
        conn.execute("SELECT create_hypertable('ceiling', by_range('sampled_at', INTERVAL '1 month'))")
        conn.commit()
        started = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY ceiling ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(list(COPY_TYPES))
                for row in rows[i : i + BATCH]:
                    copy.write_row(row)
            conn.commit()
        elapsed = time.perf_counter() - started
    drop(settings, base)
    return len(rows) / elapsed


def measure_storage_path(base: Settings, events: list[tuple[bytes, bytes]]) -> float:
    """The worker's pipeline (streams.pipeline: validate batch k+1 while batch k is written) from a file."""
    settings = isolated(base, "storage")
    store = ResultStore(settings.dsn, group=settings.worker_group, topic=settings.results_topic)
    records = numbered(events, base.results_partitions)
    # The collector and the GIL's switch interval as the worker sets them up; the records, like the events, are
    # the fixture, which a worker never holds: left tracked, every full collection would walk a million of them.
    thresholds, switch_interval = gc.get_threshold(), sys.getswitchinterval()
    tune_interpreter()

    async def no_dead_letters(items: Sequence[Rejected]) -> None:
        if items:  # the simulator's events are all valid
            raise RuntimeError(f"storage path rejected an event: {items[0].reason}")

    async def no_feed(keys: set[RollupKey]) -> None:
        pass

    async def stored(offsets: dict[int, int]) -> None:
        pass

    processor = BatchProcessor(store, WorkerMetrics(CollectorRegistry()), no_dead_letters, no_feed)
    pipeline = WritePipeline(processor, stored)

    async def run() -> float:
        started = time.perf_counter()
        for i in range(0, len(records), BATCH):
            await pipeline.submit(records[i : i + BATCH])
        await pipeline.finish()
        return time.perf_counter() - started

    try:
        elapsed = asyncio.run(run())
    finally:
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(switch_interval)
    total = stored_offsets(settings)
    store.close()
    drop(settings, base)
    if total != len(records):
        raise RuntimeError(f"storage path stored {total} of {len(records)}")
    return len(records) / elapsed


def produce(settings: Settings, events: list[tuple[bytes, bytes]], rate: float | None = None) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        compression_type="lz4",
        linger_ms=20,
        batch_size=512 * 1024,
        enable_idempotence=True,
    )
    started = time.monotonic()
    for n, (key, value) in enumerate(events):
        producer.send(settings.results_topic, key=key, value=value)
        if rate and n % 200 == 0:
            time.sleep(max(0.0, n / rate - (time.monotonic() - started)))
    producer.flush()
    producer.close()


def stored_offsets(settings: Settings) -> int:
    with connect(settings.dsn) as conn:
        return stored_offset_total(conn, settings.worker_group, settings.results_topic)


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def start_workers(settings: Settings, count: int) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "QSMON_DATABASE_URL": settings.dsn,
        "QSMON_RESULTS_TOPIC": settings.results_topic,
        "QSMON_DLQ_TOPIC": settings.dlq_topic,
        "QSMON_CHANGES_TOPIC": settings.changes_topic,
        "QSMON_WORKER_GROUP": settings.worker_group,
        "QSMON_WORKER_METRICS_PORT": "19501",
    }
    log = (CACHE / "worker.log").open("ab")
    return [
        subprocess.Popen([sys.executable, "-m", "cli", "worker"], env=env, stdout=log, stderr=log) for _ in range(count)
    ]


def measure_end_to_end(
    base: Settings, events: list[tuple[bytes, bytes]], workers: int, profile_seconds: float = 0.0
) -> EndToEnd:
    run = EndToEnd(workers)
    settings = isolated(base, "e2e")
    ensure_topics(settings)
    print(f"  producing {len(events):,} records to {settings.results_topic} …", flush=True)
    produce(settings, events)
    target = len(events)
    procs = start_workers(settings, workers)
    rss = [0.0] * len(procs)

    def sample_rss() -> None:
        while any(p.poll() is None for p in procs):
            for i, p in enumerate(procs):
                rss[i] = max(rss[i], peak_rss_mb(p.pid))
            time.sleep(0.5)

    threading.Thread(target=sample_rss, daemon=True).start()
    try:
        if profile_seconds:  # one worker, in the middle of the backlog
            while stored_offsets(settings) < target // 10:
                time.sleep(0.2)
            run.profile = profile.record(procs[0].pid, profile_seconds, CACHE / f"worker-profile-{workers}.raw")
        while stored_offsets(settings) < target:
            time.sleep(0.5)
        with connect(settings.dsn) as conn:
            row = conn.execute(
                "SELECT extract(epoch FROM max(stored_at) - min(stored_at)) FROM inspection_results"
            ).fetchone()
        run.seconds = float(row[0]) if row and row[0] else 0.0
        run.rate = target / run.seconds if run.seconds else 0.0
        print(
            f"  {workers} worker(s): backlog stored at {run.rate:,.0f} results/s ({run.seconds:.1f} s); "
            "trickle for latency …",
            flush=True,
        )
        # Steady state well below capacity: what a live feed sees.
        trickle = [(b"LAT-" + k, v.replace(b'"sample_id":"' + k, b'"sample_id":"LAT-' + k)) for k, v in events[:20_000]]
        produce(settings, trickle, rate=2000)
        while stored_offsets(settings) < target + len(trickle):
            time.sleep(0.5)
        with connect(settings.dsn) as conn:
            row = conn.execute(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP"
                " (ORDER BY ms) FROM (SELECT extract(epoch FROM stored_at - produced_at) * 1000 AS ms"
                " FROM inspection_results WHERE sample_id LIKE 'LAT-%') t"
            ).fetchone()
        run.latency_p50_ms, run.latency_p99_ms = (float(row[0]), float(row[1])) if row else (0.0, 0.0)
    finally:
        for p in procs:
            rss[procs.index(p)] = max(rss[procs.index(p)], peak_rss_mb(p.pid))
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
    run.peak_rss_mb = max(rss)
    drop(settings, base)
    return run


def measure_naive(base: Settings, events: list[tuple[bytes, bytes]], count: int) -> float:
    """One record per transaction: the same SQL, one insert and one commit per message, from Kafka."""
    from kafka import KafkaConsumer

    settings = isolated(base, "naive")
    ensure_topics(settings)
    produce(settings, events[:count])
    store = ResultStore(settings.dsn, group=settings.worker_group, topic=settings.results_topic)
    consumer = KafkaConsumer(
        settings.results_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.worker_group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    now = clock.now()
    seen = 0
    started = time.perf_counter()
    for message in consumer:
        record = SourceRecord(message.partition, message.offset, message.key, message.value)
        accepted, _ = classify([record], now)
        store.write(accepted, [record])
        seen += 1
        if seen >= count:
            break
    elapsed = time.perf_counter() - started
    consumer.close()
    store.close()
    drop(settings, base)
    return seen / elapsed


def markdown(f: Figures, command: str) -> str:
    def ratios(rate: float) -> list[str]:
        return [f"{rate / f.copy_rate:.2f}", f"{rate / f.storage_rate:.2f}", f"{rate / f.naive_rate:.0f}×"]

    rows = [
        [
            f"bare COPY (binary) of the events into a hypertable, {BATCH:,} per transaction",
            f"{f.copy_rate:,.0f} results/s",
            *ratios(f.copy_rate),
        ],
        [
            "storage path: the worker's pipeline and SQL, same batches, from a file",
            f"{f.storage_rate:,.0f} results/s",
            *ratios(f.storage_rate),
        ],
    ]
    for run in f.runs:
        rows.append(
            [
                f"end to end: Kafka → {run.workers} worker(s) → TimescaleDB",
                f"{run.rate:,.0f} results/s ({run.seconds:.1f} s)",
                *ratios(run.rate),
            ]
        )
    rows.append(
        [
            f"naive consumer: one insert + one commit per message ({f.naive_count:,} msgs)",
            f"{f.naive_rate:,.0f} results/s",
            *ratios(f.naive_rate),
        ]
    )
    for run in f.runs:
        rows.append(
            [
                f"{run.workers} worker(s): produce → stored latency at 2,000/s, p50 / p99; peak RSS per worker",
                f"{run.latency_p50_ms:,.0f} ms / {run.latency_p99_ms:,.0f} ms; {run.peak_rss_mb:,.0f} MB",
                "",
                "",
                "",
            ]
        )
    table = "\n".join(f"| {' | '.join(row)} |" for row in rows)
    profiles = "".join(
        f"\n\nWhere one of {run.workers} worker(s)' CPU went while draining the backlog (py-spy, {PROFILE_NOTE}):\n\n"
        f"| part | share of samples |\n|---|---|\n{profile.markdown(run.profile)}"
        for run in f.runs
        if run.profile
    )
    return (
        "<!-- bench:e2e:start -->\n"
        f"Command: `{command}`, run {clock.now():%Y-%m-%d} on {os.cpu_count()} cores "
        f"({platform.machine()}); PostgreSQL 15 + TimescaleDB 2.19 (Apache), Kafka 4.0.2, all on loopback; "
        f"{f.count:,} simulated results with 5 % redeliveries and 1 % re-inspections.\n\n"
        "| measurement | figure | vs bare COPY | vs storage path | vs naive |\n|---|---|---|---|---|\n"
        f"{table}{profiles}\n<!-- bench:e2e:end -->"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--workers", default="2", help="worker counts to run end to end, e.g. 1,2,3")
    parser.add_argument("--naive-count", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--write-docs", action="store_true", help="update the figures in docs/benchmarks.md")
    parser.add_argument("--only-e2e", action="store_true", help="skip the references (for quick tuning runs)")
    parser.add_argument(
        "--profile",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="py-spy one worker of each run for this long while it drains the backlog",
    )
    args = parser.parse_args()
    worker_counts = [int(n) for n in args.workers.split(",")]
    base = Settings()
    figures = Figures(count=args.count, naive_count=args.naive_count)
    print(f"generating {args.count:,} events …", flush=True)
    events = read_events(events_file(args.count, args.seed))
    gc.freeze()  # the events are the fixture: the collector need not walk them while the references run
    if not args.only_e2e:
        print("bare COPY …", flush=True)
        figures.copy_rate = measure_copy_ceiling(base, events)
        print(f"  {figures.copy_rate:,.0f} results/s\nstorage path …", flush=True)
        figures.storage_rate = measure_storage_path(base, events)
        print(f"  {figures.storage_rate:,.0f} results/s", flush=True)
    for workers in worker_counts:
        print(f"end to end, {workers} worker(s) …", flush=True)
        figures.runs.append(measure_end_to_end(base, events, workers, args.profile))
    if args.only_e2e:
        for run in figures.runs:
            print(
                f"{run.workers} worker(s): {run.rate:,.0f} results/s, p50 {run.latency_p50_ms:.0f} ms, "
                f"p99 {run.latency_p99_ms:.0f} ms, peak RSS {run.peak_rss_mb:.0f} MB"
            )
        return
    print("naive consumer …", flush=True)
    figures.naive_rate = measure_naive(base, events, args.naive_count)
    command = "python -m bench.e2e " + " ".join(orjson.dumps(a).decode().strip('"') for a in sys.argv[1:])
    text = markdown(figures, command.strip())
    print(text)
    if args.write_docs:
        replace_section("e2e", text)


if __name__ == "__main__":
    main()
