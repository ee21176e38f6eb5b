"""The rollup change feed's messages: every key announced once, each message within the producer's limit."""

from __future__ import annotations

from datetime import date, timedelta

import orjson

from qsmon.changes import MAX_MESSAGE_BYTES, RollupKey, decode_changes, encode_changes


def _keys(count: int) -> set[RollupKey]:
    return {
        RollupKey(
            date(2024, 1, 1) + timedelta(days=i % 1000),
            "food",
            f"粮食加工品-{i % 97}",
            "supervision",
            "circulation",
            f"{420100 + i % 50:06d}",
        )
        for i in range(count)
    }


def test_a_few_keys_make_one_message_that_decodes_to_them_in_order() -> None:
    keys = _keys(10)
    [message] = encode_changes(keys)
    assert decode_changes(message) == sorted(keys)
    assert "committed_at" in orjson.loads(message)


def test_a_large_batch_is_announced_in_messages_the_producer_accepts() -> None:
    keys = _keys(20_000)  # a 10,000-result batch over three years changed ~10,000 keys: 1.1 MB in one message
    messages = encode_changes(keys)
    assert len(messages) > 1
    assert all(len(m) <= MAX_MESSAGE_BYTES for m in messages)
    decoded = [key for m in messages for key in decode_changes(m)]
    assert decoded == sorted(keys)  # each key once, none lost at a split


def test_the_limit_is_the_callers() -> None:
    keys = _keys(100)
    messages = encode_changes(keys, max_bytes=2_000)
    assert all(len(m) <= 2_000 for m in messages)
    assert sorted(k for m in messages for k in decode_changes(m)) == sorted(keys)


def test_one_key_is_one_message_even_over_the_limit() -> None:
    [message] = encode_changes(_keys(1), max_bytes=10)
    assert len(decode_changes(message)) == 1
