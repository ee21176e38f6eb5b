"""Pace signals: a small sustained rise of the failure rate (drift), and budget burned too fast (burn rate).

Drift: an upper Bernoulli CUSUM (Reynolds & Stoumbos 1999, "A CUSUM chart for monitoring a proportion when
inspecting continuously"), the log-likelihood ratio of the batches under p1 = p0 + shift against the scope's own
in-control rate p0, accumulated and floored at 0. p0 is seasonal: the scope's failure rate over the 13 weeks around
the same dates a year earlier (summer spoilage is not drift); without that history, the target's budget rate. The
chart steps over 7-day blocks ending today, over the last :data:`BLOCKS` weeks. The threshold h is chosen for a
stated false-alarm rate with Siegmund's approximation of the in-control average run length (ARL0, in batches):
ARL0 = one year's batches ÷ false alarms a year.

Burn rate: the multi-window rule of the Google SRE Workbook ("Alerting on SLOs"): fire when a long and a short
window both burn the budget faster than a factor (30 and 7 days above 3×; 90 and 30 days above 1×), so a short
burst that is already over does not fire, and a long, slow burn does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indicators.forecast import burn_rate
from qsmon.plans.model import BurnRule

BLOCK_DAYS = 7
BLOCKS = 26  # half a year of weekly steps: a CUSUM forgets what lies further back (it restarts at 0 anyway)
BASELINE_BLOCKS = 13  # the in-control rate: a quarter around the same weeks a year earlier
RELEASE = 0.5  # a signal holds until the chart falls below this share of h (hysteresis)
# Standard errors of the estimated p0 (see baseline_rates): in the backtest 1.0 gave 0.25 false alarms a clean year
# against 0.2 designed (the baseline's own error and a year-to-year wobble add to the chart's), 1.5 gives under 0.2.
BASELINE_MARGIN = 1.5
MIN_BASELINE = 500  # batches a baseline needs; below, the target's budget rate stands in
_SIEGMUND = 1.166  # Siegmund's correction of the boundary for the overshoot (in units of the increment's sd)


def llr_weights(p0: float | np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """(weight of a failure, weight of a pass) of the chart for a rise from p0 to p0 + shift (proportions)."""
    p0 = np.clip(np.asarray(p0, dtype=np.float64), 1e-5, 0.5)
    p1 = np.minimum(p0 + shift, 0.999)
    return np.log(p1 / p0), np.log((1 - p1) / (1 - p0))


def cusum(failed: np.ndarray, tested: np.ndarray, p0: np.ndarray, shift: float) -> np.ndarray:
    """The chart's value after each step (last axis), for steps of ``tested`` batches with ``failed`` failures;
    vectorised over any leading axes (many scopes or simulated years at once)."""
    w_fail, w_pass = llr_weights(p0, shift)
    increments = failed * w_fail + (tested - failed) * w_pass
    path = np.empty_like(increments, dtype=np.float64)
    s = np.zeros(increments.shape[:-1])
    for t in range(increments.shape[-1]):
        s = np.maximum(0.0, s + increments[..., t])
        path[..., t] = s
    return path


def _arl(h: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Siegmund's approximation of a CUSUM's average run length, in steps of one increment (mean < 0)."""
    x = 2 * mean * (h + _SIEGMUND * sd) / sd**2
    return np.asarray((np.exp(-x) + x - 1) / (2 * mean**2 / sd**2))


def threshold(
    p0: float | np.ndarray, shift: float, batches_per_year: float | np.ndarray, false_alarms_per_year: float
) -> np.ndarray:
    """The h giving an in-control run length of ``batches_per_year / false_alarms_per_year`` batches (element-wise:
    the backtest tunes thousands of charts at once)."""
    w_fail, w_pass = llr_weights(p0, shift)
    p = np.clip(np.asarray(p0, dtype=np.float64), 1e-5, 0.5)
    mean = p * w_fail + (1 - p) * w_pass  # negative: in control the chart sinks towards 0
    sd = np.sqrt(p * (1 - p)) * (w_fail - w_pass)
    wanted = np.maximum(np.asarray(batches_per_year, dtype=np.float64), 1.0) / false_alarms_per_year
    low, high = np.zeros_like(mean), np.full_like(mean, 64.0)  # ARL grows like e^h: 64 is beyond any volume
    for _ in range(50):
        mid = (low + high) / 2
        short = _arl(mid, mean, sd) < wanted
        low, high = np.where(short, mid, low), np.where(short, high, mid)
    return np.asarray(high)


