"""From Kafka records to validated rows: decoding, validation and the reasons for rejection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from qsmon.exceptions import InvalidResultError
from qsmon.provenance import Sender
from qsmon.schema import MAX_FUTURE_SKEW, InspectionResult, parse_result

# The columns of the COPY into the batch's temp table, in order.
COLUMNS: tuple[str, ...] = (
    "sample_id",
    "revision",
    "sampled_at",
    "reported_at",
    "category",
    "subcategory",
    "sampling_type",
    "stage",
    "region_code",
    "verdict",
    "grade",
    "score",
    "product",
    "brand",
    "spec",
    "batch",
    "manufacturer",
    "sampled_unit",
    "lab",
    "source",
    "failed_items",
    "kafka_partition",
    "kafka_offset",
    "produced_at",
    "manufacturer_region_code",
    "sampling_level",
    "task_source",
    "announcement_no",
    "announcement_date",
    "retest_status",
    "manufacturer_address",
    "sampled_unit_address",
    "sender",
    "sender_principal",
)
COPY_TYPES: tuple[str, ...] = (
    "text",
    "int4",
    "timestamptz",
    "timestamptz",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "float8",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "int4",
    "int8",
    "timestamptz",
    "text",
    "text",
    "text",
    "text",
    "date",
    "text",
    "text",
    "text",
    "text",
    "text",
)


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A Kafka record as the worker received it."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None = None  # produce time, seconds since the epoch
    sender: Sender | None = None  # its qsmon-sender headers (qsmon.provenance); None: written without them


def next_offsets(records: Sequence[SourceRecord]) -> dict[int, int]:
    """Per partition, the offset after the last of ``records``: where its next reader starts."""
    offsets: dict[int, int] = {}
    for r in records:
        if r.offset >= offsets.get(r.partition, 0):
            offsets[r.partition] = r.offset + 1
    return offsets


@dataclass(frozen=True, slots=True)
class Rejected:
    record: SourceRecord
    reason: str
    reason_code: str  # low-cardinality label for metrics: not_json, schema_version, field name …


@dataclass(frozen=True, slots=True)
class Accepted:
    record: SourceRecord
    result: InspectionResult


def reason_code(exc: InvalidResultError) -> str:
    message = exc.message
    if message.startswith("not JSON"):
        return "not_json"
    if message.startswith("expected a JSON object"):
        return "not_object"
    if message.startswith("unsupported schema_version"):
        return "schema_version"
    if message.startswith("sampled_at lies in the future"):
        return "future"
    field = message.split(":", 1)[0].split(".", 1)[0].strip()
    return field if field.isidentifier() else "record"


def validate(record: SourceRecord, now: datetime) -> InspectionResult:
    """The record's result, or :class:`InvalidResultError` saying why it is not one."""
    return _validated(record, now + MAX_FUTURE_SKEW)


def _validated(record: SourceRecord, latest: datetime) -> InspectionResult:
    if record.value is None:
        raise InvalidResultError("not JSON: empty record (tombstone)")
    result = parse_result(record.value)
    result.check_not_after(latest)
    # The key routes every revision of a sample to one partition; a mismatch would break that ordering.
    if record.key is not None and record.key != result.key:
        raise InvalidResultError("record key differs from sample_id", key=record.key.decode(errors="replace"))
    return result


def classify(records: Sequence[SourceRecord], now: datetime) -> tuple[list[Accepted], list[Rejected]]:
    accepted: list[Accepted] = []
    rejected: list[Rejected] = []
    latest = now + MAX_FUTURE_SKEW
    for record in records:
        try:
            result = _validated(record, latest)
        except InvalidResultError as exc:
            rejected.append(Rejected(record, str(exc), reason_code(exc)))
            continue
        accepted.append(Accepted(record, result))
    return accepted, rejected


def _failed_items_json(result: InspectionResult) -> str:
    if not result.failed_items:
        return "[]"
    return orjson.dumps([item.model_dump(exclude_none=True) for item in result.failed_items]).decode()


def copy_row(item: Accepted) -> tuple[Any, ...]:
    r = item.result
    stamp = item.record.timestamp
    # Blank optional texts are stored as NULL; key dimensions as '' so they can sit in primary keys. The
    # vocabulary's members are str (StrEnum) and COPY as their values: no `.value` per field.
    return (
        r.sample_id,
        r.revision,
        r.sampled_at,
        r.reported_at,
        r.category,
        r.subcategory or "",
        r.sampling_type,
        r.stage or "",
        r.region_code,
        r.verdict,
        r.grade or "",
        r.score,
        r.product or None,
        r.brand or None,
        r.spec or None,
        r.batch or None,
        r.manufacturer or None,
        r.sampled_unit or None,
        r.lab or None,
        r.source,
        _failed_items_json(r),
        item.record.partition,
        item.record.offset,
        datetime.fromtimestamp(stamp, UTC) if stamp else None,
        r.manufacturer_region_code,
        r.sampling_level,
        r.task_source or None,
        r.announcement_no or None,
        r.announcement_date,
        r.retest_status,
        r.manufacturer_address or None,
        r.sampled_unit_address or None,
        item.record.sender.id if item.record.sender else None,
        item.record.sender.principal if item.record.sender else None,
    )
