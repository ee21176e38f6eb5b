"""One public token hammering the read API while another client asks something cheap (issue #31):
``python -m bench.hammer [--results N] [--seconds S] [--threads T] [--uncapped]``.

Loads N simulated 荆州市 results over 20 years into a schema of its own (failures announced a week after their
report, so the public sees them), serves the read API in its own process, and for S seconds runs T threads asking,
with one public token, for twenty years of failures as xlsx, while one client with a read token asks for this
month's rates by county one request after another. Prints that client's p50/p95/p99 and what the hammer got
(200s and 429s). ``--uncapped`` serves with the limits the issue found (no concurrency cap, a minute's burst): the
before. The load is bounded: T threads, S seconds; the schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import quote

import httpx

from producers.simulator import Simulator, SimulatorOptions
from qsmon import clock
from qsmon.settings import Settings
from qsmon.storage import apply_migrations, connect
from qsmon.tokens import Scope, create_token
from streams.records import SourceRecord, classify
from streams.store import ResultStore

SCHEMA = f"bench_hammer_{os.getpid()}"  # its own, whoever else benchmarks on the database


def _load(base: Settings, count: int) -> str:
    today = clock.today(base.timezone)
    with connect(base.dsn, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        admin.execute(f'CREATE SCHEMA "{SCHEMA}"')
    dsn = f"{base.dsn}?options={quote(f'-c search_path={SCHEMA},public')}"
    with connect(dsn) as conn:
        apply_migrations(conn)
    simulated = Simulator(
        SimulatorOptions(seed=5, first_day=today - timedelta(days=20 * 365), last_day=today, correction_rate=0.01)
    ).events(count)
    week = timedelta(days=7)
    events = [
        e.model_copy(update={"announcement_date": e.reported_at.date() + week})
        if e.verdict == "fail" and e.reported_at.date() + week < today
        else e
        for e in simulated
    ]
    store = ResultStore(dsn, group="hammer", topic="hammer")
    records = [SourceRecord(0, i, e.key, e.to_json()) for i, e in enumerate(events)]
    for start in range(0, len(records), 5000):
        batch = records[start : start + 5000]
        store.write(classify(batch, clock.now() + timedelta(days=1))[0], batch)
    store.close()
    return dsn


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


@contextmanager
def _serving(dsn: str, port: int, env_extra: dict[str, str]) -> Iterator[str]:
    """The read API in a process of its own, as `qsmon serve api` runs it: its base URL."""
    env = {
        **os.environ,
        "QSMON_DATABASE_URL": dsn,
        "QSMON_API_PORT": str(port),
        "QSMON_LOG_FORMAT": "json",
        **env_extra,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "api"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _hammer(
    url: str, token: str, params: dict[str, str], stop: threading.Event, statuses: Counter[int], lock: threading.Lock
) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        while not stop.is_set():
            code = client.get("/v1/failures", params=params).status_code
            with lock:
                statuses[code] += 1
            if code == 429:
                time.sleep(0.01)  # a client that retries at once, as the did


def _second_client(url: str, token: str, params: dict[str, str], seconds: float) -> tuple[list[float], Counter[int]]:
    latencies: list[float] = []
    codes: Counter[int] = Counter()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        client.get("/v1/rates", params=params)  # warm
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            started = time.perf_counter()
            codes[client.get("/v1/rates", params=params).status_code] += 1
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    return latencies, codes


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", type=int, default=60_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--port", type=int, default=8497)
    parser.add_argument("--uncapped", action="store_true", help="no concurrency cap, a minute's burst (before)")
    parser.add_argument("--concurrency", type=int, help="QSMON_API_TOKEN_CONCURRENCY to serve with")
    args = parser.parse_args()

    base = Settings()
    dsn = _load(base, args.results)
    with connect(dsn) as conn:
        public = create_token(conn, "hammer", {Scope.PUBLIC}, 100_000)[1]
        reader = create_token(conn, "second client", {Scope.READ}, 100_000)[1]
    extra = {"QSMON_API_TOKEN_CONCURRENCY": "64", "QSMON_API_BURST_SECONDS": "60"} if args.uncapped else {}
    if args.concurrency:
        extra["QSMON_API_TOKEN_CONCURRENCY"] = str(args.concurrency)
    today = clock.today(base.timezone)
    heavy = {
        "from": (today - timedelta(days=20 * 365)).isoformat(),
        "to": today.isoformat(),
        "limit": "1000",
        "format": "xlsx",
    }
    cheap = {
        "from": today.replace(day=1).isoformat(),
        "to": today.isoformat(),
        "group_by": "region",
        "region": "421000",
    }
    try:
        with _serving(dsn, args.port, extra) as url:
            stop, lock, statuses = threading.Event(), threading.Lock(), Counter[int]()
            threads = [
                threading.Thread(target=_hammer, args=(url, public, heavy, stop, statuses, lock), daemon=True)
                for _ in range(args.threads)
            ]
            for t in threads:
                t.start()
            latencies, codes = _second_client(url, reader, cheap, args.seconds)
            stop.set()
            for t in threads:
                t.join(timeout=60)
    finally:
        with connect(base.dsn, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    print(
        f"{'uncapped (before)' if args.uncapped else 'capped'}: {args.results} results over 20 years, "
        f"{args.threads} hammer threads for {args.seconds:.0f} s"
    )
    print(
        f"second client: {len(latencies)} requests {dict(codes)}, p50 {_percentile(latencies, 50):.1f} ms,"
        f" p95 {_percentile(latencies, 95):.1f} ms, p99 {_percentile(latencies, 99):.1f} ms"
    )
    print(f"hammer: {dict(statuses)}")


if __name__ == "__main__":
    main()
