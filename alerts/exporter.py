"""Indicator gauges for Prometheus, read from the latest evaluations when Prometheus scrapes."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from qsmon.storage import connect

STATE_CODES = {"ok": 0, "warning": 1, "critical": 2, "insufficient_data": -1}
_LABELS = ["plan", "indicator", "region", "subcategory", "window"]


class IndicatorCollector(Collector):
    """One query per scrape; a database outage shows as missing series, not as a failed scrape."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def collect(self) -> Iterator[Metric]:
        value = GaugeMetricFamily("qsmon_indicator_value", "Rate (%) or mean score of the indicator", labels=_LABELS)
        target = GaugeMetricFamily("qsmon_indicator_target", "Target of the indicator", labels=_LABELS)
        samples = GaugeMetricFamily("qsmon_indicator_samples", "Samples in the window", labels=_LABELS)
        low = GaugeMetricFamily("qsmon_indicator_interval_low", "Lower 95 % bound", labels=_LABELS)
        high = GaugeMetricFamily("qsmon_indicator_interval_high", "Upper 95 % bound", labels=_LABELS)
        state = GaugeMetricFamily(
            "qsmon_indicator_state", "0 ok, 1 warning, 2 critical, -1 insufficient data", labels=_LABELS
        )
        try:
            with connect(self.dsn, application_name="qsmon-exporter") as conn:
                rows = conn.execute(
                    "SELECT plan_id, indicator_id, region_code, subcategory, window_name, value, target, tested,"
                    " low, high, state FROM indicator_evaluations"
                ).fetchall()
        except Exception:  # a scrape must not fail because the database is away
            rows = []
        for plan, indicator, region, subcategory, window, v, t, n, lo, hi, s in rows:
            labels = [plan, indicator, region, subcategory or "all", window]
            if v is not None:
                value.add_metric(labels, v)
                low.add_metric(labels, lo)
                high.add_metric(labels, hi)
            if t is not None:
                target.add_metric(labels, t)
            samples.add_metric(labels, n)
            state.add_metric(labels, STATE_CODES[s])
        yield from (value, target, samples, low, high, state)
