"""Reconnect warnings of client libraries are held back to one a minute, saying how many were."""

from __future__ import annotations

import logging

import pytest

from qsmon.logs import RepeatLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(name: str, msg: str, *args: object, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_repeated_warning_passes_once_a_minute_with_the_count_held(clock: FakeClock) -> None:
    limiter = RepeatLimiter(interval_s=60, clock=clock)
    first = record("psycopg.pool", "error connecting in %r: %s", "pool-1", "refused")
    assert limiter.filter(first)
    assert first.getMessage() == "error connecting in 'pool-1': refused"
    passed = []
    for _ in range(30):  # one a second, as the pool retries
        clock.now += 1
        passed.append(limiter.filter(record("psycopg.pool", "error connecting in %r: %s", "pool-2", "timeout")))
    assert passed == [False] * 30
    clock.now += 31
    later = record("psycopg.pool", "error connecting in %r: %s", "pool-1", "refused")
    assert limiter.filter(later)
    assert later.getMessage() == "error connecting in 'pool-1': refused (30 more like it in the last 61 s)"
    clock.now += 1
    assert not limiter.filter(record("psycopg.pool", "error connecting in %r: %s", "pool-1", "refused"))


def test_kinds_are_held_apart_and_children_of_a_limited_logger_are_limited(clock: FakeClock) -> None:
    limiter = RepeatLimiter(prefixes=("aiokafka",), interval_s=60, clock=clock)
    assert limiter.filter(record("aiokafka.conn", "Unable connect to node with id %s", 1))
    assert not limiter.filter(record("aiokafka.conn", "Unable connect to node with id %s", 1))
    assert limiter.filter(record("aiokafka.client", "Unable to update metadata from %s", [1]))
    assert limiter.filter(record("aiokafka.conn", "Connection to %s closed", 1))


def test_other_loggers_and_lesser_levels_are_never_held(clock: FakeClock) -> None:
    limiter = RepeatLimiter(prefixes=("kafka",), interval_s=60, clock=clock)
    for _ in range(3):
        assert limiter.filter(record("qsmon.worker", "batch refused: %s", "x"))
        assert limiter.filter(record("kafkaesque", "not a kafka logger"))
        assert limiter.filter(record("kafka.conn", "connecting", level=logging.INFO))
