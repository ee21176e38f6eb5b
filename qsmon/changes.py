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


# Half of a Kafka producer's default max_request_size (1 MiB): a batch of 10,000 results spread over three years
# changed keys worth 1.1 MB, which the producer refused, crashing the worker after the batch had committed.
MAX_MESSAGE_BYTES = 512 * 1024


def encode_changes(keys: Iterable[RollupKey], max_bytes: int = MAX_MESSAGE_BYTES) -> list[bytes]:
    """The messages announcing ``keys``: one, or as many as it takes for each to stay within ``max_bytes``."""
    committed_at = datetime.now(UTC).isoformat()  # protocol time: real
    return _fitted(sorted(keys, key=_KEY_ORDER), committed_at, max_bytes)


def _fitted(keys: list[RollupKey], committed_at: str, max_bytes: int) -> list[bytes]:
    # orjson writes a dataclass as an object of its fields, a date as ISO 8601: {"day": "2024-01-31", …}
    message = orjson.dumps({"keys": keys, "committed_at": committed_at})
    if len(message) <= max_bytes or len(keys) <= 1:
        return [message]
    middle = len(keys) // 2  # halved until each part fits: a large batch costs one encoding more per halving
    return _fitted(keys[:middle], committed_at, max_bytes) + _fitted(keys[middle:], committed_at, max_bytes)


def decode_changes(message: bytes) -> list[RollupKey]:
    return [
        RollupKey(
            date.fromisoformat(k["day"]),
            k["category"],
            k["subcategory"],
            k["sampling_type"],
            k["stage"],
            k["region_code"],
        )
        for k in orjson.loads(message).get("keys", [])
    ]
