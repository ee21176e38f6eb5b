"""Batches straight from the consumer faust manages, without faust's per-message machinery.

faust-streaming stays in charge of the app: group membership, rebalances, partition assignment and its signals,
timers, the producer. What it no longer does is turn every record into a Message and an Event and pass it through
the conductor, a channel and a stream: on a backlog that was ~85 µs of Python per record, more than validating
and storing it (docs/benchmarks.md). Its fetcher service calls ``Consumer._drain_messages``; this consumer's
drain takes whole fetches (``_wait_next_records``: aiokafka's ``fetched_records`` for the active partitions, up
to ``max_poll_records``) and hands each one to the app's batch sink as :class:`SourceRecord` s.

Nothing here acknowledges anything: the sink stores a batch, and only then are its offsets committed (to the
database, in the batch's transaction; then, in the background, to Kafka's group for lag tools). Where a partition
is read from is decided on assignment (streams.positions); nothing fetched before that is handed on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Container, Iterable, Mapping
from typing import Any, Protocol

import faust
from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka

from qsmon.provenance import sender_from_headers
from streams.records import SourceRecord


class BatchSink(Protocol):
    async def submit(self, records: list[SourceRecord]) -> None:
        """Take one fetch's records (it may wait for an earlier batch's write)."""

    async def finish(self) -> None:
        """The fetcher stops: let a write under way finish."""


log = logging.getLogger("qsmon.worker")

FETCH_TIMEOUT_S = 1.0  # an idle fetch returns this soon, so a stopping worker notices
SEEK_TIMEOUT_S = 30.0  # the consumer thread applies seeks between fetches; stuck longer, the worker restarts


GROUP_COMMIT_TIMEOUT_S = 10.0


def to_source_records(
    fetched: Mapping[Any, list[Any]], topic: str, active: set[Any] | None, skip: Container[Any]
) -> list[SourceRecord]:
    """aiokafka's records of ``topic``'s active partitions, in fetch order per partition; none of the partitions
    in ``skip`` (not positioned yet: fetched from where Kafka's group had them)."""
    return [
        SourceRecord(
            tp.partition,
            r.offset,
            r.key,
            r.value,
            r.timestamp / 1000 if r.timestamp else None,
            sender_from_headers(r.headers) if r.headers else None,
        )
        for tp, records in fetched.items()
        if tp.topic == topic and (active is None or tp in active) and tp not in skip
        for r in records
    ]


class BatchConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer, draining whole fetches into ``app.batch_sink``.

    A partition's records are handed on only once it is positioned: :meth:`hold` on assignment (before anything
    can be fetched for it), :meth:`reposition` when its offset is known (the database's). Seeks are applied by the
    drain, on the consumer's thread, between two fetches. A seek from the event loop, beside the thread's fetcher,
    could crash it (aiokafka's fetched_records: KeyError on the partition whose buffer the seek cleared); one from
    the assignment callback (faust's seek_wait) deadlocks, as the consumer thread waits for that callback.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unpositioned: set[Any] = set()
        self._repositioning: dict[Any, int] = {}
        self._group_offsets: dict[Any, int] = {}
        self._group_commit: asyncio.Future[None] | None = None

    def hold(self, tps: Iterable[Any]) -> None:
        """Hand on nothing of these partitions until :meth:`reposition` positions them (assigned, or refused)."""
        self._unpositioned.update(tps)

    def reposition(self, offsets: Mapping[Any, int]) -> None:
        """Read these partitions from these offsets: applied before the next fetch, and nothing fetched for them
        before that is handed on."""
        self._repositioning.update(offsets)

    async def _apply_repositioning(self) -> None:
        offsets, self._repositioning = self._repositioning, {}
        consumer = self._thread._ensure_consumer()

        async def seek() -> None:  # on the consumer thread's loop
            assigned = consumer.assignment()
            for tp, offset in offsets.items():
                if tp in assigned:  # revoked meanwhile: its new owner positions it
                    consumer.seek(tp, offset)

        await asyncio.wait_for(self._thread.call_thread(seek), timeout=SEEK_TIMEOUT_S)
        self._unpositioned.difference_update(offsets)

    def commit_group(self, topic: str, offsets: Mapping[int, int]) -> None:
        """Commit stored offsets to Kafka's group, in the background (latest wins), for lag tools. Never waited
        for and never fatal: the worker itself reads from the database's offsets."""
        self._group_offsets.update({TopicPartition(topic, p): o for p, o in offsets.items()})
        if self._group_commit is None or self._group_commit.done():
            self._group_commit = asyncio.ensure_future(self._commit_group())

    async def _commit_group(self) -> None:
        consumer = self._thread._ensure_consumer()

        async def commit(offsets: dict[Any, int]) -> None:  # on the consumer thread's loop
            assigned = consumer.assignment()
            mine = {tp: o for tp, o in offsets.items() if tp in assigned}
            if mine:  # aiokafka retries retriable errors: bounded here
                await asyncio.wait_for(consumer.commit(mine), timeout=GROUP_COMMIT_TIMEOUT_S)

        while self._group_offsets:
            offsets, self._group_offsets = self._group_offsets, {}
            try:
                await self._thread.call_thread(commit, offsets)
            except Exception as exc:
                log.warning("offsets not committed to Kafka's group (lag tools only): %r", exc)

    async def _drain_messages(self, fetcher: Any) -> None:
        app: Any = self.app  # ours: a BatchApp
        sink: BatchSink = app.batch_sink
        topic: str = app.batch_topic
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                if self._repositioning:
                    await self._apply_repositioning()
                generation = app.consumer_generation_id
                fetched, active = await self._wait_next_records(FETCH_TIMEOUT_S)
                if not fetched or self.should_stop or generation != app.consumer_generation_id:
                    continue  # a rebalance meanwhile: the new assignment repositions every partition
                records = to_source_records(fetched, topic, active, self._unpositioned | self._repositioning.keys())
                if records:
                    await sink.submit(records)
        except self.consumer_stopped_errors:
            if not app.should_stop:
                raise
        finally:  # stopped, cancelled or failed: a write under way finishes, none starts beside it
            await sink.finish()


class BatchTransport(faust_aiokafka.Transport):
    Consumer = BatchConsumer


class BatchApp(faust.App):
    """A faust app whose consumer hands the records of ``batch_topic`` to ``batch_sink``, a fetch at a time."""

    batch_sink: BatchSink
    batch_topic: str

    def _new_transport(self) -> Any:
        return BatchTransport(self.conf.broker_consumer, self)

    def consume_batches(self, topic: Any, sink: BatchSink) -> None:
        """Subscribe to ``topic`` (no agent, no stream) and hand its records to ``sink`` a fetch at a time."""
        self.batch_topic = topic.get_topic_name()
        self.batch_sink = sink
        self.topics.add(topic)
