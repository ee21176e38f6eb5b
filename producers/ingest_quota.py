"""Per-sender record quotas and volumes of the ingest API (issue #31). Each sender may send its records a minute
(its token's ``records_per_minute``, else ``QSMON_INGEST_RECORDS_PER_MINUTE``); a request that would pass the quota
is answered 429 with Retry-After and sends nothing. A token bucket per sender, holding a minute of records (at
least one full batch, so the largest request a sender may make can pass once its bucket is full)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import HTTPException, status
from prometheus_client import CollectorRegistry, Counter

from qsmon.auth import Caller
from qsmon.schema import InspectionResult
from qsmon.vocab import Verdict


@dataclass(slots=True)
class _Bucket:
    level: float
    at: float


class RecordQuota:
    """Records a minute per sender id, in this process (the ingest API runs as one)."""

    def __init__(self, largest_request: int) -> None:
        self._largest = largest_request
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()  # taken in the event loop and refunded from delivery threads

    def take(self, sender: str, records: int, per_minute: int) -> int:
        """0 when ``records`` may go now (and they are counted); else the seconds until they may."""
        per_second = per_minute / 60
        capacity = float(max(per_minute, self._largest))
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.setdefault(sender, _Bucket(capacity, now))
            bucket.level = min(capacity, bucket.level + (now - bucket.at) * per_second)
            bucket.at = now
            if bucket.level >= records:
                bucket.level -= records
                return 0
            return max(1, math.ceil((records - bucket.level) / per_second))

    def give_back(self, sender: str, records: int) -> None:
        """Records counted but never sent (Kafka did not take them): the sender may send them again."""
        with self._lock:
            bucket = self._buckets.get(sender)
            if bucket is not None:
                bucket.level += records


class Senders:
    """The quota and the per-sender counters the ingest API keeps. The counters are what the volume and
    failure-share alerts compare with each sender's history (deploy/prometheus/rules/pipeline.yml, QsmonSender*);
    a sender is a token, tens of them: a bounded label."""

    def __init__(self, registry: CollectorRegistry, largest_request: int, default_per_minute: int) -> None:
        self._quota = RecordQuota(largest_request)
        self._default = default_per_minute
        self._records = Counter(
            "qsmon_ingest_sender_records_total",
            "Records acknowledged by Kafka, per sender",
            ["sender"],
            registry=registry,
        )
        self._failures = Counter(
            "qsmon_ingest_sender_failures_total",
            "Failed results acknowledged by Kafka, per sender",
            ["sender"],
            registry=registry,
        )
        self._refused = Counter(
            "qsmon_ingest_quota_refused_records_total",
            "Records refused with 429: past the sender's quota",
            ["sender"],
            registry=registry,
        )

    def admit(self, caller: Caller, records: int) -> None:
        """Count ``records`` against the sender's quota; HTTPException 429 with Retry-After past it."""
        per_minute = caller.records_per_minute(self._default)
        wait = self._quota.take(caller.sender.id, records, per_minute)
        if wait:
            self._refused.labels(caller.sender.id).inc(records)
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"past this sender's quota of {per_minute} records a minute; nothing was sent",
                headers={"Retry-After": str(wait)},
            )

    def give_back(self, caller: Caller, records: int) -> None:
        self._quota.give_back(caller.sender.id, records)

    def delivered(self, caller: Caller, results: Sequence[InspectionResult]) -> None:
        self._records.labels(caller.sender.id).inc(len(results))
        self._failures.labels(caller.sender.id).inc(sum(1 for r in results if r.verdict is Verdict.FAIL))
