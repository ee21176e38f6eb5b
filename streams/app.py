"""The faust worker: consumes the results topic in batches and hands each batch to the processor.

faust-streaming runs the app (group membership, rebalances, timers, the producer), but its commit/rebalance path
has open bugs (#606, #532, #629) and its per-message path cost more than storing a record. So correctness never
rests on its commits, and records never pass through its streams:
* batches are whole fetches from the consumer faust manages (streams.fetch); validated while the previous batch
  is written (streams.pipeline); offsets are committed only after the batch's database transaction committed;
* a record the database refuses is dead-lettered and the rest of its batch stored; an unavailable database is
  retried until it is back, so a batch is never skipped;
* on SIGTERM a write under way is finished (shielded from cancellation), one waiting for the database given up;
* on every partition assignment the worker seeks to the database's next offsets (the log's start where it has
  none), so whatever Kafka's group committed ahead of the database is read again (and records the database has
  are skipped, cheaply); records that arrive past a stored offset anyway (a seek racing the fetcher) are held and
  read again in order, never let the offset jump over records Kafka still has (ResultStore's guard);
* a partition whose stored offsets count another log (a recreated topic, another cluster) is refused, never
  skipped: paused, reported (log, metric, readiness) and re-checked until an operator resets it (streams.offsets).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faust.types import TP
from prometheus_client import CollectorRegistry

from qsmon.changes import RollupKey, encode_changes
from qsmon.health import Cached, Health, Heartbeat, database_reachable, tcp_reachable
from qsmon.settings import Settings
from streams import dead_letters
from streams.fetch import BatchApp
from streams.metrics import WorkerMetrics
from streams.offsets import LogReader
from streams.pipeline import WritePipeline
from streams.positions import PartitionPositions
from streams.processor import BatchProcessor
from streams.records import Rejected
from streams.store import ResultStore

log = logging.getLogger("qsmon.worker")

# faust-streaming ships no type information; its objects are Any here.
FaustApp = Any

SHUTDOWN_GRACE_S = 20.0
RECHECK_REFUSED_S = 15.0  # a refused partition resumes this soon after `qsmon offsets reset`
HEARTBEAT_S = 5.0


def _faust_app(settings: Settings) -> BatchApp:
    return BatchApp(
        settings.worker_group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        # faust wants a data directory even with in-memory tables: a temporary one, never the working directory
        # (read-only in the image, and one test group each would litter a checkout).
        datadir=str(Path(tempfile.gettempdir()) / "qsmon-faust-{conf.name}"),
        web_enabled=False,
        topic_disable_leader=True,  # no leader topic: the broker does not auto-create topics
        consumer_auto_offset_reset="earliest",
        # Topic metadata is re-read this often: a recreated topic, or partitions added by `qsmon init`, are
        # assigned (and judged) within 30 s rather than aiokafka's default 5 minutes.
        consumer_metadata_max_age_ms=30_000,
        broker_max_poll_records=settings.worker_batch_size,  # the most records one fetch (one batch) holds
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.worker_session_timeout_s / 10),
        broker_rebalance_timeout=settings.worker_session_timeout_s,
        producer_acks=-1,
        producer_compression_type="lz4",
        # No streams to wait for (batches bypass them): a batch given up at shutdown is read again, one still
        # being written is skipped by its next reader once committed (partition row locks serialise the two).
        stream_wait_empty=False,
    )


def create_app(settings: Settings, registry: CollectorRegistry, health: Health | None = None) -> FaustApp:
    app: FaustApp = _faust_app(settings)  # faust ships no type information
    # acks=False: faust never sees these records as messages; offsets follow the database (see the module doc).
    results_topic = app.topic(settings.results_topic, key_type=bytes, value_type=bytes, acks=False)
    metrics = WorkerMetrics(registry)
    log_reader = LogReader(settings.kafka_bootstrap, settings.results_topic)
    store = ResultStore(
        settings.dsn,
        group=settings.worker_group,
        topic=settings.results_topic,
        timezone=settings.timezone,
        guard=log_reader,
        case_deadlines_file=settings.case_deadlines_file,
        case_soon_working_days=settings.cases_due_soon_working_days,
        workdays_file=settings.workdays_file,
    )
    offsets_reader = ResultStore(settings.dsn, group=settings.worker_group, topic=settings.results_topic)
    health = health or Health()
    heartbeat = Heartbeat("event loop", limit_s=60.0)
    health.liveness["loop"] = heartbeat.check

    async def dead_letter(items: Sequence[Rejected]) -> None:
        pending = [
            await app.producer.send(
                settings.dlq_topic,
                item.record.key,
                item.record.value,
                None,
                None,
                dead_letters.headers_for(item, settings.results_topic),
            )
            for item in items
        ]
        await asyncio.gather(*pending)  # acknowledged by Kafka before the batch may be committed

    async def publish_changes(keys: set[RollupKey]) -> None:
        for message in encode_changes(keys):
            await app.producer.send_and_wait(settings.changes_topic, None, message, None, None, None)

    positions = PartitionPositions(
        app, settings.results_topic, store=store, offsets_reader=offsets_reader, log_reader=log_reader, metrics=metrics
    )
    processor = BatchProcessor(
        store,
        metrics,
        dead_letter,
        publish_changes,
        refused=positions.refused,
        refuse_partitions=positions.refuse,
        reposition=positions.position,
    )
    health.readiness["partitions"] = positions.problem
    health.readiness["database"] = Cached(lambda: database_reachable(settings.dsn, "qsmon-worker:health"))
    health.readiness["kafka"] = Cached(lambda: tcp_reachable(settings.kafka_bootstrap))
    health.readiness["commits"] = lambda: commits_stalled(metrics, settings.worker_ready_commit_age_s)

    @app.on_partitions_assigned.connect  # type: ignore[untyped-decorator]
    async def restore_database_offsets(sender: Any, assigned: set[Any], **_: Any) -> None:
        ours = sorted(tp.partition for tp in assigned if tp.topic == settings.results_topic)
        if ours:
            positions.hold(ours)  # before the first await: nothing of them is handed on until positioned
            await positions.position(ours)

    @app.on_partitions_revoked.connect  # type: ignore[untyped-decorator]
    async def forget_partitions(sender: Any, revoked: set[Any], **_: Any) -> None:
        positions.forget(tp.partition for tp in revoked if tp.topic == settings.results_topic)

    @app.timer(RECHECK_REFUSED_S)  # type: ignore[untyped-decorator]
    async def recheck_refused() -> None:
        await positions.recheck()

    @app.timer(HEARTBEAT_S)  # type: ignore[untyped-decorator]
    async def beat() -> None:
        heartbeat.beat()

    async def stored(offsets: dict[int, int]) -> None:
        metrics.committed()
        _update_lag(app, metrics, settings.results_topic, offsets)
        app.consumer.commit_group(settings.results_topic, offsets)  # lag tools' view; ours is the database's

    app.consume_batches(results_topic, WritePipeline(processor, stored, shutdown_grace_s=SHUTDOWN_GRACE_S))
    return app


def _update_lag(app: FaustApp, metrics: WorkerMetrics, topic: str, next_offsets: dict[int, int]) -> None:
    for partition, offset in next_offsets.items():
        try:
            highwater = app.consumer.highwater(TP(topic, partition))
        except Exception:  # a gauge is not worth failing a batch for
            log.debug("no high-water mark for partition %d yet", partition)
            continue
        if highwater is not None:
            metrics.consumer_lag.labels(str(partition)).set(max(0, highwater - offset))


def commits_stalled(metrics: WorkerMetrics, limit_s: float) -> str | None:
    """Records are waiting (lag) but no batch was committed for ``limit_s``: stuck, though alive."""
    import time

    lag = sum(sample.value for metric in metrics.consumer_lag.collect() for sample in metric.samples)
    last = metrics.last_commit_at
    if lag > 0 and last > 0 and time.time() - last > limit_s:
        return f"{lag:.0f} records waiting and no batch committed for {time.time() - last:.0f}s"
    return None
