"""The simulated stream: seeded, so the same options give the same events, byte for byte."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from producers.simulator.profile import (
    LABS,
    MANUFACTURER_KINDS,
    PROFILES,
    TRADE_NAMES,
    UNIT_KINDS,
    FailureMode,
    StreamProfile,
)
from producers.simulator.scenario import Incident, Scenario
from qsmon import clock
from qsmon.regions import children
from qsmon.schema import FailedItem, InspectionResult
from qsmon.settings import get_settings
from qsmon.vocab import Grade, RetestStatus, SamplingLevel, SamplingType, Verdict

VOID_SHARE = 0.2  # of the corrections to a failure: 异议成立 (void), the rest a 复检 that passes


@dataclass(frozen=True)
class SimulatorOptions:
    seed: int = 1
    region: str = "421000"  # a city (GB/T 2260); results are spread over its counties
    first_day: date = date(2026, 1, 1)
    last_day: date = date(2026, 1, 31)
    duplicate_rate: float = 0.0  # share of events that are exact redeliveries of an earlier event
    correction_rate: float = 0.0  # share of events that are a higher revision (复检/异议) of an earlier sample
    scenario: Scenario = field(default_factory=Scenario)
    source: str = "simulator"
    timezone: str = field(default_factory=lambda: get_settings().timezone)  # office hours and days are local


MADE_LOCALLY = 0.6  # made in the county where sampled
MADE_IN_CITY = 0.25  # in another county of the same city
MADE_ELSEWHERE = ("420102", "420502", "440305", "330106", "320507", "370211")  # 武汉、宜昌、深圳、杭州、苏州、青岛
# 国抽/省抽/市抽/县抽 of market supervision's sampling; monitoring and acceptance carry no level.
LEVELLED_TYPES = frozenset(
    {SamplingType.EVALUATIVE, SamplingType.SUPERVISORY, SamplingType.RISK_MONITORING, SamplingType.SPECIAL_MONITORING}
)
LEVEL_SHARES = {
    SamplingLevel.NATIONAL: 0.1,
    SamplingLevel.PROVINCIAL: 0.3,
    SamplingLevel.CITY: 0.4,
    SamplingLevel.COUNTY: 0.2,
}


def seasonal_failure(profile: StreamProfile, day: date) -> float:
    """A stream's failure probability on ``day`` (bench.early_warning simulates plan-years with it too)."""
    # Peaks in mid-July: cos of the day-of-year distance from day 196.
    summer = (1 + math.cos(2 * math.pi * (day.timetuple().tm_yday - 196) / 365)) / 2
    return (1 - profile.pass_rate) + profile.summer_drop * summer**3


