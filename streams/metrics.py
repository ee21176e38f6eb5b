"""The worker's Prometheus metrics; the registry is passed in so tests can read values back."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BATCH_SIZES = (1, 10, 50, 100, 500, 1000, 2000, 5000, 10000)
_LATENCIES = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_LAG_SECONDS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400, 7 * 86400, 30 * 86400)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.processed = Counter(
            "qsmon_results_processed_total",
            "Valid results received, by category and verdict",
            ["category", "verdict"],
            registry=registry,
        )
        self.stored = Counter(
            "qsmon_results_stored_total", "New sample revisions written to the database", registry=registry
        )
        self.redelivered = Counter(
            "qsmon_results_redelivered_total",
            "Records skipped because the database already applied their offset",
            registry=registry,
        )
        self.invalid = Counter(
            "qsmon_results_invalid_total",
            "Records sent to the dead-letter topic, by reason",
            ["reason"],
            registry=registry,
        )
        self.batch_size = Histogram("qsmon_batch_size", "Records per batch", buckets=_BATCH_SIZES, registry=registry)
        self.batch_seconds = Histogram(
            "qsmon_batch_seconds",
            "Time to validate, store and publish one batch",
            buckets=_LATENCIES,
            registry=registry,
        )
        self.end_to_end = Histogram(
            "qsmon_end_to_end_lag_seconds",
            "From the record's produce time to its batch being committed",
            buckets=_LAG_SECONDS,
            registry=registry,
        )
        self.report_lag = Histogram(
            "qsmon_report_lag_seconds",
            "From reported_at to the result being stored",
            buckets=_LAG_SECONDS,
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "qsmon_consumer_lag", "Records behind the partition's high-water mark", ["partition"], registry=registry
        )
        self.db_retries = Counter(
            "qsmon_db_retries_total", "Batch writes retried after a database error", registry=registry
        )
        self.rewinds = Counter(
            "qsmon_offset_rewinds_total",
            "Partitions moved back to the database's offset at assignment",
            registry=registry,
        )
        self.out_of_order = Counter(
            "qsmon_out_of_order_total",
            "Times a partition's records arrived past its stored offset and were read again",
            registry=registry,
        )
        self.refused = Gauge(
            "qsmon_partition_refused",
            "1 while a partition's stored offsets count another log (qsmon offsets show)",
            ["partition"],
            registry=registry,
        )
        self.last_commit = Gauge(
            "qsmon_last_commit_timestamp_seconds",
            "When the last batch was committed to the database",
            registry=registry,
        )
        self.last_commit_at = 0.0
        self.changes_published = Counter(
            "qsmon_rollup_changes_published_total",
            "Changed rollup keys published to the change feed",
            registry=registry,
        )

    def committed(self) -> None:
        self.last_commit_at = time.time()
        self.last_commit.set(self.last_commit_at)
