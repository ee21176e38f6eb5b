"""The dead-letter topic: what the worker refused and why, read back, and sent again once the cause is repaired.

A dead letter is the refused record's own key and bytes, with headers saying why and where it came from. Sending
one again is harmless whatever it holds: the worker stores a sample's revision once (a repeat counts as
redelivered), and a record still refused comes back here with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qsmon.exceptions import QsmonError
from qsmon.provenance import Sender, sender_from_headers
from qsmon.settings import Settings
from streams.records import Rejected

REASON = "qsmon.error.reason"
CODE = "qsmon.error.code"
SOURCE_TOPIC = "qsmon.source.topic"
SOURCE_PARTITION = "qsmon.source.partition"
SOURCE_OFFSET = "qsmon.source.offset"
REPLAYED_FROM = "qsmon.replayed.from"  # on a record sent again: the dead letter it came from (topic:partition:offset)
REASON_LIMIT = 1000  # reasons quote the input: bounded, so the topic always takes them


def headers_for(item: Rejected, topic: str) -> list[tuple[str, bytes]]:
    return [
        (REASON, item.reason[:REASON_LIMIT].encode()),
        (CODE, item.reason_code.encode()),
        (SOURCE_TOPIC, topic.encode()),
        (SOURCE_PARTITION, str(item.record.partition).encode()),
        (SOURCE_OFFSET, str(item.record.offset).encode()),
        # who sent it: kept, so a record sent again is held to its sender's rules, not taken as the bureau's own
        *(item.record.sender.headers() if item.record.sender else ()),
    ]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    partition: int
    offset: int
    refused_at: datetime
    key: bytes | None
    value: bytes
    code: str
    reason: str
    source: str  # topic:partition:offset of the refused record
    sender: Sender | None = None

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"


def distinct(letters: Iterable[DeadLetter]) -> list[DeadLetter]:
    """One of each record (key and bytes): a record replayed and refused again is a second dead letter of it."""
    seen: set[tuple[bytes | None, bytes]] = set()
    kept = []
    for letter in letters:
        if (letter.key, letter.value) not in seen:
            seen.add((letter.key, letter.value))
            kept.append(letter)
    return kept


def printable(text: str, limit: int) -> str:
    """Input quoted in a dead letter, safe for a terminal: control characters (escape sequences) shown as �."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text[:limit])


def _dead_letter(record: Any) -> DeadLetter:
    headers = {name: value.decode(errors="replace") for name, value in record.headers or ()}
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        refused_at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        key=record.key,
        value=record.value or b"",
        code=headers.get(CODE, "unknown"),
        reason=headers.get(REASON, ""),
        source=":".join(headers.get(h, "?") for h in (SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET)),
        sender=sender_from_headers(record.headers),
    )


def read_dead_letters(
    settings: Settings, *, since: datetime | None = None, timeout_s: float = 30.0
) -> Iterator[DeadLetter]:
    """Every dead letter still kept (or refused since ``since``), oldest first per partition, up to the topic's end
    as it is now. Reads without a consumer group: looking commits nothing and moves nobody's position."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    consumer = None
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="qsmon-deadletters",
        )
        partitions = consumer.partitions_for_topic(settings.dlq_topic)
        if not partitions:
            raise QsmonError("no dead-letter topic (qsmon init creates it)", topic=settings.dlq_topic)
        assigned = [TopicPartition(settings.dlq_topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        end = consumer.end_offsets(assigned)
        starts = consumer.beginning_offsets(assigned)
        if since is not None:
            found = consumer.offsets_for_times({tp: max(0, int(since.timestamp() * 1000)) for tp in assigned})
            starts = {tp: (hit.offset if hit is not None else end[tp]) for tp, hit in found.items()}
        for tp in assigned:
            consumer.seek(tp, starts[tp])
        remaining = {tp for tp in assigned if starts[tp] < end[tp]}
        while remaining:
            batches = consumer.poll(timeout_ms=int(timeout_s * 1000))
            for tp, records in batches.items():
                for record in records:
                    if record.offset < end[tp]:
                        yield _dead_letter(record)
            # Checked after every poll, empty ones too: the end may sit past offsets that hold no record.
            done = {tp for tp in remaining if consumer.position(tp) >= end[tp]}
            consumer.pause(*done)
            remaining -= done
            if remaining and not batches:
                raise QsmonError(
                    "Kafka stopped answering before the end of the dead-letter topic", topic=settings.dlq_topic
                )
    except KafkaError as exc:
        raise QsmonError(
            "cannot read the dead-letter topic", bootstrap=settings.kafka_bootstrap, error=repr(exc)
        ) from exc
    finally:
        if consumer is not None:
            consumer.close()


def send_again(settings: Settings, letters: Iterable[DeadLetter]) -> int:
    """Send the dead letters' records to the results topic again, as they were (key and bytes); the count sent.
    Each is acknowledged by Kafka (acks=all) before this returns."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    producer = None
    sent = []
    try:
        producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            client_id="qsmon-deadletters",
        )
        for letter in letters:
            origin = f"{settings.dlq_topic}:{letter.position}".encode()
            sent.append(
                producer.send(
                    settings.results_topic,
                    key=letter.key,
                    value=letter.value,
                    headers=[(REPLAYED_FROM, origin), *(letter.sender.headers() if letter.sender else ())],
                )
            )
        producer.flush()
        for future in sent:
            future.get(timeout=30)
    except KafkaError as exc:
        raise QsmonError(
            "Kafka did not acknowledge every record sent again; sending them once more is harmless", error=repr(exc)
        ) from exc
    finally:
        if producer is not None:
            producer.close()
    return len(sent)