class Simulator:
    """Results spread over ``first_day..last_day`` in sampling order; ``events(n)`` yields n of them."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self._rng = random.Random(options.seed)
        counties = [r.code for r in children(options.region)]
        self._counties = counties or [options.region]
        # County sizes differ: the first counties (urban districts) sample more.
        self._county_weights = [1.0 / math.sqrt(i + 1) for i in range(len(self._counties))]
        self._profiles = PROFILES
        self._profile_weights = [p.weight for p in PROFILES]
        # Where products were made and who organised the sampling: drawn from a stream of their own, so the events
        # of a seed stay what they were before these fields existed.
        self._places_rng = random.Random(options.seed * 7919 + 1)
        self._recent: list[InspectionResult] = []  # a window of earlier events to redeliver or correct
        self._counter = 0
        self._zone = ZoneInfo(options.timezone)
        self._last_moment = datetime.combine(options.last_day, time(23, 59), self._zone)

    # --- one result ------------------------------------------------------------------------
    def _sampled_at(self, index: int, total: int) -> datetime:
        span_days = (self.options.last_day - self.options.first_day).days + 1
        position = (index + self._rng.random()) / max(total, 1) * span_days
        day = self.options.first_day + timedelta(days=int(position))
        seconds = 8 * 3600 + int(self._rng.random() * 9 * 3600)  # sampling happens in office hours
        return datetime.combine(day, time(), self._zone) + timedelta(seconds=seconds)

    def _seasonal_failure(self, profile: StreamProfile, day: date) -> float:
        return seasonal_failure(profile, day)

    def _incident(self, day: date, region: str, profile: StreamProfile) -> Incident | None:
        for incident in self.options.scenario.incidents:
            if incident.matches(day, self.options.last_day, region, profile.category, profile.subcategory):
                return incident
        return None

    def _failed_item(self, mode: FailureMode) -> FailedItem:
        low, high = mode.measured
        value = self._rng.uniform(low, high)
        measured = f"{value:.3g}" if value < 1000 else f"{value:.2e}"
        return FailedItem(item=mode.item, measured=measured, limit=mode.limit, unit=mode.unit)

    def _incident_item(self, incident: Incident) -> FailedItem:
        spec = incident.failed_item
        if spec is None:
            return FailedItem(item=f"{incident.name}相关项目")
        digits = "".join(c for c in spec.limit if c.isdigit() or c == ".")
        base = float(digits) if digits else 1.0
        value = base * self._rng.uniform(*spec.measured)
        return FailedItem(item=spec.item, measured=f"{value:.3g}", limit=spec.limit, unit=spec.unit)

    def _grade(self, profile: StreamProfile, verdict: Verdict) -> Grade | None:
        if not profile.grades:
            return None
        if verdict is Verdict.FAIL:
            return Grade.UNQUALIFIED
        grades = [grade for grade, _ in profile.grades]
        weights = [weight for _, weight in profile.grades]
        return self._rng.choices(grades, weights)[0]

    def _made_in(self, sampled_in: str) -> str:
        """Most products are made where they are sold; some in the city's other counties, some far away."""
        draw = self._places_rng.random()
        if draw < MADE_LOCALLY:
            return sampled_in
        if draw < MADE_LOCALLY + MADE_IN_CITY:
            return self._places_rng.choice(self._counties)
        return self._places_rng.choice(MADE_ELSEWHERE)

    def _level(self, sampling_type: SamplingType) -> SamplingLevel | None:
        if sampling_type not in LEVELLED_TYPES:
            return None
        return self._places_rng.choices(list(LEVEL_SHARES), list(LEVEL_SHARES.values()))[0]

    def _new_result(self, index: int, total: int) -> InspectionResult:
        rng = self._rng
        self._counter += 1
        profile = rng.choices(self._profiles, self._profile_weights)[0]
        region = rng.choices(self._counties, self._county_weights)[0]
        sampled_at = self._sampled_at(index, total)
        day = sampled_at.astimezone(self._zone).date()
        incident = self._incident(day, region, profile)
        fail_probability = incident.fail_rate / 100 if incident else self._seasonal_failure(profile, day)
        verdict = Verdict.FAIL if rng.random() < fail_probability else Verdict.PASS
        failed: tuple[FailedItem, ...] = ()
        if verdict is Verdict.FAIL:
            if incident:
                failed = (self._incident_item(incident),)
            elif profile.failures:
                failed = (self._failed_item(rng.choice(profile.failures)),)
        score = None
        if profile.score_mean is not None:
            score = round(min(100.0, max(0.0, rng.gauss(profile.score_mean, 8))), 1)
        trade = rng.choice(TRADE_NAMES)
        reported_at = self._reported(sampled_at + timedelta(days=rng.randint(3, 20), hours=rng.randint(0, 8)))
        return InspectionResult(
            sample_id=f"SIM{self.options.seed:04d}-{self._counter:09d}",
            revision=1,
            sampled_at=sampled_at,
            reported_at=reported_at,
            category=profile.category,
            subcategory=profile.subcategory,
            sampling_type=profile.sampling_type,
            stage=rng.choice(profile.stages) if profile.stages else None,
            region_code=region,
            product=rng.choice(profile.products),
            brand=trade if rng.random() < 0.7 else None,
            batch=f"{day:%Y%m%d}{rng.randint(1, 99):02d}",
            manufacturer=f"{trade}{rng.choice(MANUFACTURER_KINDS)}" if profile.stages else None,
            manufacturer_region_code=self._made_in(region) if profile.stages else None,
            sampling_level=self._level(profile.sampling_type),
            sampled_unit=f"{trade}{rng.choice(UNIT_KINDS)}{rng.randint(1, 40)}号店",
            lab=rng.choice(LABS),
            verdict=verdict,
            grade=self._grade(profile, verdict),
            score=score,
            failed_items=failed,
            source=self.options.source,
        )

    def _reported(self, at: datetime) -> datetime:
        """Results of the last days are reported by the end of the last day, not after it: a report from the future
        is refused. Depends on the options only, so the same seed still gives the same events."""
        return min(at, self._last_moment)

    def _correction_of(self, earlier: InspectionResult) -> InspectionResult:
        """A higher revision: a 复检 that overturns a failure, an 异议 upheld (one in five: the sample is void), or a
        data-entry fix that moves the date."""
        if earlier.verdict is Verdict.FAIL:
            if self._rng.random() < VOID_SHARE:
                return earlier.model_copy(
                    update={
                        "revision": earlier.revision + 1,
                        "verdict": Verdict.VOID,
                        "failed_items": (),
                        "grade": None,
                        "reported_at": self._reported(earlier.reported_at + timedelta(days=15)),
                    }
                )
            grade = Grade.QUALIFIED if earlier.grade is not None else None
            return earlier.model_copy(
                update={
                    "revision": earlier.revision + 1,
                    "verdict": Verdict.PASS,
                    "failed_items": (),
                    "grade": grade,
                    "reported_at": self._reported(earlier.reported_at + timedelta(days=15)),
                    "retest_status": RetestStatus.OVERTURNED,
                }
            )
        shift = timedelta(days=self._rng.randint(1, 3))
        return earlier.model_copy(
            update={
                "revision": earlier.revision + 1,
                "sampled_at": earlier.sampled_at - shift,
                "reported_at": self._reported(earlier.reported_at + timedelta(days=2)),
            }
        )

    # --- the stream -------------------------------------------------------------------------
    def events(self, count: int) -> Iterator[InspectionResult]:
        """``count`` events: new results, with redeliveries and corrections mixed in at the set rates."""
        opts = self.options
        for index in range(count):
            roll = self._rng.random()
            if self._recent and roll < opts.duplicate_rate:
                yield self._rng.choice(self._recent)
                continue
            if self._recent and roll < opts.duplicate_rate + opts.correction_rate:
                position = self._rng.randrange(len(self._recent))
                corrected = self._correction_of(self._recent[position])
                self._recent[position] = corrected
                yield corrected
                continue
            result = self._new_result(index, count)
            if len(self._recent) < 5000:
                self._recent.append(result)
            else:
                self._recent[self._rng.randrange(5000)] = result
            yield result

    def live_event(self, now: datetime | None = None) -> InspectionResult:
        """One result sampled within the last few days and reported now (the `--rate` mode)."""
        now = now or clock.now()
        result = self._new_result(0, 1)
        sampled_at = now - timedelta(days=self._rng.uniform(0.2, 5))
        return result.model_copy(update={"sampled_at": sampled_at, "reported_at": now})
