"""The worker's batch path without Kafka or a database: which fetched records are handed on, the offsets a
stored batch commits, and the two-stage pipeline's order and shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from faust.types import TP

from streams.fetch import to_source_records
from streams.pipeline import WritePipeline
from streams.processor import PreparedBatch
from streams.records import SourceRecord, next_offsets
from streams.store import BatchOutcome


def fetched_record(offset: int) -> Any:
    return SimpleNamespace(offset=offset, key=b"k", value=b"{}", timestamp=1_700_000_000_123, headers=[])


class TestToSourceRecords:
    def test_only_the_topics_active_partitions_not_held_ones(self) -> None:
        fetched = {
            TopicPartition("results", 0): [fetched_record(5), fetched_record(6)],
            TopicPartition("results", 1): [fetched_record(9)],
            TopicPartition("results", 2): [fetched_record(3)],
            TopicPartition("other", 0): [fetched_record(1)],
        }
        active = {TP("results", 0), TP("results", 1)}  # faust's TP and aiokafka's compare as tuples
        records = to_source_records(fetched, "results", active, {TP("results", 1)})
        assert [(r.partition, r.offset) for r in records] == [(0, 5), (0, 6)]
        assert records[0].timestamp == 1_700_000_000.123  # milliseconds → seconds

    def test_without_an_active_set_every_partition_counts(self) -> None:
        fetched = {TopicPartition("results", 3): [fetched_record(0)]}
        assert len(to_source_records(fetched, "results", None, set())) == 1


def test_next_offsets_are_one_past_the_last_record_per_partition() -> None:
    records = [SourceRecord(0, 4, None, None), SourceRecord(1, 7, None, None), SourceRecord(0, 6, None, None)]
    assert next_offsets(records) == {0: 7, 1: 8}


class StubProcessor:
    """Prepares instantly; each write waits until the test releases it; records what happened, in order."""

    def __init__(self, held: set[int] | None = None) -> None:
        self.events: list[str] = []
        self.release = asyncio.Event()
        self.held = held or set()
        self.stopped = False

    async def prepare(self, records: Sequence[SourceRecord]) -> PreparedBatch:
        self.events.append(f"prepare {records[0].offset}")
        return PreparedBatch(records, [], 0.0)

    async def commit(self, batch: PreparedBatch) -> BatchOutcome:
        self.events.append(f"write {batch.records[0].offset}")
        await self.release.wait()
        self.events.append(f"stored {batch.records[0].offset}")
        return BatchOutcome(held=set(self.held))

    def stop(self) -> None:
        self.stopped = True

    def resume(self) -> None:
        self.stopped = False


def pipeline(processor: StubProcessor, committed: list[dict[int, int]], grace: float = 1.0) -> WritePipeline:
    async def on_stored(offsets: dict[int, int]) -> None:
        committed.append(offsets)

    return WritePipeline(processor, on_stored, shutdown_grace_s=grace)  # type: ignore[arg-type]


class TestWritePipeline:
    def test_a_write_starts_before_the_next_batch_is_validated_and_writes_stay_in_order(self) -> None:
        async def run() -> tuple[list[str], list[dict[int, int]]]:
            processor, committed = StubProcessor(), list[dict[int, int]]()
            stages = pipeline(processor, committed)
            await stages.submit([SourceRecord(0, 0, None, None)])
            assert processor.events == ["prepare 0", "write 0"]  # started, not left for later
            second = asyncio.ensure_future(stages.submit([SourceRecord(0, 1, None, None)]))
            await asyncio.sleep(0.01)
            assert processor.events == ["prepare 0", "write 0", "prepare 1"]  # waits for write 0
            processor.release.set()
            await second
            await stages.finish()
            return processor.events, committed

        events, committed = asyncio.run(run())
        assert events == ["prepare 0", "write 0", "prepare 1", "stored 0", "write 1", "stored 1"]
        assert committed == [{0: 1}, {0: 2}]

    def test_offsets_of_partitions_the_write_left_out_are_never_committed(self) -> None:
        async def run() -> list[dict[int, int]]:
            processor, committed = StubProcessor(held={1}), list[dict[int, int]]()
            processor.release.set()
            stages = pipeline(processor, committed)
            await stages.submit([SourceRecord(0, 3, None, None), SourceRecord(1, 8, None, None)])
            await stages.finish()
            return committed

        assert asyncio.run(run()) == [{0: 4}]

    def test_a_write_past_the_grace_stays_the_only_writer(self) -> None:
        async def run() -> tuple[bool, list[str]]:
            processor, committed = StubProcessor(), list[dict[int, int]]()
            stages = pipeline(processor, committed, grace=0.05)
            await stages.submit([SourceRecord(0, 0, None, None)])
            await stages.finish()  # the write is still waiting: not forgotten, not resumed beside
            still_stopped = processor.stopped
            nxt = asyncio.ensure_future(stages.submit([SourceRecord(0, 1, None, None)]))
            await asyncio.sleep(0.01)
            events_before_release = list(processor.events)
            processor.release.set()
            await nxt
            await stages.finish()
            return still_stopped, events_before_release

        still_stopped, events = asyncio.run(run())
        assert still_stopped
        assert events == ["prepare 0", "write 0", "prepare 1"]  # the second write waited for the first
