"""``qsmon demo``: the whole mission on the local stack, step by step, with what each step shows."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import typer

from qsmon.schema import InspectionResult, parse_result
from qsmon.settings import Settings, get_settings
from qsmon.vocab import Category, SamplingType, Stage, Verdict


def step(title: str) -> None:
    typer.secho(f"\n== {title}", fg=typer.colors.CYAN, bold=True)


def demo_init(settings: Settings) -> None:
    from qsmon.storage import apply_migrations, connect
    from qsmon.topics import ensure_topics

    step("1. Schema and topics (qsmon init)")
    with connect(settings.dsn) as conn:
        applied = apply_migrations(conn)
    typer.echo(f"   migrations applied now: {len(applied)}; topics created now: {ensure_topics(settings) or 'none'}")


def demo_roundtrip(settings: Settings) -> None:
    """Produce a few results and read them back: Kafka carries the event unchanged."""
    from kafka import KafkaConsumer, TopicPartition

    from producers.kafka_sink import ResultSink

    step("2. Produce five results to Kafka and read them back")
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


STEPS: list[Callable[[Settings], None]] = [demo_init, demo_roundtrip]


def run() -> None:
    """Run every demo step against the local stack (start it with `qsmon stack up`)."""
    settings = get_settings()
    for demo_step in STEPS:
        demo_step(settings)
    typer.secho("\ndemo complete", fg=typer.colors.GREEN, bold=True)
