"""One batch from records to committed storage: validate, dead-letter, store (with retry), publish changes.

Transport-agnostic: the faust agent feeds it, and so do the tests and the benchmark's reference consumers.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from qsmon import clock
from qsmon.changes import RollupKey
from qsmon.exceptions import StorageError
from streams.copy_rows import encode_rows
from streams.exceptions import (
    PartitionsRefusedError,
    RecordsOutOfOrderError,
    RecordsRefusedError,
    WorkerStoppingError,
)
from streams.metrics import WorkerMetrics
from streams.records import Accepted, Rejected, SourceRecord, classify
from streams.store import DATA_ERRORS, BatchOutcome, ResultStore

log = logging.getLogger("qsmon.worker")

DeadLetter = Callable[[Sequence[Rejected]], Awaitable[None]]
ChangeFeed = Callable[[set[RollupKey]], Awaitable[None]]
# Told which partitions were refused (their offsets count another log) and why; the worker stops reading them.
RefusedPartitions = Callable[[dict[int, str]], Awaitable[None]]
# Told which partitions delivered records out of order; the worker seeks them back to their stored offsets.
Reposition = Callable[[list[int]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    records: Sequence[SourceRecord]
    accepted: list[Accepted]
    started: float
    encoded: bytes | None = None  # accepted's COPY data (streams.copy_rows); None: encoded when written


class BatchProcessor:
    def __init__(
        self,
        store: ResultStore,
        metrics: WorkerMetrics,
        dead_letter: DeadLetter,
        publish_changes: ChangeFeed,
        *,
        refused: set[int] | None = None,
        refuse_partitions: RefusedPartitions | None = None,
        reposition: Reposition | None = None,
        max_backoff_s: float = 2.0,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.dead_letter = dead_letter
        self.publish_changes = publish_changes
        self.refuse_partitions = refuse_partitions
        self.reposition = reposition
        self.refused = refused if refused is not None else set()  # their records: left unstored, unacknowledged
        # Small: the worker is back within this long of the database's return.
        self.max_backoff_s = max_backoff_s
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Give up waiting for the database: a batch not yet stored raises :class:`WorkerStoppingError`."""
        self._stopping.set()

    def resume(self) -> None:
        """Wait for the database again (a stopped fetcher restarted)."""
        self._stopping.clear()

    async def prepare(self, records: Sequence[SourceRecord]) -> PreparedBatch:
        """Stage 1 (CPU): validate, and dead-letter the invalid records (acknowledged by Kafka)."""
        started = time.monotonic()
        accepted, rejected = classify(records, clock.now())
        if rejected:
            # Before the database commit: a crash in between re-sends them (at least once), never drops them.
            await self._dead_letter(rejected)
        try:
            encoded: bytes | None = encode_rows(accepted)
        except DATA_ERRORS:  # a value the driver cannot encode: the write finds the record and dead-letters it
            encoded = None
        return PreparedBatch(records, accepted, started, encoded)

    async def commit(self, batch: PreparedBatch) -> BatchOutcome:
        """Stage 2 (database): store until it succeeds, then publish the changed rollup keys.

        Records of refused partitions are left out (and must not be acknowledged: see ``refused``).
        """
        outcome, stored = await self._store_until_done(batch.accepted, batch.records, batch.encoded)
        if outcome.changed:
            await self.publish_changes(outcome.changed)
            self.metrics.changes_published.inc(len(outcome.changed))
        self._observe(batch.records, stored, outcome, batch.started)
        return outcome

    async def _dead_letter(self, rejected: Sequence[Rejected]) -> None:
        await self.dead_letter(rejected)
        for item in rejected:
            self.metrics.invalid.labels(item.reason_code).inc()

    async def _store_until_done(
        self, accepted: Sequence[Accepted], records: Sequence[SourceRecord], encoded: bytes | None
    ) -> tuple[BatchOutcome, Sequence[Accepted]]:
        """Store the batch: refused records go to the dead-letter topic, outages are waited out; never skip."""
        attempt = 0
        held: set[int] = set()  # partitions left out of this batch: read again, never acknowledged
        while True:
            leave_out = held | self.refused
            if leave_out:
                records = [r for r in records if r.partition not in leave_out]
                kept = [a for a in accepted if a.record.partition not in leave_out]
                if len(kept) < len(accepted):
                    accepted, encoded = kept, None  # the encoding holds records left out: encoded again
            try:
                outcome = await asyncio.to_thread(self.store.write, accepted, records, encoded)
            except PartitionsRefusedError as exc:
                self.refused.update(exc.reasons)
                for reason in exc.reasons.values():
                    log.error("%s", reason)  # noqa: TRY400 -- the reason is the message; no traceback helps
                if self.refuse_partitions is not None:
                    await self.refuse_partitions(exc.reasons)
            except RecordsOutOfOrderError as exc:
                held.update(exc.gaps)
                self.metrics.out_of_order.inc(len(exc.gaps))
                log.warning(
                    "records out of order (a seek raced the fetcher), read again from the stored offsets: %s",
                    {p: f"stored {stored}, received {first}" for p, (stored, first) in exc.gaps.items()},
                )
                if self.reposition is not None:
                    await self.reposition(sorted(exc.gaps))
            except RecordsRefusedError as exc:
                # Dead-lettered before the rest is committed: a crash in between re-sends them, never drops them.
                await self._dead_letter([Rejected(item.record, reason, "database") for item, reason in exc.refused])
                refused = {id(item) for item, _ in exc.refused}
                accepted, encoded = [item for item in accepted if id(item) not in refused], None
                log.warning(
                    "dead-lettered %d records the database refused; storing the rest of the batch", len(refused)
                )
            except StorageError as exc:
                attempt += 1
                delay = min(self.max_backoff_s, 0.1 * 2 ** min(attempt, 10)) * random.uniform(0.8, 1.2)  # noqa: S311
                self.metrics.db_retries.inc()
                log.warning("database write failed (attempt %d), retrying in %.1fs: %s", attempt, delay, exc)
                await self._backoff(delay)
            else:
                outcome.held = leave_out  # what this write left out, whatever was refused or resumed meanwhile
                return outcome, accepted

    async def _backoff(self, delay: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), delay)
        except TimeoutError:
            return
        raise WorkerStoppingError("stopped while waiting for the database; the batch will be read again")

    def _observe(
        self, records: Sequence[SourceRecord], accepted: Sequence[Accepted], outcome: BatchOutcome, started: float
    ) -> None:
        m = self.metrics
        m.batch_size.observe(len(records))
        m.batch_seconds.observe(time.monotonic() - started)
        m.stored.inc(outcome.stored)
        m.redelivered.inc(outcome.skipped)
        now = time.time()
        by_label = Counter((item.result.category, item.result.verdict) for item in accepted)
        for (category, verdict), count in by_label.items():
            m.processed.labels(category.value, verdict.value).inc(count)
        # One observation per batch keeps the histograms cheap; the oldest record speaks for the batch.
        stamps = [r.timestamp for r in records if r.timestamp]
        if stamps:
            m.end_to_end.observe(max(0.0, now - min(stamps)))
        if accepted:
            oldest_report = min(item.result.reported_at for item in accepted)
            m.report_lag.observe(max(0.0, now - oldest_report.timestamp()))
