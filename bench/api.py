"""Read API latency on 10 million results: ``python -m bench.api [--reuse] [--seconds S] [--write-docs]``.

Uses the schema ``bench.panels`` loads (10 million simulated 荆州市 results over 3 years; loaded here when missing),
serves the read API on loopback in its own process, and drives it with wrk (Debian's package) at 16 connections for
each request kind: p50 / p95 / p99 per request, and the throughput. The baseline, measured in the same run, is the
same query run directly on one database connection: the ratio says what the HTTP layer (auth, validation, rendering,
ETag) adds to the SQL.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx

from bench.docs import replace_section
from bench.panels import SCHEMA
from qsmon import clock
from qsmon.settings import Settings
from qsmon.storage import apply_migrations, connect
from qsmon.tokens import Scope, create_token, revoke_token

CONNECTIONS = 16
THREADS = 2
# wrk prints the percentiles its Lua `done` hook asks for; p95 is not among its defaults. The token comes from the
# environment, which only its user can read: on wrk's command line every user of the machine would see it (ps).
DONE_LUA = """
wrk.headers["Authorization"] = "Bearer " .. os.getenv("QSMON_BENCH_TOKEN")
done = function(summary, latency, requests)
  io.write(string.format("P50 %f\\nP95 %f\\nP99 %f\\nREQS %d\\nERRS %d\\n", latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
"""


def requests_to_measure(today: str, month_first: str, year_first: str) -> list[tuple[str, str, dict[str, str]]]:
    return [
        (
            "rates by county, this month",
            "/v1/rates",
            {"from": month_first, "to": today, "group_by": "region", "region": "421000"},
        ),
        (
            "rates by month, 3 years, food",
            "/v1/rates",
            {"from": year_first, "to": today, "group_by": "month", "region": "421000", "category": "food"},
        ),
        (
            "rates by day, 30 days, one county",
            "/v1/rates",
            {"from": month_first, "to": today, "group_by": "day", "region": "421083"},
        ),
        ("current evaluations of a plan", "/v1/evaluations", {"plan": "jingzhou-2023", "region": "421000"}),
        (
            "rates by county as CSV",
            "/v1/rates",
            {"from": month_first, "to": today, "group_by": "region", "region": "421000", "format": "csv"},
        ),
    ]


def _wrk(url: str, token: str, seconds: int, script: Path) -> dict[str, float]:
    run = subprocess.run(
        ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency", "-s", str(script), url],
        env={**os.environ, "QSMON_BENCH_TOKEN": token},
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    figures = dict(re.findall(r"^(P50|P95|P99|REQS|ERRS) ([\d.]+)$", run.stdout, re.MULTILINE))
    return {k: float(v) for k, v in figures.items()} | {"seconds": float(seconds)}


def _direct_sql_ms(dsn: str, path: str, params: dict[str, str], repeats: int = 30) -> float:
    """The request's query run straight on one connection (p50, warm): the baseline the API adds to."""
    from datetime import date

    from readapi import queries

    times = []
    with connect(dsn) as conn:
        for _ in range(repeats):
            started = time.perf_counter()
            if path == "/v1/rates":
                queries.rates(
                    conn,
                    queries.RateQuery(
                        date.fromisoformat(params["from"]),
                        date.fromisoformat(params["to"]),
                        params["region"],
                        params["group_by"],
                        params.get("category"),
                    ),
                )
            else:
                queries.evaluations(conn, params["plan"], None, params["region"], None, None, 100)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


@contextmanager
def _serving(dsn: str, port: int) -> Iterator[None]:
    """The read API on ``port`` in a process of its own (as `qsmon serve api` runs it), until the block ends."""
    env = {**os.environ, "QSMON_DATABASE_URL": dsn, "QSMON_API_PORT": str(port), "QSMON_LOG_FORMAT": "json"}
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "api"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _table(rows: list[tuple[str, dict[str, float], float]], count: int, seconds: int) -> str:
    worst = max(f["P95"] for _, f, _ in rows)
    return "\n".join(
        [
            "<!-- bench:api:start -->",
            f"Command: `python -m bench.api --seconds {seconds}`, run {clock.now():%Y-%m-%d}: {count:,} results "
            f"(the panels benchmark's schema), wrk {CONNECTIONS} connections × {seconds} s per request on loopback,"
            " the API in one process on the same 2 cores as PostgreSQL and wrk.",
            "",
            "| request | p50 ms | p95 ms | p99 ms | requests/s | errors | SQL alone, p50 ms | p50 ÷ SQL |",
            "|---|---|---|---|---|---|---|---|",
            *[
                f"| {title} | {f['P50']:.1f} | {f['P95']:.1f} | {f['P99']:.1f} | {f['REQS'] / f['seconds']:.0f} |"
                f" {f['ERRS']:.0f} | {direct:.1f} | {f['P50'] / direct:.1f}× |"
                for title, f, direct in rows
            ],
            "",
            f"Slowest p95: {worst:.1f} ms (goal < 50 ms at {CONNECTIONS} concurrent clients).",
            "<!-- bench:api:end -->",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per request kind")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: `apt-get install wrk` (make bench-api installs it)")
    base = Settings()
    dsn = f"{base.dsn}?options={quote(f'-c search_path={SCHEMA},public')}"
    with connect(base.dsn) as admin:
        loaded = admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone()
    if not loaded:  # the panels benchmark loads the data (and measures the panels on it)
        subprocess.run([sys.executable, "-m", "bench.panels", "--repeats", "3"], check=True)
    with connect(dsn) as conn:
        apply_migrations(conn)  # a schema loaded by an older release gains the token table
        results_count = conn.execute("SELECT count(*) FROM sample_current").fetchone()
        created, token = create_token(conn, "bench-api", {Scope.READ}, rate_per_minute=10_000_000)
    rows = []
    try:
        port = 18490
        today = clock.today(base.timezone)
        kinds = requests_to_measure(
            today.isoformat(), (today - timedelta(days=29)).isoformat(), today.replace(year=today.year - 3).isoformat()
        )
        with _serving(dsn, port), tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "done.lua"
            script.write_text(DONE_LUA, encoding="utf-8")
            for title, path, params in kinds:
                url = f"http://127.0.0.1:{port}{path}?{urlencode(params)}"
                httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).raise_for_status()
                figures = _wrk(url, token, args.seconds, script)
                rows.append((title, figures, _direct_sql_ms(dsn, path, params)))
                print(f"{title}: p95 {figures['P95']:.1f} ms", flush=True)
    finally:  # a read token with a limit no client needs: it does not outlive the run
        try:
            with connect(dsn) as conn:
                revoke_token(conn, created.id)
        except Exception as exc:  # say so rather than hide the run's own failure
            print(
                f"warning: revoke the token bench-api (id {created.id}) by hand ({type(exc).__name__})", file=sys.stderr
            )
    text = _table(rows, int(results_count[0]) if results_count else 0, args.seconds)
    print(text)
    if args.write_docs:
        replace_section("api", text)


if __name__ == "__main__":
    main()
