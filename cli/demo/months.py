"""Counting bases and month close: 制造业产品质量合格率 where products were made, a closed month, a late correction."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, timedelta

import typer

from cli.demo.console import step, wait_stored
from qsmon import clock
from qsmon.settings import Settings

DEMO_PLAN = "jingzhou-2023"


def _cli(*args: str) -> list[str]:
    completed = subprocess.run([sys.executable, "-m", "cli", *args], check=True, capture_output=True, text=True)
    return completed.stdout.splitlines()


def demo_counting(settings: Settings) -> None:
    from indicators.evaluate import fetch_counts, measured
    from indicators.labels import counting_text, number
    from indicators.windows import DayRange
    from qsmon.plans import presets
    from qsmon.plans.counting import Counting
    from qsmon.plans.model import Place
    from qsmon.storage import connect

    step("Counting basis (统计口径): 制造业产品质量合格率 counts where products were made")
    plan = presets(settings.plans_dir)[DEMO_PLAN]
    made = plan.indicator("manufactured-pass")
    sampled = made.model_copy(update={"place": Place.SAMPLING_SITE})
    today = clock.today(settings.timezone)
    days = DayRange(today - timedelta(days=89), today)
    with connect(settings.dsn) as conn:
        for indicator in (sampled, made):
            counts = fetch_counts(conn, plan, indicator, days, timezone=settings.timezone)
            city = next(c for s, c in counts.items() if s.region_code == plan.jurisdiction.code and not s.subcategory)
            _, value, _ = measured(indicator, city)
            typer.echo(
                f"   {counting_text(Counting.of(plan, indicator)):<24} 近90天 {city.tested:>5} 批次"
                f"  合格率 {number(value, indicator.measure)}"
            )
        placed = conn.execute(
            "SELECT count(*) FROM sample_current WHERE manufacturer_region_code IS NOT NULL"
            " AND category = 'manufactured'"
        ).fetchone()
    if not placed or not placed[0]:
        typer.echo(
            "   (no stored product carries its manufacturer's place: this database was filled by a simulator"
            " older than the field; a fresh stack shows both)"
        )
        return
    typer.echo(
        "   (the plan counts by the manufacturer's county; products sampled here but made in 武汉 or 深圳"
        " leave it, and 荆州-made products sampled in another county stay in)"
    )


def demo_months(settings: Settings) -> None:
    from indicators.windows import month_range, shift_month
    from producers.kafka_sink import ResultSink
    from qsmon.schema import InspectionResult
    from qsmon.storage import connect
    from qsmon.vocab import Category, SamplingType, Stage, Verdict

    step("Month close (qsmon months close): what was reported upward stays; late corrections show as 上报后更正")
    today = clock.today(settings.timezone)
    year, month = shift_month(today.year, today.month, -1)
    closed = f"{year}-{month:02d}"
    for line in _cli("months", "close", closed, "--by", "市局统计科", "--note", "演示上报", "--again"):
        typer.echo(f"   $ qsmon months close {closed} … → {line}")
    under_way = f"{today.year}-{today.month:02d}"
    refused = subprocess.run(
        [sys.executable, "-m", "cli", "months", "close", under_way, "--by", "市局统计科"],
        check=False,
        capture_output=True,
        text=True,
    )
    typer.echo(f"   $ qsmon months close {under_way} … → exit {refused.returncode}: {refused.stderr.strip()}")
    with connect(settings.dsn) as conn:
        row = conn.execute(
            "SELECT sample_id, revision, sampled_at, reported_at, category, subcategory, sampling_type, stage,"
            " region_code FROM sample_current WHERE verdict = 'fail' AND category = 'food'"
            " AND sampling_type = 'evaluative' AND day BETWEEN %s AND %s ORDER BY sample_id LIMIT 1",
            (month_range(year, month).first, month_range(year, month).last),
        ).fetchone()
    if row is None:
        typer.echo(f"   no failed food sample in {closed} to correct")
        return
    sample_id, revision, sampled_at, reported_at, category, subcategory, sampling_type, stage, region = row
    now = clock.now()
    void = InspectionResult(
        sample_id=sample_id,
        revision=revision + 1,
        sampled_at=sampled_at,
        reported_at=max(reported_at or now, now - timedelta(minutes=1)),
        category=Category(category),
        subcategory=subcategory,
        sampling_type=SamplingType(sampling_type),
        stage=Stage(stage) if stage else None,
        region_code=region,
        verdict=Verdict.VOID,
        source="demo-correction",
    )
    late = void.model_copy(
        update={
            "sample_id": f"DEMO-LATE-{now:%Y%m%d%H%M%S}",
            "revision": 1,
            "verdict": Verdict.PASS,
            "reported_at": now.astimezone(UTC),
        }
    )
    with ResultSink(settings, client_id="qsmon-demo") as sink:
        sink.send_all([void, late])
    wait_stored(settings)
    typer.echo(f"   after the close: {sample_id} voided (异议成立) and one late {closed} sample reported")
    lines = _cli("months", "changes", "--plan", DEMO_PLAN, "--before", f"{today.year}-{today.month:02d}")
    for line in lines if len(lines) <= 5 else [*lines[:4], "…", lines[-1]]:
        typer.echo(f"   {line}")
