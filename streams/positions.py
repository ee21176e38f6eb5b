"""Where the worker reads each partition from: the database's offsets, once they are known to count the broker's
log; partitions whose offsets do not are refused (paused, reported) and re-checked until an operator resets them
(``qsmon offsets reset``). See streams.offsets for the rules."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from qsmon.exceptions import StorageError
from streams.metrics import WorkerMetrics
from streams.offsets import LogReader, LogUnavailableError, refusals
from streams.store import ResultStore

log = logging.getLogger("qsmon.worker")


class PartitionPositions:
    """Positions the worker's partitions; ``refused`` is the one set of refused partitions (the batch processor
    shares it: it leaves their records unstored and unacknowledged)."""

    def __init__(
        self,
        app: Any,
        topic: str,
        *,
        store: ResultStore,
        offsets_reader: ResultStore,
        log_reader: LogReader,
        metrics: WorkerMetrics,
    ) -> None:
        self.app, self.topic = app, topic
        self.store, self.offsets_reader, self.log_reader = store, offsets_reader, log_reader
        self.metrics = metrics
        self.refused: set[int] = set()

    def _tps(self, partitions: Iterable[int]) -> list[Any]:
        from faust.types import TP

        return [TP(self.topic, p) for p in partitions]

    def problem(self) -> str | None:
        """For readiness: refused partitions make the worker unready."""
        refused = sorted(self.refused)
        return f"partitions {refused} refused: see the log or `qsmon offsets show`" if refused else None

    def hold(self, partitions: Iterable[int]) -> None:
        """Hand on nothing of these partitions until they are positioned (streams.fetch.BatchConsumer)."""
        self.app.consumer.hold(self._tps(partitions))

    async def refuse(self, reasons: dict[int, str]) -> None:
        """Stop reading partitions whose offsets count another log; their records stay unacknowledged."""
        self.refused.update(reasons)
        self.hold(reasons)  # faust's recovery may resume them: what is fetched anyway is dropped
        self.app.consumer.pause_partitions(self._tps(reasons))
        for partition in reasons:
            self.metrics.refused.labels(str(partition)).set(1)

    async def position(self, partitions: Sequence[int]) -> None:
        """Judge the partitions' stored offsets against the broker's log; seek the sound ones, refuse the rest."""
        try:
            stored = await asyncio.to_thread(self.offsets_reader.stored_offsets)
            state = await asyncio.to_thread(self.log_reader.read)
        except (StorageError, LogUnavailableError, OSError) as exc:
            # Nothing can be judged: refuse (re-checked shortly) rather than guess. A skip is confirmed against
            # the broker anyway (ResultStore's guard), so this is caution, not the only guard.
            await self.refuse({p: f"partition {p}: offsets not checked yet: {exc}" for p in partitions})
            log.warning("partitions %s wait: could not judge their offsets: %s", list(partitions), exc)
            return
        self.store.log_identity = state.identity
        refused = refusals(stored, state, partitions)
        for reason in refused.values():
            log.error("%s", reason)
        if refused:
            await self.refuse(refused)
        # A partition the database has no offset for starts at the log's beginning, whatever Kafka's group says:
        # after a restore from backup the group's offsets are ahead of the database (docs/operations.md).
        restore = {
            tp: stored[tp.partition].next_offset if tp.partition in stored else state.start.get(tp.partition, 0)
            for tp in self._tps(p for p in partitions if p not in refused)
        }
        if restore:
            self.app.consumer.reposition(restore)  # applied between two fetches (streams.fetch.BatchConsumer)
            self.metrics.rewinds.inc(len(restore))
            log.info("partitions read from the database's offsets: %s", {tp.partition: o for tp, o in restore.items()})

    async def recheck(self) -> None:
        """Resume refused partitions whose offsets count the broker's log again (after `qsmon offsets reset`)."""
        waiting = sorted(self.refused)
        if not waiting:
            return
        self.refused.difference_update(waiting)
        for partition in waiting:
            self.metrics.refused.labels(str(partition)).set(0)
        await self.position(waiting)  # refuses again what is still unsound
        resumed = [p for p in waiting if p not in self.refused]
        if resumed:
            self.app.consumer.resume_partitions(self._tps(resumed))
            log.warning("partitions %s resumed: their offsets count the broker's log again", resumed)

    def forget(self, partitions: Iterable[int]) -> None:
        """Revoked: another worker judges and reports them now."""
        for partition in partitions:
            self.refused.discard(partition)
            for gauge in (self.metrics.refused, self.metrics.consumer_lag):
                with contextlib.suppress(KeyError):
                    gauge.remove(str(partition))
