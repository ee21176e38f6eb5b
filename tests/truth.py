"""The expected counts computed independently of the database: the oracle of the stream tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import psycopg

from qsmon.schema import InspectionResult
from qsmon.vocab import Verdict


def final_verdicts(events: Iterable[InspectionResult]) -> dict[str, InspectionResult]:
    """The highest revision of each sample; among equal revisions the first delivered wins."""
    final: dict[str, InspectionResult] = {}
    for event in events:
        current = final.get(event.sample_id)
        if current is None or event.revision > current.revision:
            final[event.sample_id] = event
    return final


def expected_counts(events: Iterable[InspectionResult]) -> Counter[tuple[str, str]]:
    """Final verdicts by category; a void one counts nowhere."""
    return Counter(
        (e.category.value, e.verdict.value) for e in final_verdicts(events).values() if e.verdict is not Verdict.VOID
    )


def stored_counts(db: psycopg.Connection) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for category, passed, failed in db.execute(
        "SELECT category, sum(passed), sum(failed) FROM rollup_daily GROUP BY category"
    ).fetchall():
        if passed:
            counts[(category, "pass")] = int(passed)
        if failed:
            counts[(category, "fail")] = int(failed)
    return counts
