"""What the public may see (issue #31): the one home of the publication rules. The read API applies them to
``public`` tokens; ``ANNOUNCED_SQL`` is the same rule as SQL, generated here and tested against
:func:`failure_published` (tests/integration/test_publication.py).

* A failure is published once announced: its announcement date is set and not after today (a local day), and never
  while a 复检 is pending (the failure may yet be overturned; publishing it would name a firm that passes).
* A rate over fewer than ``QSMON_API_PUBLIC_MIN_BATCHES`` batches is suppressed: one or two samples of a county,
  subcategory and day identify the firm they came from.
"""

from __future__ import annotations

from datetime import date

from qsmon.vocab import RetestStatus

# Over inspection_results r; %(today)s is the local day (settings.timezone). The monthly notice's annex (the
# bureau's own announcement) applies NO_RETEST_PENDING_SQL alone.
NO_RETEST_PENDING_SQL = f"r.retest_status IS DISTINCT FROM '{RetestStatus.PENDING.value}'"
ANNOUNCED_SQL = f"(r.announcement_date IS NOT NULL AND r.announcement_date <= %(today)s AND {NO_RETEST_PENDING_SQL})"
SUPPRESSED_NOTE = "少于{n}批次,不公布"  # what a suppressed cell says, in the bureau's words


def failure_published(announcement_date: date | None, retest_status: str | None, today: date) -> bool:
    """A failed sample may be shown to the public: announced by today, and no 复检 pending."""
    return announcement_date is not None and announcement_date <= today and retest_status != RetestStatus.PENDING.value


def rate_suppressed(tested: int, min_batches: int) -> bool:
    """A public rate cell too small to publish (it would identify a firm)."""
    return tested < min_batches
