"""The rollup change feed (topic ``rollups.changes.v1``): which rollup keys a committed batch changed.

Written by the stream worker after each commit, read by the alert service. A hint, not the truth: a lost message
is covered by the alert service's sweep.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import attrgetter

import orjson


@dataclass(frozen=True, slots=True, order=True)
class RollupKey:
    day: date
    category: str
    subcategory: str
    sampling_type: str
    stage: str
    region_code: str


_KEY_ORDER = attrgetter(*RollupKey.__slots__)  # a tuple per key, compared in C (not the dataclass's __lt__)


def encode_changes(keys: Iterable[RollupKey]) -> bytes:
    # orjson writes a dataclass as an object of its fields, a date as ISO 8601: {"day": "2024-01-31", …}
    return orjson.dumps({
        "keys": sorted(keys, key=_KEY_ORDER),
        "committed_at": datetime.now(UTC).isoformat(),  # protocol time: real
    })


def decode_changes(message: bytes) -> list[RollupKey]:
    return [RollupKey(date.fromisoformat(k["day"]), k["category"], k["subcategory"], k["sampling_type"], k["stage"],
                      k["region_code"]) for k in orjson.loads(message).get("keys", [])]
