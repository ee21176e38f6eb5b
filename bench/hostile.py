"""Hostile input: ``python -m bench.hostile [--outages] [--write-docs]``.

What one bad client or record costs the others, each against a baseline measured in the same run:
* the ingest API: an 8 MB body of 4.19 M one-byte lines and one of 20,000 large invalid records, against a valid
  batch of 1,000 results: status, answer size, answer time, and the slowest ``/healthz`` answer meanwhile;
* the worker: 2,000 results stored behind a record the database refuses (bisection), against 2,000 without it;
* with ``--outages`` (stops services of the local stack): Kafka down → the API's answer; PostgreSQL back →
  the worker storing again.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr

from bench.docs import replace_section
from bench.e2e import CACHE, ROOT, drop, isolated
from producers.ingest_api import server_config
from producers.kafka_sink import ResultSink
from qsmon import clock
from qsmon.schema import InspectionResult
from qsmon.settings import Settings
from qsmon.storage import connect
from qsmon.topics import end_offset_total, ensure_topics
from qsmon.vocab import Category, SamplingType, Verdict
from streams.store import stored_offset_total

TOKEN = "bench-token"  # noqa: S105 - the benchmark's own throwaway server


def results(prefix: str, count: int, **extra: Any) -> list[InspectionResult]:
    now = clock.now()
    return [
        InspectionResult(
            sample_id=f"{prefix}-{i}",
            sampled_at=now - timedelta(days=1),
            reported_at=now,
            category=Category.FOOD,
            sampling_type=SamplingType.EVALUATIVE,
            region_code="421002",
            product="白菜",
            verdict=Verdict.PASS,
            source="bench",
            **extra,
        )
        for i in range(count)
    ]


def stack(action: str, service: str) -> None:
    subprocess.run(["bash", str(ROOT / "deploy/local/stack.sh"), action, service], check=True, capture_output=True)


def wait(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not within {timeout}s")
        time.sleep(interval)
    return time.monotonic() - started


class Api:
    def __init__(self, settings: Settings) -> None:
        configured = settings.model_copy(update={"ingest_tokens": (SecretStr(TOKEN),), "ingest_port": 18499})
        self.server = uvicorn.Server(server_config(configured))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait(lambda: self.server.started, 20)
        self.url = "http://127.0.0.1:18499"

    def post(self, body: bytes, ndjson: bool = True) -> httpx.Response:
        kind = "application/x-ndjson" if ndjson else "application/json"
        return httpx.post(
            f"{self.url}/v1/results",
            content=body,
            timeout=120,
            headers={"authorization": f"Bearer {TOKEN}", "content-type": kind},
        )

    def timed(self, body: bytes) -> tuple[httpx.Response, float, float]:
        """The answer, its time, and the slowest health check answered while the request ran."""
        answer: list[httpx.Response] = []
        sender = threading.Thread(target=lambda: answer.append(self.post(body)))
        started = time.monotonic()
        sender.start()
        slowest = 0.0
        while sender.is_alive():
            check = time.monotonic()
            httpx.get(f"{self.url}/healthz", timeout=10)
            slowest = max(slowest, time.monotonic() - check)
            time.sleep(0.02)
        sender.join()
        return answer[0], time.monotonic() - started, slowest

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def bench_ingest(settings: Settings) -> list[str]:
    api = Api(settings)
    try:
        idle = max(wait(lambda: httpx.get(f"{api.url}/healthz", timeout=5).status_code == 200, 5) for _ in range(20))
        valid = b"\n".join(r.to_json() for r in results("B", 1000))
        bodies = {
            "1,000 valid results (baseline)": valid,
            "8 MB: 4.19 M one-byte lines": b"1\n" * (4 * 1024 * 1024),
            "8 MB: 20,000 invalid records": b"\n".join(
                r.to_json().replace(b'"pass"', b'"maybe"') + b" " * 80 for r in results("X", 20_000)
            ),
        }
        rows = [
            "| request | answer | answer size | answer time | slowest `/healthz` meanwhile |",
            "|---|---|---|---|---|",
        ]
        baseline = 0.0
        for name, body in bodies.items():
            response, seconds, slowest = api.timed(body)
            baseline = baseline or seconds
            rows.append(
                f"| {name} | {response.status_code} | {len(response.content):,} B | {seconds * 1000:,.0f} ms"
                f" ({seconds / baseline:.1f}× the baseline) | {slowest * 1000:,.0f} ms |"
            )
        rows.append(f"\nAn idle `/healthz` answers in {idle * 1000:.0f} ms at worst (20 tries).")
        return rows
    finally:
        api.stop()


def run_worker(settings: Settings, log_name: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "QSMON_DATABASE_URL": settings.dsn,
        "QSMON_RESULTS_TOPIC": settings.results_topic,
        "QSMON_DLQ_TOPIC": settings.dlq_topic,
        "QSMON_CHANGES_TOPIC": settings.changes_topic,
        "QSMON_WORKER_GROUP": settings.worker_group,
        "QSMON_WORKER_METRICS_PORT": "19521",
    }
    log = (CACHE / log_name).open("ab")
    return subprocess.Popen([sys.executable, "-m", "cli", "worker"], env=env, stdout=log, stderr=log, cwd=ROOT)


def stored(settings: Settings) -> int:
    with connect(settings.dsn) as conn:
        return stored_offset_total(conn, settings.worker_group, settings.results_topic)


def bench_worker(base: Settings, outages: bool) -> list[str]:
    settings = isolated(base, "hostile")
    ensure_topics(settings)
    with connect(settings.dsn) as conn:  # a constraint validation does not know: the database refuses the record
        conn.execute("ALTER TABLE inspection_results ADD CONSTRAINT bench_refuses CHECK (product <> 'poison')")
        conn.commit()
    worker = run_worker(settings, "hostile-worker.log")
    rows = []
    try:
        with ResultSink(settings, client_id="bench-hostile") as sink:
            sink.deliver(results("WARM", 10))
        wait(lambda: stored(settings) == 10, 90)
        dirty = results("DIRTY", 2000)
        dirty[1000] = dirty[1000].model_copy(update={"product": "poison"})
        timings = {}
        for name, batch in (
            ("2,000 results (baseline)", results("CLEAN", 2000)),
            ("2,000 results, one the database refuses", dirty),
        ):
            with ResultSink(settings, client_id="bench-hostile") as sink:
                started = time.monotonic()
                sink.deliver(batch)
                total = end_offset_total(settings)
                wait(lambda t=total: stored(settings) >= t, 120)  # type: ignore[misc]
                timings[name] = time.monotonic() - started
        refused = end_offset_total(settings, settings.dlq_topic)
        if refused != 1:
            raise RuntimeError(f"expected the one refused record in the dead-letter topic, found {refused}")
        baseline = timings["2,000 results (baseline)"]
        rows += ["| worker batch | produce → stored | vs baseline |", "|---|---|---|"]
        rows += [
            f"| {name} | {seconds * 1000:,.0f} ms | {seconds / baseline:.2f}× |" for name, seconds in timings.items()
        ]
        if outages:
            stack("stop", "postgres")
            with ResultSink(settings, client_id="bench-hostile") as sink:
                sink.deliver(results("OUTAGE", 100))
            time.sleep(20)
            stack("start", "postgres")
            back = time.monotonic()
            wait(lambda: stored(settings) >= end_offset_total(settings), 60, interval=0.1)
            rows.append(
                f"\nPostgreSQL stopped for 20 s with 100 results waiting: stored "
                f"{(time.monotonic() - back) * 1000:,.0f} ms after it accepted connections again."
            )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        stack("start", "postgres")
        drop(settings, base)
    return rows


def bench_kafka_down(base: Settings) -> str:
    api = Api(isolated(base, "kafka-down"))
    try:
        api.post(results("K", 1)[0].to_json(), ndjson=False)
        stack("stop", "kafka")
        started = time.monotonic()
        answer = api.post(results("K2", 1)[0].to_json(), ndjson=False)
        return (
            f"Kafka stopped: the ingest API answered {answer.status_code} after "
            f"{(time.monotonic() - started) * 1000:,.0f} ms."
        )
    finally:
        stack("start", "kafka")
        api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outages", action="store_true", help="also stop Kafka and PostgreSQL (local stack)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    base = Settings()
    ingest = isolated(base, "ingest")
    ensure_topics(ingest)
    try:
        lines = bench_ingest(ingest)
    finally:
        drop(ingest, base)
    lines += ["", *bench_worker(base, args.outages)]
    if args.outages:
        lines += ["", bench_kafka_down(base)]
    command = "python -m bench.hostile" + (" --outages" if args.outages else "")
    text = "\n".join(
        [
            "<!-- bench:hostile:start -->",
            f"Command: `{command}`, run {clock.now():%Y-%m-%d} on the local stack.",
            "",
            *lines,
            "<!-- bench:hostile:end -->",
        ]
    )
    print(text)
    if args.write_docs:
        replace_section("hostile", text)


if __name__ == "__main__":
    main()