@dataclass(frozen=True, slots=True)
class Drift:
    statistic: float  # the chart's value today
    threshold: float
    baseline: float  # p0 over the last block, percent failing
    seasonal: bool  # p0 from last year's same weeks (else the budget's rate)

    @property
    def signalled(self) -> bool:
        return self.statistic >= self.threshold

    @property
    def clear(self) -> bool:
        """Back below RELEASE × h: a signal ends only then, so a chart wavering at h does not flap day to day."""
        return self.statistic < RELEASE * self.threshold


def _moving_sum(x: np.ndarray) -> np.ndarray:
    """Sums of BASELINE_BLOCKS consecutive blocks along the last axis."""
    c = np.cumsum(np.asarray(x, dtype=np.float64), axis=-1)
    c = np.concatenate([np.zeros((*c.shape[:-1], 1)), c], axis=-1)
    return np.asarray(c[..., BASELINE_BLOCKS:] - c[..., :-BASELINE_BLOCKS])


def baseline_rates(last_year_failed: np.ndarray, last_year_tested: np.ndarray, budget_rate: float) -> np.ndarray:
    """p0 for each of the chart's blocks from last year's weekly counts, which run from BASELINE_BLOCKS // 2
    blocks before the chart's first block (a year earlier) to as many after its last: the failure rate of the
    BASELINE_BLOCKS around each block; ``budget_rate`` where last year holds too few batches."""
    failed, tested = _moving_sum(last_year_failed), _moving_sum(last_year_tested)
    rates = failed / np.maximum(tested, 1)
    # An estimated p0 that happens to be low makes an in-control year look like drift (Jones, Champ & Rigdon 2004):
    # p0 is raised by BASELINE_MARGIN standard errors of its estimate.
    rates = rates + BASELINE_MARGIN * np.sqrt(rates * (1 - rates) / np.maximum(tested, 1))
    return np.asarray(np.where(tested >= MIN_BASELINE, rates, budget_rate), dtype=np.float64)


def drift(
    failed: np.ndarray,
    tested: np.ndarray,
    p0: np.ndarray,
    shift: float,
    false_alarms_per_year: float,
    *,
    seasonal: bool,
) -> Drift:
    """The chart over the blocks (oldest first) and its threshold, tuned for the blocks' own yearly volume."""
    f = np.asarray(failed, dtype=np.float64)
    n = np.asarray(tested, dtype=np.float64)
    path = cusum(f, n, p0, shift)
    per_year = float(n.sum()) * 365 / (BLOCK_DAYS * max(len(n), 1))
    weights = n if n.sum() > 0 else np.ones_like(n)
    mean_p0 = float(np.average(p0, weights=weights))
    h = float(threshold(mean_p0, shift, per_year, false_alarms_per_year))
    return Drift(float(path[-1]) if len(path) else 0.0, h, float(p0[-1]) * 100 if len(p0) else math.nan, seasonal)


@dataclass(frozen=True, slots=True)
class Burn:
    rule: BurnRule
    long_rate: float | None
    short_rate: float | None

    @property
    def firing(self) -> bool:
        return (
            self.long_rate is not None
            and self.short_rate is not None
            and self.long_rate > self.rule.factor
            and self.short_rate > self.rule.factor
        )


def burns(rules: Sequence[BurnRule], counts: dict[int, tuple[int, int]], target: float) -> list[Burn]:
    """Each rule against the (failed, tested) of the trailing windows by their days."""
    result = []
    for rule in rules:
        long_failed, long_tested = counts.get(rule.long_days, (0, 0))
        short_failed, short_tested = counts.get(rule.short_days, (0, 0))
        result.append(
            Burn(rule, burn_rate(long_failed, long_tested, target), burn_rate(short_failed, short_tested, target))
        )
    return result
