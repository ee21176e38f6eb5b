"""The Kafka topics qsmon owns, with their partition counts and configs; created by ``qsmon init``."""

from __future__ import annotations

from dataclasses import dataclass, field

from qsmon.exceptions import QsmonError
from qsmon.settings import Settings

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    return [
        # Keyed by sample_id: every revision of a sample lands on one partition, in order.
        TopicSpec(
            settings.results_topic,
            settings.results_partitions,
            {"retention.ms": str(30 * DAY_MS), "compression.type": "producer", "min.insync.replicas": "1"},
        ),
        # Invalid records with their reasons; kept long enough for a person to look at them.
        TopicSpec(settings.dlq_topic, 1, {"retention.ms": str(90 * DAY_MS)}),
        # Rollup keys changed by each committed batch; consumers only need the recent past.
        TopicSpec(settings.changes_topic, 1, {"retention.ms": str(1 * DAY_MS)}),
    ]


def ensure_topics(settings: Settings, *, timeout_s: float = 30.0) -> list[str]:
    """Create missing topics; returns the names created (empty when all exist)."""
    from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id="qsmon-init",
            request_timeout_ms=int(timeout_s * 1000),
        )
    except KafkaError as exc:
        raise QsmonError("cannot reach Kafka", bootstrap=settings.kafka_bootstrap, error=repr(exc)) from exc
    created: list[str] = []
    try:
        existing = set(admin.list_topics())
        for spec in topic_specs(settings):
            if spec.name in existing:
                described = admin.describe_topics([spec.name])[0]
                have = len(described["partitions"])
                if have < spec.partitions:  # partitions can grow, never shrink
                    admin.create_partitions({spec.name: NewPartitions(total_count=spec.partitions)})
                    created.append(f"{spec.name} (+{spec.partitions - have} partitions)")
                continue
            try:
                admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, 1, topic_configs=spec.configs)],
                    timeout_ms=int(timeout_s * 1000),
                )
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # created concurrently by another init
    finally:
        admin.close()
    return created


def end_offset_total(settings: Settings, topic: str | None = None) -> int:
    """Records ever written to a topic (sum of its partitions' end offsets): what a caught-up consumer has read."""
    from kafka import KafkaConsumer, TopicPartition

    name = topic or settings.results_topic
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        partitions = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or []]
        return int(sum(consumer.end_offsets(partitions).values()))
    finally:
        consumer.close()
