"""Statistics of an indicator: intervals, and the state a value is in against its target.

A raw ratio alarms on chance: 97 of 100 passing is below 98 % but entirely consistent with a true 98 %. So
each evaluation carries a 95 % interval, and only a shortfall the interval excludes is `critical`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from qsmon.plans.model import Op

Z_95 = 1.959963984540054  # two-sided 95 %
Z_95_ONE_SIDED = 1.6448536269514722


class State(StrEnum):
    OK = "ok"
    WARNING = "warning"  # below target, but the interval still reaches it: possibly chance
    CRITICAL = "critical"  # the whole interval misses the target: the shortfall is significant
    INSUFFICIENT_DATA = "insufficient_data"

    @property
    def firing(self) -> bool:
        return self in (State.WARNING, State.CRITICAL)


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


def wilson(successes: int, n: int, z: float = Z_95) -> Interval:
    """Wilson score interval of a proportion, in percent. Well-behaved at 0 %, 100 % and small n."""
    if n <= 0:
        return Interval(0.0, 100.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(max(0.0, centre - half) * 100, min(1.0, centre + half) * 100)


def mean_interval(total: float, sum_squares: float, n: int, z: float = Z_95) -> Interval:
    """Normal interval of a mean from its sufficient statistics (n, Σx, Σx²); scores lie in 0–100."""
    if n <= 0:
        return Interval(0.0, 100.0)
    mean = total / n
    if n == 1:
        return Interval(max(0.0, mean - 50), min(100.0, mean + 50))
    variance = max(0.0, (sum_squares - n * mean * mean) / (n - 1))
    half = z * math.sqrt(variance / n)
    return Interval(max(0.0, mean - half), min(100.0, mean + half))


def state_against_target(value: float, interval: Interval, op: Op, target: float) -> State:
    """Where a value stands against a fixed target (every op but `increasing`)."""
    if op is Op.EQ:
        # "= 100 %" (or 0 %): a single miss is a fact, not an estimate; any deviation is critical.
        return State.OK if math.isclose(value, target, abs_tol=1e-9) else State.CRITICAL
    if op in (Op.GE, Op.GT):
        met = value >= target if op is Op.GE else value > target
        if met:
            return State.OK
        reaches = interval.high >= target if op is Op.GE else interval.high > target
        return State.WARNING if reaches else State.CRITICAL
    met = value <= target if op is Op.LE else value < target
    if met:
        return State.OK
    reaches = interval.low <= target if op is Op.LE else interval.low < target
    return State.WARNING if reaches else State.CRITICAL


def proportion_drop_z(x1: int, n1: int, x0: int, n0: int) -> float:
    """z of the current proportion x1/n1 against the previous x0/n0 (negative: lower now)."""
    if n1 == 0 or n0 == 0:
        return 0.0
    pooled = (x1 + x0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    if se == 0:
        return 0.0
    return (x1 / n1 - x0 / n0) / se


def mean_drop_z(mean1: float, var1: float, n1: int, mean0: float, var0: float, n0: int) -> float:
    """Welch z of the current mean against the previous (negative: lower now)."""
    if n1 < 2 or n0 < 2:
        return 0.0
    se = math.sqrt(var1 / n1 + var0 / n0)
    return 0.0 if se == 0 else (mean1 - mean0) / se


def state_of_trend(current: float, previous: float, z: float) -> State:
    """`increasing` (不断提高): not below the previous period; a drop is critical once it is significant."""
    if current >= previous:
        return State.OK
    return State.CRITICAL if z < -Z_95_ONE_SIDED else State.WARNING
