"""Will the plan year's target be met? The error budget of a rate target and the year-end forecast.

A target such as 合格率 ≥ 98.5 % for the year is an error budget, as in site reliability engineering (Google SRE
Workbook, "Alerting on SLOs"): of the year's planned batches, (1 − target) may fail. How fast a window spends it is
its burn rate (its failure rate ÷ the budget's rate); the pass rate the rest of the year needs follows from what
has been counted so far.

The year-end forecast treats the remaining planned batches as draws at the recent failure rate, with that rate's
uncertainty: a Beta posterior from the last 90 days (Jeffreys prior), so the failures still to come are
Beta-binomial. The rate will not stay exactly where the last 90 days put it (season, drift), so the evidence is
capped at :data:`MAX_EVIDENCE` batches: a wider posterior, which the backtest (``python -m bench.early_warning``)
shows keeps the 80 % claims honest. "Lost" is a year no outcome of the remaining batches can save; "met" is one no
outcome can spoil.

Everything here is in terms of "good" results (passes for a ``≥`` target on a pass rate); ``indicators.pace``
translates other measures and ops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

JEFFREYS = (0.5, 0.5)  # the Beta prior of the failure rate: uninformative, well-behaved at 0 failures
# At most this many recent batches inform the failure rate of the rest of the year: the rate moves with the season
# and drifts, so 90 days of a large city (~9,000 batches) would claim far more certainty than the future holds.
MAX_EVIDENCE = 2000
LEVEL = 0.8  # the forecast's interval: the central 80 % of year-end outcomes


class Outcome(StrEnum):
    OPEN = "open"  # still depends on the remaining batches
    LOST = "lost"  # even no further failure cannot reach the target
    MET = "met"  # even every remaining batch failing cannot miss it


def failure_budget(target: float, planned: float) -> float:
    """Failures the year may have: (1 − target) × planned batches (target in percent)."""
    return (1 - target / 100) * planned


def burn_rate(failed: int, tested: int, target: float) -> float | None:
    """How fast a window spends the budget: its failure rate ÷ (1 − target). 1 spends exactly the year's budget;
    None for an empty window or a target of 100 % (no budget to spend)."""
    allowed = 1 - target / 100
    if tested <= 0 or allowed <= 0:
        return None
    return failed / tested / allowed


def needed_rate(target: float, tested: int, good: int, remaining: float) -> float | None:
    """The pass rate (percent) the remaining batches need: (target × (n_so_far + n_rest) − good_so_far) ÷ n_rest.
    Over 100 means the year is lost, below 0 that it is met; None when nothing remains."""
    if remaining <= 0:
        return None
    return (target / 100 * (tested + remaining) - good) / remaining * 100


def max_failures(target: float, tested: int, good: int, remaining: int, *, strict: bool = False) -> int:
    """The most failures the remaining batches may have with the year still meeting the target (``strict``: a ``>``
    target). Negative: lost whatever happens."""
    slack = good + remaining - target / 100 * (tested + remaining)
    # A rate exactly on target meets a ≥ target: the tolerance absorbs binary fractions of percentages.
    return math.floor(slack + 1e-9) if not strict else math.ceil(slack - 1e-9) - 1


def beta_binomial_pmf(n: int, alpha: float, beta: float) -> np.ndarray:
    """P(K = k), k = 0..n, for K ~ BetaBinomial(n, alpha, beta), from the ratio of successive terms (stable and
    vectorised; no special functions needed)."""
    k = np.arange(n, dtype=np.float64)
    log_ratio = np.log(n - k) - np.log(k + 1) + np.log(k + alpha) - np.log(n - k - 1 + beta)
    log_p0 = math.lgamma(n + beta) + math.lgamma(alpha + beta) - math.lgamma(n + alpha + beta) - math.lgamma(beta)
    logs = np.concatenate(([log_p0], log_p0 + np.cumsum(log_ratio)))
    pmf = np.exp(logs - logs.max())
    return np.asarray(pmf / pmf.sum())


MIN_SEASON_BATCHES = 500  # last year's batches each side of the season factor needs; below, no seasonal correction
SEASON_LIMITS = (0.25, 4.0)


@dataclass(frozen=True, slots=True)
class Season:
    """How much more the days still to come failed last year than the same recent days did (``factor``), and the
    relative variance of that ratio of two counts (delta method: 1/failures of each)."""

    factor: float = 1.0
    variance: float = 0.0


def season_factor(last_year_recent: tuple[int, int], last_year_rest: tuple[int, int]) -> Season:
    """The season from last year's (failed, tested) over the recent days and over the rest of the year, a year
    earlier: summer spoilage makes a spring forecast too kind without it. None (factor 1) where last year holds too
    few batches or no failures to compare."""
    (f_recent, n_recent), (f_rest, n_rest) = last_year_recent, last_year_rest
    if min(n_recent, n_rest) < MIN_SEASON_BATCHES or f_recent == 0:
        return Season()
    factor = min(max((f_rest / n_rest) / (f_recent / n_recent), SEASON_LIMITS[0]), SEASON_LIMITS[1])
    return Season(factor, 1 / (f_recent + 0.5) + 1 / (f_rest + 0.5))


@dataclass(frozen=True, slots=True)
class Forecast:
    tested: int  # counted so far this year
    good: int
    remaining: int  # planned batches still to come
    projected: float  # the median year-end rate, percent
    low: float  # the central LEVEL interval of the year-end rate, percent
    high: float
    probability: float  # of meeting the target at year end, 0-1
    needed: float | None  # pass rate the rest of the year needs, percent
    outcome: Outcome


def year_end_forecast(
    target: float,
    tested: int,
    good: int,
    remaining: int,
    recent_tested: int,
    recent_failed: int,
    *,
    strict: bool = False,
    level: float = LEVEL,
    max_evidence: int = MAX_EVIDENCE,
    season: Season | None = None,
) -> Forecast:
    """The year-end rate if the ``remaining`` batches fail like the recent ``recent_failed`` of ``recent_tested``
    did, times the ``season`` (:func:`season_factor`), with the rate's uncertainty (Beta-binomial). With no recent
    batches, the prior alone."""
    remaining = max(0, remaining)
    total = tested + remaining
    needed = needed_rate(target, tested, good, remaining)
    limit = max_failures(target, tested, good, remaining, strict=strict)
    if total == 0:
        return Forecast(0, 0, 0, math.nan, math.nan, math.nan, math.nan, None, Outcome.OPEN)
    season = season or Season()
    rate_ahead = min(1.0, recent_failed / recent_tested * season.factor) if recent_tested > 0 else 0.0
    # The rate ahead is a product of counts: its relative variance is theirs added up (delta method); the Beta
    # gets the evidence of that variance, never more than the recent batches or MAX_EVIDENCE.
    informative = 1 / (1 / (recent_failed + 0.5) + season.variance)
    evidence = min(recent_tested, max_evidence, informative / max(rate_ahead, 1e-9))
    alpha = JEFFREYS[0] + rate_ahead * evidence
    beta = JEFFREYS[1] + (1 - rate_ahead) * evidence
    if remaining == 0:
        final = good / total * 100
        probability = 1.0 if limit >= 0 else 0.0
        return Forecast(
            tested, good, 0, final, final, final, probability, None, Outcome.MET if probability else Outcome.LOST
        )
    pmf = beta_binomial_pmf(remaining, alpha, beta)
    cdf = np.cumsum(pmf)
    probability = 1.0 if limit >= remaining else 0.0 if limit < 0 else float(min(1.0, cdf[limit]))
    outcome = Outcome.LOST if limit < 0 else Outcome.MET if limit >= remaining else Outcome.OPEN
    tail = (1 - level) / 2
    most = int(np.searchsorted(cdf, 1 - tail))  # failures: the interval's low end of the rate
    least = int(np.searchsorted(cdf, tail))
    median = int(np.searchsorted(cdf, 0.5))  # the point forecast: inside its interval by construction

    def rate(failures: float) -> float:
        return (good + remaining - failures) / total * 100

    return Forecast(tested, good, remaining, rate(median), rate(most), rate(least), probability, needed, outcome)


class VolumeSource(StrEnum):
    TASK = "task"  # the plan's sampling task (抽检任务量)
    LAST_YEAR = "last_year"  # the scope's batches last year
    PACE = "pace"  # this year's batches so far, extrapolated to the whole year (none planned, or above last year)


VOLUME_TEXT = {
    VolumeSource.TASK: "按抽检任务量",
    VolumeSource.LAST_YEAR: "按上年抽检量",
    VolumeSource.PACE: "无抽检任务量,按本年进度推算",
}


@dataclass(frozen=True, slots=True)
class Planned:
    batches: int  # the whole plan year's, for the scope
    source: VolumeSource

    @property
    def text(self) -> str:
        return f"{VOLUME_TEXT[self.source]} {self.batches} 批次"


def planned_batches(
    *, task_per_year: int | None, share: float | None, last_year: int, so_far: int, elapsed: float
) -> Planned:
    """The year's planned batches for a scope: the plan's task (``share`` of it for a region: its share of the
    jurisdiction's batches), else last year's volume, else (none last year, or this year running ahead of it) this
    year's pace over the ``elapsed`` share of the year. Never fewer than already counted: a year that has already
    sampled last year's volume is not over."""
    if task_per_year is not None and share is not None:
        return Planned(max(so_far, round(task_per_year * share)), VolumeSource.TASK)
    pace = max(so_far, round(so_far / elapsed)) if elapsed > 0 else so_far
    if last_year >= pace and last_year > 0:
        return Planned(last_year, VolumeSource.LAST_YEAR)
    return Planned(pace, VolumeSource.PACE)
