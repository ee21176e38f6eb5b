"""The pipeline seen from outside the worker, for Prometheus: exported by the alert service, so a dead or absent
worker still shows up as growing lag (deploy/prometheus/rules/pipeline.yml alerts on these)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from qsmon.settings import Settings
from qsmon.storage import connect
from streams.offsets import LogReader, StoredOffset, records_waiting, refusals

_OUTBOX = """
SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)
FROM notification_outbox WHERE delivered_at IS NULL
"""
_OFFSETS = """
SELECT partition, next_offset, log_identity FROM stream_offsets WHERE consumer_group = %s AND topic = %s
"""


class PipelineCollector(Collector):
    """Per scrape: the database's offsets against the broker's log ends, the outbox backlog, the dead letters.

    A source that cannot be read shows as ``qsmon_pipeline_source_up{source} 0`` and missing series, never as a
    failed scrape."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.results = LogReader(settings.kafka_bootstrap, settings.results_topic, timeout_s=5)
        self.dead_letters = LogReader(settings.kafka_bootstrap, settings.dlq_topic, timeout_s=5)

    def collect(self) -> Iterator[Metric]:
        s = self.settings
        up = GaugeMetricFamily(
            "qsmon_pipeline_source_up", "1 when the collector could read the source", labels=["source"]
        )
        lag = GaugeMetricFamily(
            "qsmon_pipeline_lag_records",
            "Records in Kafka the database has not applied (broker log end - stored offset)",
            labels=["partition"],
        )
        refused = GaugeMetricFamily(
            "qsmon_pipeline_partition_refused",
            "1 when the stored offsets count another log than the broker's (qsmon offsets show)",
            labels=["partition"],
        )
        pending = GaugeMetricFamily("qsmon_outbox_pending", "Notifications not yet delivered")
        oldest = GaugeMetricFamily(
            "qsmon_outbox_oldest_pending_seconds", "Age of the oldest undelivered notification (0 when none)"
        )
        dead = GaugeMetricFamily("qsmon_dead_letters", "Records in the dead-letter topic (its log end)")
        stored: dict[int, StoredOffset] | None = None
        try:
            with connect(s.dsn, application_name="qsmon-pipeline-metrics", connect_timeout_s=3) as conn:
                stored = {
                    p: StoredOffset(o, log)
                    for p, o, log in conn.execute(_OFFSETS, (s.worker_group, s.results_topic)).fetchall()
                }
                count, age = conn.execute(_OUTBOX).fetchone() or (0, 0)
            pending.add_metric([], count)
            oldest.add_metric([], float(age))
            up.add_metric(["database"], 1)
        except Exception:  # a scrape must not fail because the database is away
            up.add_metric(["database"], 0)
        try:
            log = self.results.read()
            dead.add_metric([], sum(self.dead_letters.read().end.values()))
            up.add_metric(["kafka"], 1)
        except Exception:  # nor because Kafka is
            up.add_metric(["kafka"], 0)
        else:
            if stored is not None:
                refusing = refusals(stored, log, log.end)
                for partition in sorted(log.end):
                    is_refused = partition in refusing
                    lag.add_metric(
                        [str(partition)], records_waiting(partition, stored.get(partition), log, refused=is_refused)
                    )
                    refused.add_metric([str(partition)], 1 if is_refused else 0)
        yield from (up, lag, refused, pending, oldest, dead)
