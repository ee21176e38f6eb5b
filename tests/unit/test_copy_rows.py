"""A batch's COPY data encoded ahead of the write reads back as the rows the write would have sent."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from psycopg import pq
from psycopg._copy_base import BinaryFormatter

from qsmon.schema import FailedItem
from qsmon.vocab import Verdict
from streams.copy_rows import _OIDS, encode_rows
from streams.records import COLUMNS, SourceRecord, classify, copy_row
from tests.factories import result

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def read_back(data: bytes) -> list[tuple[object, ...]]:
    """Parse a binary COPY stream the way psycopg parses one from the server."""
    transformer = psycopg.adapt.Transformer()
    transformer.set_loader_types(_OIDS, pq.Format.BINARY)
    formatter = BinaryFormatter(transformer)
    signature = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8  # 11-byte magic, flags, header extension length
    assert data.startswith(signature)
    body, rows, at = data[len(signature) :], [], 0
    while body[at : at + 2] != b"\xff\xff":  # the trailer: a field count of -1
        fields = int.from_bytes(body[at : at + 2], "big")
        end = at + 2
        for _ in range(fields):
            size = int.from_bytes(body[end : end + 4], "big", signed=True)
            end += 4 + max(size, 0)
        formatter._signature_sent = True
        row = formatter.parse_row(body[at:end])
        assert row is not None
        rows.append(row)
        at = end
    assert body[at:] == b"\xff\xff"
    return rows


class TestEncodeRows:
    def test_rows_read_back_as_copy_row_built_them(self) -> None:
        events = [
            result("A"),
            result(
                "B",
                verdict=Verdict.FAIL,
                failed_items=(FailedItem(item="铅", measured="0.3", limit="≤0.2"),),
                brand="",
                score=87.5,
            ),
            result("C", subcategory=None, manufacturer_region_code="421081", announcement_no="2026年第3期"),
        ]
        records = [SourceRecord(0, n, e.key, e.to_json(), 1_700_000_000.0 + n) for n, e in enumerate(events)]
        accepted, rejected = classify(records, NOW)
        assert not rejected
        expected = [copy_row(item) for item in accepted]
        got = read_back(encode_rows(accepted))
        assert len(got) == len(expected) == 3
        for want, row in zip(expected, got, strict=True):
            # StrEnum members go in as the str they are; they come back as plain text
            assert dict(zip(COLUMNS, row, strict=True)) == dict(zip(COLUMNS, want, strict=True))

    def test_an_empty_batch_is_a_valid_stream(self) -> None:
        assert read_back(encode_rows([])) == []
