"""End-to-end stream benchmark: ``python -m bench.e2e [--count N] [--workers W] [--write-docs]``.

One run measures, on the same simulated data (with redeliveries and re-inspections mixed in):
  * storage limit — the same batches through the same SQL (ResultStore.write) straight from a file;
  * end to end    — Kafka backlog -> `qsmon worker` process(es) -> TimescaleDB: sustained results/s,
                    peak worker RSS; then a steady trickle for produce-to-stored latency p50 / p99;
  * naive         — one insert and one commit per message (kafka-python consumer, same SQL per record).
Ratios are against the references measured in the same run, never against remembered numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote
from zlib import crc32

import orjson

from bench.docs import replace_section
from producers.simulator import Simulator, SimulatorOptions
from qsmon import clock
from qsmon.settings import Settings
from qsmon.storage import apply_migrations, connect
from qsmon.topics import ensure_topics
from streams.records import SourceRecord, classify
from streams.store import ResultStore, stored_offset_total

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".stack" / "bench"
BATCH = 5000


@dataclass
class Figures:
    count: int
    storage_rate: float = 0.0
    e2e_rate: float = 0.0
    e2e_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    naive_rate: float = 0.0
    naive_count: int = 0
    workers: int = 1


def events_file(count: int, seed: int) -> Path:
    """The simulated events as NDJSON (key TAB value), generated once and reused."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"events-{count}-{seed}.ndjson"
    if not path.exists():
        options = SimulatorOptions(seed=seed, first_day=date(2024, 1, 1), last_day=date(2026, 10, 31),
                                   duplicate_rate=0.05, correction_rate=0.01)
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
    run = f"bench_{tag}_{uuid.uuid4().hex[:6]}"
    with connect(base.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{run}"')
    dsn = f"{base.dsn}?options={quote(f'-c search_path={run},public')}"
    settings = base.model_copy(update={
        "database_url": type(base.database_url)(dsn), "results_topic": f"{run}.results",
        "dlq_topic": f"{run}.dlq", "changes_topic": f"{run}.changes", "worker_group": run,
    })
    with connect(settings.dsn) as conn:
        apply_migrations(conn)
    return settings


def drop(settings: Settings, base: Settings) -> None:
    schema = settings.worker_group
    with connect(base.dsn, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def partition_of(key: bytes, partitions: int) -> int:
    return crc32(key) % partitions


def measure_storage_limit(base: Settings, events: list[tuple[bytes, bytes]]) -> float:
    settings = isolated(base, "storage")
    store = ResultStore(settings.dsn, group=settings.worker_group, topic=settings.results_topic)
    offsets = [0] * base.results_partitions
    records = []
    for key, value in events:
        p = partition_of(key, base.results_partitions)
        records.append(SourceRecord(p, offsets[p], key, value))
        offsets[p] += 1
    now = clock.now()
    started = time.perf_counter()
    for i in range(0, len(records), BATCH):
        batch = records[i:i + BATCH]
        accepted, _ = classify(batch, now)
        store.write(accepted, batch)
    elapsed = time.perf_counter() - started
    store.close()
    drop(settings, base)
    return len(records) / elapsed


def produce(settings: Settings, events: list[tuple[bytes, bytes]], rate: float | None = None) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", compression_type="lz4",
                             linger_ms=20, batch_size=512 * 1024, enable_idempotence=True)
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
    env = {**os.environ, "QSMON_DATABASE_URL": settings.dsn, "QSMON_RESULTS_TOPIC": settings.results_topic,
           "QSMON_DLQ_TOPIC": settings.dlq_topic, "QSMON_CHANGES_TOPIC": settings.changes_topic,
           "QSMON_WORKER_GROUP": settings.worker_group, "QSMON_WORKER_METRICS_PORT": "19501"}
    log = (CACHE / "worker.log").open("ab")
    return [subprocess.Popen([sys.executable, "-m", "cli", "worker"], env=env, stdout=log, stderr=log)
            for _ in range(count)]


def measure_end_to_end(base: Settings, events: list[tuple[bytes, bytes]], workers: int, figures: Figures) -> None:
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
        while stored_offsets(settings) < target:
            time.sleep(0.5)
        with connect(settings.dsn) as conn:
            row = conn.execute("SELECT extract(epoch FROM max(stored_at) - min(stored_at)) FROM inspection_results"
                               ).fetchone()
        figures.e2e_seconds = float(row[0]) if row and row[0] else 0.0
        figures.e2e_rate = target / figures.e2e_seconds if figures.e2e_seconds else 0.0
        print(f"  backlog stored: {figures.e2e_rate:,.0f} results/s; trickle for latency …", flush=True)
        # Steady state well below capacity: what a live feed sees.
        trickle = [(b"LAT-" + k, v.replace(b'"sample_id":"' + k, b'"sample_id":"LAT-' + k))
                   for k, v in events[:20_000]]
        produce(settings, trickle, rate=2000)
        while stored_offsets(settings) < target + len(trickle):
            time.sleep(0.5)
        with connect(settings.dsn) as conn:
            row = conn.execute(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP"
                " (ORDER BY ms) FROM (SELECT extract(epoch FROM stored_at - produced_at) * 1000 AS ms"
                " FROM inspection_results WHERE sample_id LIKE 'LAT-%') t").fetchone()
        figures.latency_p50_ms, figures.latency_p99_ms = (float(row[0]), float(row[1])) if row else (0.0, 0.0)
    finally:
        for p in procs:
            rss[procs.index(p)] = max(rss[procs.index(p)], peak_rss_mb(p.pid))
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
    figures.peak_rss_mb = max(rss)
    figures.workers = workers
    drop(settings, base)


def measure_naive(base: Settings, events: list[tuple[bytes, bytes]], count: int) -> float:
    """One record per transaction: the same SQL, one insert and one commit per message, from Kafka."""
    from kafka import KafkaConsumer

    settings = isolated(base, "naive")
    ensure_topics(settings)
    produce(settings, events[:count])
    store = ResultStore(settings.dsn, group=settings.worker_group, topic=settings.results_topic)
    consumer = KafkaConsumer(settings.results_topic, bootstrap_servers=settings.kafka_bootstrap,
                             group_id=settings.worker_group, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=10_000)
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
    rows = [
        (f"storage limit: same batches ({BATCH:,}), same SQL, from a file", f"{f.storage_rate:,.0f} results/s",
         "1.00", f"{f.storage_rate / f.naive_rate:.1f}×"),
        (f"end to end: Kafka → {f.workers} worker(s) → TimescaleDB",
         f"{f.e2e_rate:,.0f} results/s ({f.e2e_seconds:.1f} s)", f"{f.e2e_rate / f.storage_rate:.2f}",
         f"{f.e2e_rate / f.naive_rate:.1f}×"),
        (f"naive consumer: one insert + one commit per message ({f.naive_count:,} msgs)",
         f"{f.naive_rate:,.0f} results/s", f"{f.naive_rate / f.storage_rate:.3f}", "1.0×"),
        ("produce → stored latency at 2,000/s, p50 / p99",
         f"{f.latency_p50_ms:,.0f} ms / {f.latency_p99_ms:,.0f} ms", "", ""),
        ("peak worker memory (RSS high-water mark)", f"{f.peak_rss_mb:,.0f} MB", "", ""),
    ]
    table = "\n".join(f"| {' | '.join(row)} |" for row in rows)
    return (
        "<!-- bench:e2e:start -->\n"
        f"Command: `{command}`, run {clock.now():%Y-%m-%d} on {os.cpu_count()} cores "
        f"({platform.machine()}); PostgreSQL 15 + TimescaleDB 2.19 (Apache), Kafka 4.0.2, all on loopback; "
        f"{f.count:,} simulated results with 5 % redeliveries and 1 % re-inspections.\n\n"
        "| measurement | figure | vs storage limit | vs naive |\n|---|---|---|---|\n"
        f"{table}\n<!-- bench:e2e:end -->"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--naive-count", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--write-docs", action="store_true", help="update the figures in docs/benchmarks.md")
    parser.add_argument("--only-e2e", action="store_true", help="skip the references (for quick tuning runs)")
    args = parser.parse_args()
    base = Settings()
    figures = Figures(count=args.count, naive_count=args.naive_count)
    print(f"generating {args.count:,} events …", flush=True)
    events = read_events(events_file(args.count, args.seed))
    if args.only_e2e:
        measure_end_to_end(base, events, args.workers, figures)
        print(f"end to end: {figures.e2e_rate:,.0f} results/s, p50 {figures.latency_p50_ms:.0f} ms, "
              f"p99 {figures.latency_p99_ms:.0f} ms, peak RSS {figures.peak_rss_mb:.0f} MB")
        return
    print("storage limit …", flush=True)
    figures.storage_rate = measure_storage_limit(base, events)
    print(f"  {figures.storage_rate:,.0f} results/s\nend to end …", flush=True)
    measure_end_to_end(base, events, args.workers, figures)
    print("naive consumer …", flush=True)
    figures.naive_rate = measure_naive(base, events, args.naive_count)
    command = "python -m bench.e2e " + " ".join(orjson.dumps(a).decode().strip('"') for a in sys.argv[1:])
    text = markdown(figures, command.strip())
    print(text)
    if args.write_docs:
        replace_section("e2e", text)


if __name__ == "__main__":
    main()
