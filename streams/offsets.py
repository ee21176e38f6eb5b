"""Whether the database's offsets still count the log Kafka now holds.

The worker skips every record below a partition's stored next offset: that is how redelivery stays harmless. It
is also how a recreated topic (an operator's mistake, a move to a new cluster) would lose data silently: the new
log's first records sit below the old log's offsets. So each offsets row names its log ("<cluster id>/<topic id>"),
and a partition whose row names another log, or whose stored offset lies past the log's end, is *refused*: the
worker stores nothing from it, says why, and waits for ``qsmon offsets reset`` (a deliberate decision).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qsmon.exceptions import QsmonError

log = logging.getLogger("qsmon.worker")


@dataclass(frozen=True, slots=True)
class StoredOffset:
    next_offset: int
    log_identity: str | None  # None: stored before identities were kept; adopted by the next batch


@dataclass(frozen=True, slots=True)
class LogState:
    """One topic as the broker has it now."""

    identity: str
    start: Mapping[int, int]  # first offset still kept, per partition
    end: Mapping[int, int]  # next offset to be written, per partition


class LogUnavailableError(QsmonError):
    """Kafka did not say which log it holds (cluster or topic id, offsets)."""


def identity_refusal(partition: int, row: StoredOffset, identity: str) -> str | None:
    """Why ``row`` does not count the log named ``identity``, or None when it does (or predates identities)."""
    if row.log_identity is None or row.log_identity == identity:
        return None
    return (
        f"partition {partition}: the database's offset {row.next_offset} counts log {row.log_identity}, but "
        f"Kafka now holds log {identity} (the topic was deleted and recreated, or this is another cluster); "
        f"nothing from it is stored until an operator runs `qsmon offsets reset --partition {partition} "
        "--to earliest` (store the new log from its start; results already stored are not counted twice) "
        "or `--to latest` (skip what it holds)"
    )


def refusals(stored: Mapping[int, StoredOffset], log: LogState, partitions: Iterable[int]) -> dict[int, str]:
    """The partitions whose stored offsets do not count ``log``, each with what happened and how to repair it."""
    refused: dict[int, str] = {}
    for partition in partitions:
        row = stored.get(partition)
        if row is None:
            continue  # never stored: starts from the log's beginning
        if (reason := identity_refusal(partition, row, log.identity)) is not None:
            refused[partition] = reason
        elif row.next_offset > log.end.get(partition, 0):
            refused[partition] = (
                f"partition {partition}: the database's offset {row.next_offset} lies past the log's end "
                f"{log.end.get(partition, 0)} (the log was truncated or replaced); nothing from it is stored until "
                f"an operator runs `qsmon offsets reset --partition {partition} --to earliest` or `--to latest`"
            )
    return refused


def records_waiting(partition: int, row: StoredOffset | None, log: LogState, *, refused: bool) -> int:
    """Records of ``partition`` the database has not applied: past its stored offset, or, for a partition it
    refuses (its offsets count another log) or never stored, all the log still keeps."""
    start, end = log.start.get(partition, 0), log.end.get(partition, 0)
    if refused or row is None:
        return max(0, end - start)
    return max(0, end - row.next_offset)


class LogReader:
    """Reads a topic's :class:`LogState` from the broker over one admin connection (thread-safe)."""

    def __init__(self, bootstrap: str, topic: str, *, timeout_s: float = 10.0) -> None:
        self.bootstrap, self.topic, self.timeout_s = bootstrap, topic, timeout_s
        self._admin: Any = None
        self._lock = threading.Lock()

    def read(self) -> LogState:
        from kafka.errors import KafkaError

        with self._lock:
            try:
                return self._read(self._client())
            except KafkaError as exc:
                self.close()
                raise LogUnavailableError(
                    "Kafka did not describe the topic", topic=self.topic, error=repr(exc)
                ) from exc

    def _records_between(self, partition: int, first: int, end: int) -> bool:
        """Whether the partition holds a record at an offset in [first, end)."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            consumer_timeout_ms=int(self.timeout_s * 1000),
            max_poll_records=1,
        )
        try:
            tp = TopicPartition(self.topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, first)
            for record in consumer:
                return bool(record.offset < end)
            return False
        finally:
            consumer.close()

    def close(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None

    def _client(self) -> Any:
        from kafka.admin import KafkaAdminClient
        from kafka.errors import KafkaError

        if self._admin is None:
            try:
                self._admin = KafkaAdminClient(
                    bootstrap_servers=self.bootstrap,
                    client_id="qsmon-offsets",
                    request_timeout_ms=int(self.timeout_s * 1000),
                )
            except KafkaError as exc:
                raise LogUnavailableError("cannot reach Kafka", bootstrap=self.bootstrap, error=repr(exc)) from exc
        return self._admin

    def _read(self, admin: Any) -> LogState:
        from kafka import TopicPartition
        from kafka.admin import OffsetSpec

        cluster_id = admin.describe_cluster().get("cluster_id")
        described = admin.describe_topics([self.topic])
        if not described or described[0].get("error_code"):
            raise LogUnavailableError("topic not found", topic=self.topic)
        topic_id = described[0].get("topic_id")
        if not cluster_id or not topic_id:
            raise LogUnavailableError("Kafka gave no cluster or topic id", topic=self.topic)
        partitions = [TopicPartition(self.topic, p["partition_index"]) for p in described[0]["partitions"]]
        earliest = admin.list_partition_offsets(dict.fromkeys(partitions, OffsetSpec.EARLIEST))
        latest = admin.list_partition_offsets(dict.fromkeys(partitions, OffsetSpec.LATEST))
        return LogState(
            identity=f"{cluster_id}/{topic_id}",
            start={tp.partition: int(o.offset) for tp, o in earliest.items()},
            end={tp.partition: int(o.offset) for tp, o in latest.items()},
        )

    def confirm_skips(self, stored: Mapping[int, StoredOffset], partitions: set[int]) -> None:
        """Before records of ``partitions`` are skipped as already applied: raises :class:`PartitionsRefusedError`
        when the broker's log is not the one the offsets count (the skip would drop new records)."""
        from streams.exceptions import PartitionsRefusedError

        refused = refusals(stored, self.read(), partitions)
        if refused:
            raise PartitionsRefusedError(refused)

    def confirm_gaps(self, stored: Mapping[int, StoredOffset], gaps: Mapping[int, tuple[int, int]]) -> None:
        """Before a partition's offset jumps from ``stored`` to ``first``: allowed only when Kafka no longer has the
        records between (deleted by retention before they were stored: logged as lost); else
        :class:`RecordsOutOfOrderError`, and the records are read again from the stored offset."""
        from streams.exceptions import PartitionsRefusedError, RecordsOutOfOrderError

        state = self.read()
        refused = refusals(stored, state, gaps)
        if refused:
            raise PartitionsRefusedError(refused)
        retained = {p: span for p, span in gaps.items() if state.start.get(p, 0) < span[1]}
        # Kafka still has offsets between: records (a seek raced the fetcher: read them) or only a transactional
        # producer's markers, which no consumer ever receives (read on). The broker says which.
        out_of_order = {p: span for p, span in retained.items() if self._records_between(p, *span)}
        if out_of_order:
            raise RecordsOutOfOrderError(out_of_order)
        for partition, (expected, first) in gaps.items():
            if partition in retained:
                log.warning(
                    "partition %d: offsets %d..%d hold no records (transaction markers): read on",
                    partition,
                    expected,
                    first - 1,
                )
            else:
                log.error(
                    "partition %d: records %d..%d were deleted by Kafka's retention before they were stored",
                    partition,
                    expected,
                    first - 1,
                )
