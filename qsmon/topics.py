"""The Kafka topics qsmon owns, with their partition counts and configs; created by ``qsmon init``."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from qsmon.exceptions import QsmonError
from qsmon.settings import Settings

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


def min_insync(replication_factor: int) -> int:
    """Replicas that must hold a record before acks=all acknowledges it: two when there are three (one broker can
    be lost with nothing acknowledged lost, and writes go on), all of them below that."""
    return min(replication_factor, 2)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    insync = {"min.insync.replicas": str(min_insync(settings.kafka_replication_factor))}
    return [
        # Keyed by sample_id: every revision of a sample lands on one partition, in order.
        TopicSpec(
            settings.results_topic,
            settings.results_partitions,
            {"retention.ms": str(30 * DAY_MS), "compression.type": "producer", **insync},
        ),
        # Invalid records with their reasons; kept long enough for a person to look at them.
        TopicSpec(settings.dlq_topic, 1, {"retention.ms": str(90 * DAY_MS), **insync}),
        # Rollup keys changed by each committed batch; consumers only need the recent past.
        TopicSpec(settings.changes_topic, 1, {"retention.ms": str(1 * DAY_MS), **insync}),
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
                    [
                        NewTopic(
                            spec.name, spec.partitions, settings.kafka_replication_factor, topic_configs=spec.configs
                        )
                    ],
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


class TopicProbe:
    """Readiness of a Kafka client: the broker answers a metadata request for the topic (one admin connection,
    kept; thread-safe). Returns None when fine, else the reason."""

    def __init__(self, bootstrap: str, topic: str, timeout_s: float = 3.0) -> None:
        self.bootstrap, self.topic, self.timeout_s = bootstrap, topic, timeout_s
        self._admin: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> str | None:
        from kafka.admin import KafkaAdminClient
        from kafka.errors import KafkaError

        with self._lock:
            try:
                if self._admin is None:
                    self._admin = KafkaAdminClient(
                        bootstrap_servers=self.bootstrap,
                        client_id="qsmon-probe",
                        request_timeout_ms=int(self.timeout_s * 1000),
                    )
                described = self._admin.describe_topics([self.topic])
            except KafkaError as exc:
                self.close()
                return f"Kafka at {self.bootstrap} did not answer: {type(exc).__name__}"
            if not described or described[0].get("error_code"):
                return f"topic {self.topic} not found: run `qsmon init`"
            return None

    def close(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None


def drop_topics(settings: Settings, *, timeout_s: float = 30.0) -> None:
    """Delete the settings' topics, where they exist: for isolated test and benchmark worlds, whose topics would
    otherwise pile up on a long-lived broker (hundreds of them slowed every client of it)."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, client_id="qsmon-drop", request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        mine = {spec.name for spec in topic_specs(settings)} & set(admin.list_topics())
        if mine:
            admin.delete_topics(sorted(mine))
    finally:
        admin.close()
