"""From Kafka records to rows: classification and its low-cardinality reason codes."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.records import COLUMNS, SourceRecord, classify, copy_row
from tests.factories import result

NOW = datetime(2026, 11, 1, tzinfo=UTC)


class TestClassify:
    def test_valid_and_invalid_records_are_separated_and_keep_their_offsets(self) -> None:
        good = result("A")
        records = [
            SourceRecord(0, 7, good.key, good.to_json()),
            SourceRecord(0, 8, b"B", b"{oops"),
            SourceRecord(0, 9, b"C", None),
        ]
        accepted, rejected = classify(records, NOW)
        assert [a.record.offset for a in accepted] == [7]
        assert [(r.record.offset, r.reason_code) for r in rejected] == [(8, "not_json"), (9, "not_json")]

    def test_a_key_that_differs_from_the_sample_id_is_rejected(self) -> None:
        event = result("A")
        _, rejected = classify([SourceRecord(0, 0, b"OTHER", event.to_json())], NOW)
        assert rejected[0].reason_code == "record"
        assert "key differs" in rejected[0].reason

    def test_reason_codes_name_the_first_bad_field(self) -> None:
        data = result("A").to_json().replace(b'"421003"', b'"42"')
        _, rejected = classify([SourceRecord(0, 0, b"A", data)], NOW)
        assert rejected[0].reason_code == "region_code"


class TestCopyRow:
    def test_blank_optional_texts_are_stored_as_null_and_dimensions_as_empty(self) -> None:
        event = result("A", subcategory=None, brand="", lab="  ")
        row = copy_row(classify([SourceRecord(1, 2, b"A", event.to_json(), 1_700_000_000.0)], NOW)[0][0])
        by_column = dict(zip(COLUMNS, row, strict=True))
        assert (by_column["sample_id"], by_column["revision"]) == ("A", 1)
        assert by_column["subcategory"] == ""  # a key dimension
        assert by_column["brand"] is None
        assert by_column["lab"] is None
        assert by_column["manufacturer_region_code"] is None
        assert (by_column["kafka_partition"], by_column["kafka_offset"]) == (1, 2)
        assert by_column["produced_at"] == datetime.fromtimestamp(1_700_000_000.0, UTC)
