"""A batch's COPY data, encoded once in the validating stage so the write stage only ships bytes.

The write runs in a thread beside the next batch's validation; Python work in it (building rows, psycopg's binary
encoding: ~10 µs a record) holds the GIL and stalls that validation, while PostgreSQL waits for the rows. Encoded
beforehand, the write is I/O and PostgreSQL's work only, and the two stages overlap (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import pq
from psycopg._copy_base import BinaryFormatter  # psycopg pinned: tests/unit/test_copy_rows.py checks the bytes

from streams.records import COPY_TYPES, Accepted, copy_row

_OIDS = [psycopg.adapters.types.get_oid(name) for name in COPY_TYPES]


def encode_rows(items: Sequence[Accepted]) -> bytes:
    """The binary COPY stream (signature, rows, trailer) of ``items`` in streams.records.COLUMNS order."""
    transformer = psycopg.adapt.Transformer()  # the global adapters, text as UTF-8 (the store's client_encoding)
    transformer.set_dumper_types(_OIDS, pq.Format.BINARY)
    formatter = BinaryFormatter(transformer)
    data = bytearray()
    for item in items:
        data += formatter.write_row(copy_row(item))
    data += formatter.end()
    return bytes(data)
