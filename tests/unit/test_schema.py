"""Event schema v1: valid events round-trip; malformed ones are rejected with a reason, never a crash."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qsmon import clock
from qsmon.exceptions import InvalidResultError
from qsmon.schema import InspectionResult, json_schema, parse_result, safe_sample_id
from tests.factories import result

ROOT = Path(__file__).resolve().parents[2]
VALID: dict[str, Any] = orjson.loads(result("S-1", verdict="fail").to_json())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


class TestValidEvents:
    def test_an_event_round_trips_through_json(self) -> None:
        event = result("S-1", verdict="fail")
        assert parse_result(event.to_json()) == event

    def test_the_highest_revision_field_defaults_to_one(self) -> None:
        data = {k: v for k, v in VALID.items() if k != "revision"}
        assert parse_result(orjson.dumps(data)).revision == 1

    def test_the_committed_json_schema_is_current(self) -> None:
        committed = json.loads((ROOT / "docs" / "inspection-result-v2.schema.json").read_text(encoding="utf-8"))
        assert committed == json_schema()


class TestRejections:
    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"verdict": "maybe"}, "verdict"),
            ({"region_code": "4210"}, "region_code"),
            ({"sampled_at": "2026-03-10T10:00:00"}, "sampled_at"),  # no offset: ambiguous local time
            ({"reported_at": "2026-03-01T00:00:00+08:00"}, "reported_at is before sampled_at"),
            ({"verdict": "pass"}, "a pass result lists failed_items"),
            ({"score": 101}, "score"),
            ({"sample_id": "has space"}, "sample_id"),
            ({"schema_version": 3}, "unsupported schema_version 3"),
            ({"schema_version": 1, "sampling_level": "national"}, "schema_version 1 does not have sampling_level"),
            ({"unknown_field": 1}, "unknown_field"),
            ({"category": "weapons"}, "category"),
        ],
    )
    def test_a_malformed_field_is_rejected_with_a_reason_naming_it(self, change: dict[str, Any], reason: str) -> None:
        with pytest.raises(InvalidResultError, match=reason):
            parse_result(orjson.dumps(VALID | change))

    @pytest.mark.parametrize(
        "field", ["subcategory", "product", "brand", "spec", "batch", "manufacturer", "sampled_unit", "lab", "source"]
    )
    @pytest.mark.parametrize(
        "control", ["\x00", "\x07", "\n", "\x1b", "\x7f", "\x85", "\u2028", "\u200b", "\u202e", "\ufeff"]
    )
    def test_every_text_field_refuses_control_characters(self, field: str, control: str) -> None:
        with pytest.raises(InvalidResultError, match=field):
            parse_result(orjson.dumps(VALID | {field: f"lab{control}x"}))

    @pytest.mark.parametrize("field", ["item", "measured", "limit", "unit"])
    def test_failed_item_texts_refuse_control_characters(self, field: str) -> None:
        item = VALID["failed_items"][0] | {field: "x\x00"}
        with pytest.raises(InvalidResultError, match=field):
            parse_result(orjson.dumps(VALID | {"failed_items": [item]}))

    def test_a_record_past_the_size_limit_is_refused_before_parsing(self) -> None:
        items = [{"item": "x"}] * 20_000  # 300 kB of failed items: refused by size, not by validating each
        with pytest.raises(InvalidResultError, match="at most 65536 are read"):
            parse_result(orjson.dumps(VALID | {"failed_items": items}))

    def test_echoed_values_are_cut(self) -> None:
        with pytest.raises(InvalidResultError) as failure:
            parse_result(orjson.dumps(VALID | {"schema_version": "9" * 10_000, "sample_id": "x" * 10_000}))
        assert len(str(failure.value)) < 300

    def test_a_report_date_from_the_future_is_rejected(self) -> None:
        event = result("S-1").model_copy(update={"reported_at": clock.now() + timedelta(days=3)})
        with pytest.raises(InvalidResultError, match="reported_at lies in the future"):
            event.check_not_future(clock.now())

    def test_a_sampling_date_before_2000_is_implausible(self) -> None:
        old = {"sampled_at": "1999-12-31T12:00:00+08:00", "reported_at": "2000-01-05T12:00:00+08:00"}
        with pytest.raises(InvalidResultError, match="not a plausible sampling date"):
            parse_result(orjson.dumps(VALID | old))

    def test_a_result_from_the_future_is_rejected(self) -> None:
        event = result("S-1", at=clock.now() + timedelta(days=3))
        with pytest.raises(InvalidResultError, match="future"):
            event.check_not_future(clock.now())

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=200))
    def test_arbitrary_bytes_are_rejected_with_a_reason(self, data: bytes) -> None:
        with pytest.raises(InvalidResultError) as err:
            parse_result(data)
        assert str(err.value)

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from(sorted(VALID)), json_values)
    def test_any_value_in_any_field_is_either_valid_or_rejected_with_a_reason(self, field: str, value: Any) -> None:
        try:
            data = orjson.dumps(VALID | {field: value})
        except (TypeError, orjson.JSONEncodeError):
            return  # not representable as JSON (NaN, huge ints): nothing a producer could send
        outcome: InspectionResult | InvalidResultError
        try:
            outcome = parse_result(data)
        except InvalidResultError as exc:
            outcome = exc
        assert isinstance(outcome, InspectionResult) or outcome.message

    @settings(max_examples=200, deadline=None)
    @given(st.dictionaries(st.text(max_size=12), json_values, max_size=6))
    def test_arbitrary_objects_are_rejected_with_a_reason(self, obj: dict[str, Any]) -> None:
        try:
            data = orjson.dumps(obj)
        except (TypeError, orjson.JSONEncodeError):
            return  # not representable as JSON: nothing a producer could send
        with pytest.raises(InvalidResultError):
            parse_result(data)


class TestSampleIds:
    @given(st.text(min_size=1, max_size=80))
    def test_free_text_ids_map_onto_the_id_alphabet_deterministically(self, raw: str) -> None:
        mapped = safe_sample_id(raw)
        assert mapped == safe_sample_id(raw)
        assert len(mapped) <= 64
        assert all(c.isascii() and (c.isalnum() or c in "_.:/#-") for c in mapped)

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("DC26420000001", "DC26420000001"),
            ("DBJ 2401", "DBJ-2401"),
            ("ＤＢＪ２４０１", "DBJ2401"),
            ("  ", ""),
            ("——", ""),
        ],
    )
    def test_ids_keep_what_identifies_them(self, raw: str, expected: str) -> None:
        assert safe_sample_id(raw) == expected

    def test_ids_differing_only_in_chinese_or_past_the_length_stay_apart(self) -> None:
        hubei, hunan = safe_sample_id("鄂2026001"), safe_sample_id("湘2026001")
        assert hubei != hunan
        assert hubei.startswith("2026001#")
        long_a, long_b = safe_sample_id("A" * 70 + "1", "SAMR-"), safe_sample_id("A" * 70 + "2", "SAMR-")
        assert long_a != long_b
        assert len(long_a) == len(long_b) == 64
        assert long_a.startswith("SAMR-AAA")
