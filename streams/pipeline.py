"""Two stages per worker: batch k+1 is validated while batch k is written.

The write runs in a thread (the GIL is released while PostgreSQL works) and at most one is in flight, so batches
are written in the order they were fetched. A batch's offsets are committed to Kafka's group only after its
database transaction committed, and never for partitions the batch left out (held or refused): Kafka's committed
offset never passes the database's, which is what the worker restarts from anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from streams.exceptions import WorkerStoppingError
from streams.processor import BatchProcessor, PreparedBatch
from streams.records import SourceRecord, next_offsets
from streams.store import BatchOutcome

# Told, after each stored batch, the next offset of every partition it stored (none of those it left out).
OnStored = Callable[[dict[int, int]], Awaitable[None]]


class WritePipeline:
    def __init__(self, processor: BatchProcessor, on_stored: OnStored, *, shutdown_grace_s: float = 20.0) -> None:
        self.processor = processor
        self.on_stored = on_stored
        self.shutdown_grace_s = shutdown_grace_s
        self._in_flight: asyncio.Future[None] | None = None

    async def submit(self, records: list[SourceRecord]) -> None:
        """Validate ``records`` (dead-lettering the invalid), wait for the previous write, start this one's."""
        prepared = await self.processor.prepare(records)
        if self._in_flight is not None:
            await asyncio.shield(self._in_flight)  # a failed write raises here: the worker stops, nothing lost
        self._in_flight = asyncio.ensure_future(self._write(prepared))
        # Let it start (hand the batch to its thread) before this returns: validation of the next batch does not
        # yield to the event loop, so otherwise the write would only begin once that validation was done.
        await asyncio.sleep(0)

    async def _write(self, prepared: PreparedBatch) -> None:
        outcome: BatchOutcome = await self.processor.commit(prepared)
        await self.on_stored(next_offsets([r for r in prepared.records if r.partition not in outcome.held]))

    async def finish(self) -> None:
        """Stopping: a write under way finishes (within the grace), one waiting for the database is given up.
        Nothing unstored is committed; the database's offsets decide where the next reader starts."""
        self.processor.stop()
        in_flight = self._in_flight
        if in_flight is not None:
            with contextlib.suppress(WorkerStoppingError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(in_flight), timeout=self.shutdown_grace_s)
            if not in_flight.done():
                return  # still writing past the grace: stays the one writer (a later submit waits for it)
            self._in_flight = None
        self.processor.resume()  # a fetcher faust restarts (after a crash in a rebalance) stores again
