"""Inspection result event, schema v2: the one contract between producers and streams.

v2 adds optional fields (where it was made, sampling level, task source, announcement, re-test status) and the
verdict ``void``; a v1 event is a v2 event without them and is accepted as such (upgraded on read).

Key on Kafka = ``sample_id``; value = the JSON of :class:`InspectionResult`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from qsmon.exceptions import InvalidResultError
from qsmon.vocab import Category, Grade, RetestStatus, SamplingLevel, SamplingType, Stage, Verdict

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # v1 is read as v2

# The one text rule: no C0/C1 control characters (NUL included), line or paragraph separators, or invisible format
# characters (zero-width, bidirectional overrides that make a product name read backwards) in any text field.
# PostgreSQL refuses NUL, spreadsheets and robot messages garble the rest; importers that meet wrapped cells turn
# line breaks into spaces and drop the invisible ones (producers.importers.base.cell_text).
FORMAT_CHARACTERS = r"\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
NO_CONTROL = f"^[^\\x00-\\x1f\\x7f-\\x9f{FORMAT_CHARACTERS}]*$"


def _text(max_length: int, *, min_length: int = 0) -> StringConstraints:
    """A stripped text of at most ``max_length`` characters under the one text rule."""
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=NO_CONTROL)


ShortText = Annotated[str, _text(200)]
ItemName = Annotated[str, _text(200, min_length=1)]
Unit = Annotated[str, _text(32)]
SourceName = Annotated[str, _text(64, min_length=1)]
SampleId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.:/#\-]+$")
]
RegionCode = Annotated[str, StringConstraints(pattern=r"^[1-8][0-9]{5}$")]

V2_FIELDS = frozenset(
    {
        "manufacturer_region_code",
        "sampling_level",
        "task_source",
        "announcement_no",
        "announcement_date",
        "retest_status",
        "manufacturer_address",
        "sampled_unit_address",
    }
)

# A sample's first revision; later ones (re-tests, corrections) count up from it. The worker's batch SQL relies on
# it: a first revision replaces nothing, so only later ones are looked up (streams.batch_sql, migration 021).
FIRST_REVISION = 1
# Results reported more than this far ahead of the clock are a clock or entry error, not data.
MAX_FUTURE_SKEW = timedelta(days=1)
# A record with the largest lists the schema allows stays far below this; anything longer is refused before it is
# parsed, so one line cannot cost seconds of validation and gigabytes of error objects.
MAX_RECORD_BYTES = 64 * 1024
# Nothing qsmon measures was sampled before this: an earlier date is an entry error (a year typed as 0024, 1900
# from an empty Excel cell), and it would open a storage chunk decades away from the data.
EARLIEST_PLAUSIBLE = datetime(2000, 1, 1, tzinfo=UTC)


class FailedItem(BaseModel):
    """One failed test item, e.g. 毒死蜱 ║ 0.12 ║ ≤0.02 mg/kg."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item: ItemName
    measured: ShortText | None = None
    limit: ShortText | None = None
    unit: Unit | None = None


