"""NDJSON: one schema-v1 event per line, taken as it is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from producers.exceptions import ImportFormatError
from producers.importers.base import ImportRow, Rejection, RowOutcome
from qsmon.exceptions import InvalidResultError
from qsmon.schema import parse_result


def read_ndjson(path: Path) -> Iterator[RowOutcome]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ImportFormatError("cannot open NDJSON file", file=str(path), error=exc.strerror) from exc
    with handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield ImportRow(parse_result(line), str(path), None, line_number)
            except InvalidResultError as exc:
                yield Rejection(str(path), None, line_number, str(exc), line.decode(errors="replace")[:500])
