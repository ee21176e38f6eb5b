"""Dashboard panel latency on 10 million results: ``python -m bench.panels [--count N] [--reuse] [--write-docs]``.

Loads N simulated results (3 years, the 8 counties of 荆州市, the simulator's stream mix and baseline pass rates)
straight into a schema of their own — generated inside PostgreSQL, because 10 million results through Kafka and the
worker would take a quarter of an hour — builds the rollups with the same SQL as `qsmon rollups rebuild`, then runs
every SQL panel of every dashboard, expanded as Grafana would, for a 30-day and a 3-year range, and reports each
panel's p50 / p95.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date, timedelta
from urllib.parse import quote

from alerts.service import sync_reference_data
from bench.docs import replace_section
from dashboards.build import render
from dashboards.macros import expand
from notify.routing import ChannelsConfig
from producers.simulator.profile import PROFILES
from qsmon import clock
from qsmon.plans import presets
from qsmon.regions import children
from qsmon.settings import Settings
from qsmon.storage import apply_migrations, connect
from streams.rebuild import rebuild

SCHEMA = "bench_panels"
VARIABLES = {
    "plan": "jingzhou-2023",
    "indicator": "agricultural-routine-pass",
    "region": "421000",
    "window": "rolling_30d",
    "category": "all",
}


def _mix_values() -> str:
    rows = []
    for p in PROFILES:
        failure = p.failures[0].item if p.failures else "不合格项目"
        stage = p.stages[0].value if p.stages else ""
        grade = "good" if p.grades else ""
        rows.append(
            f"('{p.category.value}', '{p.sampling_type.value}', '{p.subcategory}', '{stage}', '{grade}',"
            f" {p.weight}, {p.pass_rate}, {p.score_mean if p.score_mean is not None else 'NULL'},"
            f" '{failure}', '{p.products[0]}')"
        )
    return ",\n".join(rows)


def load(dsn: str, count: int, last_day: date) -> None:
    counties = [r.code for r in children("421000")]
    weights = [1 / (i + 1) ** 0.5 for i in range(len(counties))]
    county_rows = ",".join(
        f"({i}, '{c}', {w / sum(weights)})" for i, (c, w) in enumerate(zip(counties, weights, strict=True))
    )
    days = 3 * 365
    with connect(dsn) as conn:
        conn.execute("SELECT setseed(0.42)")
        conn.execute(
            "CREATE TEMP TABLE mix (category text, sampling_type text, subcategory text, stage text,"
            " grade text, weight float8, pass_rate float8, score_mean float8, item text, product text)"
            " ON COMMIT PRESERVE ROWS"
        )
        conn.execute(f"INSERT INTO mix VALUES {_mix_values()}")
        conn.execute(
            "CREATE TEMP TABLE mix_cdf AS SELECT *, sum(weight) OVER (ORDER BY subcategory, category)"
            " / sum(weight) OVER () AS upto FROM mix"
        )
        conn.execute("CREATE TEMP TABLE county (i int, code text, weight float8)")
        conn.execute(f"INSERT INTO county VALUES {county_rows}")
        conn.execute("CREATE TEMP TABLE county_cdf AS SELECT *, sum(weight) OVER (ORDER BY i) AS upto FROM county")
        conn.execute(
            f"""
            CREATE TEMP TABLE gen AS
            SELECT 'B' || lpad(n::text, 9, '0') AS sample_id,
                   (%(last)s::timestamp - (random() * {days})::int * interval '1 day' + interval '9 hours'
                     + (random() * 8 * 3600)::int * interval '1 second') AT TIME ZONE 'Asia/Shanghai' AS sampled_at,
                   random() AS r_mix, random() AS r_county, random() AS r_pass, random() AS r_score
            FROM generate_series(1, %(count)s) AS n""",
            {"last": last_day, "count": count},
        )
        conn.execute("""
            CREATE TEMP TABLE rows AS
            SELECT g.sample_id, g.sampled_at, (g.sampled_at AT TIME ZONE 'Asia/Shanghai')::date AS day,
                   m.category, m.sampling_type, m.subcategory, m.stage, c.code AS region_code,
                   CASE WHEN g.r_pass < m.pass_rate THEN 'pass' ELSE 'fail' END AS verdict,
                   CASE WHEN m.grade = '' THEN '' WHEN g.r_pass < m.pass_rate THEN 'good' ELSE 'unqualified' END
                     AS grade,
                   CASE WHEN m.score_mean IS NOT NULL THEN round((m.score_mean - 15 + g.r_score * 30)::numeric, 1)
                   END::float8 AS score, m.item, m.product
            FROM gen g
            CROSS JOIN LATERAL (SELECT * FROM mix_cdf WHERE upto >= g.r_mix ORDER BY upto LIMIT 1) m
            CROSS JOIN LATERAL (SELECT * FROM county_cdf WHERE upto >= g.r_county ORDER BY upto LIMIT 1) c""")
        conn.execute("""
            INSERT INTO inspection_results (sample_id, revision, sampled_at, reported_at, category, subcategory,
                sampling_type, stage, region_code, verdict, grade, score, product, manufacturer, sampled_unit, lab,
                source, failed_items)
            SELECT sample_id, 1, sampled_at, sampled_at + interval '5 days', category, subcategory, sampling_type,
                stage, region_code, verdict, grade, score, product,
                -- A firm has one address and one product line: 40 per county and subcategory (~9,600), and 2,500
                -- sampled units per county (20,000).
                '企业' || region_code || subcategory || (abs(hashtext(sample_id)) % 40),
                '单位' || region_code || '-' || (abs(hashtext(sample_id || 'u')) % 2500),
                '荆州市食品药品检验所', 'bench',
                CASE WHEN verdict = 'fail' THEN jsonb_build_array(jsonb_build_object('item', item)) ELSE '[]' END
            FROM rows""")
        conn.execute("""
            INSERT INTO sample_current (sample_id, revision, sampled_at, day, category, subcategory, sampling_type,
                stage, region_code, verdict, grade, score)
            SELECT sample_id, 1, sampled_at, day, category, subcategory, sampling_type, stage, region_code, verdict,
                grade, score FROM rows""")
        conn.commit()
        rebuild(conn)
        conn.execute("ANALYZE")
        conn.commit()


def panel_queries() -> list[tuple[str, str]]:
    found = []
    for text in render().values():
        board = json.loads(text)
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                if "rawSql" in target:
                    found.append((f"{board['title']} / {panel['title']}", target["rawSql"]))
    return found


def measure(dsn: str, repeats: int) -> list[tuple[str, str, float, float]]:
    now = clock.now().replace(microsecond=0)
    ranges = {"30 天": (now - timedelta(days=30), now), "3 年": (now - timedelta(days=3 * 365), now)}
    results = []
    with connect(dsn) as conn:
        for title, sql in panel_queries():
            for label, (start, end) in ranges.items():
                query = expand(sql, VARIABLES, start, end).encode()
                conn.execute(query).fetchall()  # warm the cache as a dashboard in use is warm
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    conn.execute(query).fetchall()
                    times.append((time.perf_counter() - t0) * 1000)
                times.sort()
                results.append((title, label, statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="keep the loaded schema from an earlier run")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    base = Settings()
    dsn = f"{base.dsn}?options={quote(f'-c search_path={SCHEMA},public')}"
    with connect(base.dsn, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone()
        if exists and not args.reuse:
            admin.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
            exists = None
        if not exists:
            admin.execute(f"CREATE SCHEMA {SCHEMA}")
    started = time.monotonic()
    with connect(dsn) as conn:  # a reused schema gains this release's migrations and reference data too
        apply_migrations(conn)
        sync_reference_data(conn, presets().values())
    if not exists:
        print(f"loading {args.count:,} results …", flush=True)
        load(dsn, args.count, clock.now().date())
    load_s = time.monotonic() - started
    settings = base.model_copy(update={"database_url": type(base.database_url)(dsn)})
    from alerts.engine import AlertEngine

    engine = AlertEngine(settings, {"jingzhou-2023": presets()["jingzhou-2023"]}, ChannelsConfig())
    t0 = time.monotonic()
    engine.sweep()
    sweep_s = time.monotonic() - t0
    engine.close()
    with connect(dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM sample_current), (SELECT count(*) FROM rollup_daily),"
            " (SELECT count(*) FROM rollup_monthly), (SELECT count(*) FROM failure_current),"
            " (SELECT count(*) FROM failed_item_monthly), (SELECT count(*) FROM failed_firm_yearly)"
        ).fetchone()
    sizes = tuple(int(v) for v in row) if row else (0,) * 6
    results = measure(dsn, args.repeats)
    worst = max(r[3] for r in results)
    loaded = "reused the loaded schema" if exists else f"load and rollups {load_s:.0f} s"
    lines = [
        "<!-- bench:panels:start -->",
        f"Command: `python -m bench.panels --count {args.count} --repeats {args.repeats}"
        f"{' --reuse' if exists else ''}`, run {clock.now():%Y-%m-%d}: "
        f"{sizes[0]:,} results; rows read by the panels: {sizes[1]:,} daily and {sizes[2]:,} monthly rollup rows, "
        f"{sizes[3]:,} current failures, {sizes[4]:,} failed-item months, {sizes[5]:,} firm-years "
        f"({loaded}; a full alert sweep of jingzhou-2023 {sweep_s:.1f} s). Each panel's SQL, expanded as "
        f"Grafana would, run {args.repeats}× warm.",
        "",
        "| panel | range | p50 ms | p95 ms |",
        "|---|---|---|---|",
        *[f"| {title} | {label} | {p50:.1f} | {p95:.1f} |" for title, label, p50, p95 in results],
        "",
        f"Slowest p95: {worst:.1f} ms (goal < 100 ms).",
        "<!-- bench:panels:end -->",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_docs:
        replace_section("panels", text)


if __name__ == "__main__":
    main()