class InspectionResult(BaseModel):
    """One inspection sample result (抽检结果); the highest ``revision`` of a sample is final."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    schema_version: Literal[1, 2] = 2
    sample_id: SampleId
    revision: int = Field(default=FIRST_REVISION, ge=FIRST_REVISION, le=1000)
    sampled_at: AwareDatetime
    reported_at: AwareDatetime
    category: Category
    subcategory: ShortText | None = None
    sampling_type: SamplingType
    stage: Stage | None = None
    region_code: RegionCode  # where it was sampled
    manufacturer_region_code: RegionCode | None = None  # where the nominal manufacturer is, when known
    product: ShortText | None = None
    brand: ShortText | None = None
    spec: ShortText | None = None
    batch: ShortText | None = None
    manufacturer: ShortText | None = None
    sampled_unit: ShortText | None = None
    lab: ShortText | None = None
    verdict: Verdict
    grade: Grade | None = None
    score: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    failed_items: tuple[FailedItem, ...] = Field(default=(), max_length=100)
    source: SourceName = "unknown"
    # v2
    sampling_level: SamplingLevel | None = None
    task_source: ShortText | None = None  # 任务来源 as the announcement writes it
    announcement_no: ShortText | None = None  # 公告号
    announcement_date: date | None = None  # 公告日期
    retest_status: RetestStatus | None = None
    manufacturer_address: ShortText | None = None  # 标称生产企业地址, as published
    sampled_unit_address: ShortText | None = None  # 被抽样单位地址, as published

    @model_validator(mode="after")
    def _consistent(self) -> InspectionResult:
        # One after-validator, no before-validator: a "before" one makes pydantic-core build a dict of every
        # record instead of validating the JSON directly (2.3x slower per record; docs/benchmarks.md).
        if self.schema_version == 1:  # a v1 event is read as v2; v2 fields in it are a contradiction
            late = sorted(name for name in V2_FIELDS & self.model_fields_set if getattr(self, name) is not None)
            if late:
                raise ValueError(f"schema_version 1 does not have {', '.join(late)}: send schema_version 2")
            object.__setattr__(self, "schema_version", 2)  # frozen to callers, upgraded here on read
        if self.sampled_at < EARLIEST_PLAUSIBLE:
            raise ValueError(f"sampled_at is before {EARLIEST_PLAUSIBLE.date()}: not a plausible sampling date")
        if self.reported_at < self.sampled_at:
            raise ValueError("reported_at is before sampled_at")
        if self.verdict is not Verdict.FAIL and self.failed_items:
            raise ValueError(f"a {self.verdict.value} result lists failed_items")
        return self

    def check_not_future(self, now: datetime) -> None:
        """Reject results sampled or reported ahead of ``now``; kept out of the model so replays stay valid."""
        self.check_not_after(now + MAX_FUTURE_SKEW)

    def check_not_after(self, latest: datetime) -> None:
        """:meth:`check_not_future` with the limit computed once for a batch."""
        if self.reported_at > latest:  # reported_at >= sampled_at: a sampled_at past the limit is named
            which = "sampled_at" if self.sampled_at > latest else "reported_at"
            raise InvalidResultError(f"{which} lies in the future", sample_id=self.sample_id)

    @property
    def key(self) -> bytes:
        return self.sample_id.encode()

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))


def describe_error(err: ErrorDetails, *, whole: str = "(record)") -> str:
    """One validation error as ``field: message``, in words a data clerk can act on."""
    where = ".".join(str(p) for p in err["loc"]) or whole
    message = err["msg"]
    if err["type"] == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") == NO_CONTROL:
        message = (
            "contains a control or invisible character (NUL, line break, tab, zero-width space, direction"
            " override …), which no text field may hold"
        )
    return f"{where}: {message}"


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    parts = [describe_error(err) for err in errors[:5]]
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def parse_result(data: bytes | str | dict[str, Any]) -> InspectionResult:
    """Decode and validate one event; every failure is an :class:`InvalidResultError` with a reason.

    Bytes are validated as JSON directly by pydantic-core (no intermediate dict): the worker's hot path.
    """
    if not isinstance(data, dict) and len(data) > MAX_RECORD_BYTES:
        raise InvalidResultError(f"record of {len(data)} bytes; at most {MAX_RECORD_BYTES} are read")
    try:
        if isinstance(data, dict):
            return InspectionResult.model_validate(data)
        return InspectionResult.model_validate_json(data)
    except ValidationError as exc:
        raise _invalid(exc, data) from exc


def _invalid(exc: ValidationError, data: bytes | str | dict[str, Any]) -> InvalidResultError:
    first = exc.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return InvalidResultError(f"not JSON: {first['msg']}")
    if first["type"] in ("model_type", "model_attributes_type") and not first["loc"]:
        return InvalidResultError(f"expected a JSON object, got {type(first['input']).__name__}")
    sample_id = None
    try:
        obj = data if isinstance(data, dict) else orjson.loads(data)
        sample_id = obj.get("sample_id") if isinstance(obj, dict) else None
        if isinstance(obj, dict) and obj.get("schema_version", SCHEMA_VERSION) not in READABLE_VERSIONS:
            return InvalidResultError(  # echoed, so cut: the version is whatever the sender put there
                f"unsupported schema_version {repr(obj['schema_version'])[:40]}; this build reads 1 and 2"
            )
    except orjson.JSONDecodeError:
        pass
    return InvalidResultError(_first_error(exc), sample_id=sample_id[:64] if isinstance(sample_id, str) else None)


def json_schema() -> dict[str, Any]:
    schema = InspectionResult.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://qsmon.example/schemas/inspection-result-v2.json"
    return schema


_SAMPLE_ID_UNSAFE = re.compile(r"[^0-9A-Za-z_.:/#\-]+")
_SAMPLE_ID_DIGEST = 8  # hex digits: tells apart ids that differ only in characters outside the alphabet


def safe_sample_id(raw: str, prefix: str = "") -> str:
    """Map free text (a 抽样单编号 as a clerk typed it) onto the sample_id alphabet, deterministically.

    Full-width letters and digits are read as the ASCII they mean (NFKC: ＤＢＪ００１ is DBJ001) and runs of
    spaces or other signs become one ``-``. Characters that carry identity but have no ASCII form (鄂 in 鄂2026001)
    add a digest of the whole id, so 鄂2026001 and 湘2026001 stay two samples, as does an id cut to length; ids in
    the alphabet that fit are unchanged.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    mapped = _SAMPLE_ID_UNSAFE.sub("-", text).strip("-")
    room = 64 - len(prefix)
    if len(mapped) > room or any(not c.isascii() and unicodedata.category(c)[0] in "LN" for c in text):
        digest = hashlib.sha256(text.encode()).hexdigest()[:_SAMPLE_ID_DIGEST]
        return f"{prefix}{mapped[: room - _SAMPLE_ID_DIGEST - 1]}#{digest}"
    return prefix + mapped[:room] if mapped else ""  # nothing of an id: the event's rule refuses it by name
