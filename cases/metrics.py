"""Case and working-day calendar gauges for Prometheus, read when it scrapes (exported by the alert service)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from qsmon import clock
from qsmon.storage import connect
from qsmon.workdays import Calendar, default_calendar

_CASES = "SELECT status, count(*) FROM cases GROUP BY status"
_STEPS = """
SELECT case_step_state(s.done_on, s.due_on, s.soon_on, %s) AS state, count(*)
FROM cases c JOIN case_steps s ON s.case_id = c.id
WHERE c.status = 'open' AND s.done_on IS NULL
GROUP BY 1
"""


class CaseCollector(Collector):
    def __init__(self, dsn: str, timezone: str) -> None:
        self.dsn, self.timezone = dsn, timezone

    def collect(self) -> Iterator[Metric]:
        cases = GaugeMetricFamily("qsmon_cases", "Follow-up cases of failed samples, by status", labels=["status"])
        steps = GaugeMetricFamily(
            "qsmon_case_steps_pending", "Steps of open cases not yet done, by where they stand today", labels=["state"]
        )
        try:
            with connect(self.dsn, application_name="qsmon-case-metrics", connect_timeout_s=3) as conn:
                for status, count in conn.execute(_CASES).fetchall():
                    cases.add_metric([status], count)
                for state, count in conn.execute(_STEPS, (clock.today(self.timezone),)).fetchall():
                    steps.add_metric([state], count)
        except Exception:  # a scrape must not fail because the database is away  # noqa: S110
            pass
        yield from (cases, steps)
        yield from calendar_metrics(default_calendar(), clock.today(self.timezone))


def calendar_metrics(calendar: Calendar, today: date) -> Iterator[Metric]:
    """Whether the working-day calendar lacks next year (from 1 November), and the last year it knows."""
    missing = GaugeMetricFamily(
        "qsmon_workdays_next_year_missing",
        "1 from 1 November while the working-day calendar lacks next year (QSMON_WORKDAYS_FILE)",
    )
    missing.add_metric([], float(today.year + 1 in calendar.missing(today)))
    last = GaugeMetricFamily("qsmon_workdays_last_year", "The last year the working-day calendar knows without a gap")
    last.add_metric([], calendar.last_year)
    yield from (missing, last)
