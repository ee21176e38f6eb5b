"""One list, three formats: JSON (default), CSV (UTF-8 with BOM, Chinese headers) and xlsx, chosen by ``format=``
or the Accept header; every answer carries an ETag of its body."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import anyio
import orjson
import xlsxwriter
from fastapi import Request
from fastapi.responses import Response

from indicators.counting import shown
from qsmon.escaping import SAFE_XLSX, spreadsheet_text

CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON_TYPE = "application/json"
INLINE_ITEMS = 200  # answers up to this many rows render on the event loop
FORMATS = {"json": JSON_TYPE, "csv": CSV_TYPE, "xlsx": XLSX_TYPE}


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str  # what an analyst reads in Excel


def chosen_format(request: Request, asked: str | None) -> str:
    """``format=`` wins; else the Accept header; else JSON."""
    if asked:
        return asked
    accept = request.headers.get("accept", "")
    for name, media in FORMATS.items():
        if media in accept:
            return name
    return "json"


def _cell(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return shown(value)  # the bulletins' two decimals, halves up: as every report prints it
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return value


csv_safe = spreadsheet_text  # qsmon.escaping: one rule for every CSV qsmon writes


def _csv(items: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    for item in items:
        writer.writerow(["" if item.get(c.key) is None else csv_safe(_cell(item.get(c.key))) for c in columns])
    return "\ufeff".encode() + out.getvalue().encode()


def _xlsx(items: Sequence[Mapping[str, Any]], columns: Sequence[Column], title: str) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, **SAFE_XLSX})
    book.set_properties({"title": title, "author": "qsmon", "created": datetime(2000, 1, 1)})  # noqa: DTZ001
    sheet = book.add_worksheet(title[:31])
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, [c.header for c in columns], bold)
    for r, item in enumerate(items, 1):
        for c, column in enumerate(columns):
            value = item.get(column.key)
            if value is not None:
                cell = _cell(value)
                sheet.write(r, c, float(cell) if isinstance(cell, Decimal) else cell)
    sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()


def render(
    request: Request,
    payload: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    title: str,
    fmt: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer in the chosen format, with an ETag; 304 when the client already has this body."""
    if fmt == "csv":
        body, media = _csv(items, columns), f"{CSV_TYPE}; charset=utf-8"
    elif fmt == "xlsx":
        body, media = _xlsx(items, columns, title), XLSX_TYPE
    else:
        body, media = orjson.dumps(payload, default=str), JSON_TYPE
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    common = {"ETag": etag, "Cache-Control": "private, max-age=30", "Vary": "Accept, Authorization", **(headers or {})}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=common)
    if fmt != "json":
        common["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quoted(title)}.{fmt}"
    return Response(body, media_type=media, headers=common)


async def render_async(
    request: Request,
    payload: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    title: str,
    fmt: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """:func:`render`, in a thread when the answer is large: a big workbook must not hold the event loop (health
    checks, other clients), while a small answer is cheaper rendered at once than handed to a thread."""
    if len(items) <= INLINE_ITEMS and fmt != "xlsx":
        return render(request, payload, items, columns, title=title, fmt=fmt, headers=headers)
    return await anyio.to_thread.run_sync(
        lambda: render(request, payload, items, columns, title=title, fmt=fmt, headers=headers)
    )


def _quoted(text: str) -> str:
    from urllib.parse import quote

    return quote(text)
