"""The plan model: a plan has indicators; an indicator measures a filtered stream against a target."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from qsmon.regions import NATION
from qsmon.vocab import Category, Grade, SamplingLevel, SamplingType, Stage

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Measure(StrEnum):
    PASS_RATE = "pass_rate"  # noqa: S105 - share of results with verdict pass, in percent
    FAIL_RATE = "fail_rate"  # share with verdict fail, e.g. 劣Ⅴ类 below 10 %
    PROBLEM_RATE = "problem_rate"  # 问题发现率 of risk monitoring: problem samples (fail) over samples
    GRADE_RATE = "grade_rate"  # share reaching one of `grades`, e.g. 优良率
    MEAN_SCORE = "mean_score"  # mean of score observations (satisfaction surveys), 0-100

    @property
    def is_rate(self) -> bool:
        return self is not Measure.MEAN_SCORE


class Op(StrEnum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"
    EQ = "=="
    INCREASING = "increasing"  # 不断提高 / 稳步提升: not below the previous period of equal length


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


_ROLLING = re.compile(r"^rolling_(\d{1,3})d$")


WindowSpec = Annotated[
    str,
    StringConstraints(
        pattern=r"^(rolling_\d{1,3}d|month_to_date|quarter_to_date|"
        r"year_to_date|plan_period)$"
    ),
]


def rolling_days(window: str) -> int | None:
    match = _ROLLING.match(window)
    return int(match.group(1)) if match else None


class Compare(StrEnum):
    """What an `increasing` target compares with."""

    PREVIOUS_PERIOD = "previous_period"  # the same span of the period before (上期): last month's first 16 days
    YEAR_ON_YEAR = "year_on_year"  # the same dates a year earlier (同期), for seasonal series


class Target(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Op
    value: float | None = Field(default=None, description="percent for rates, points for mean_score")
    compare: Compare = Field(default=Compare.PREVIOUS_PERIOD, description="for `increasing`: against what")

    @model_validator(mode="after")
    def _value_matches_op(self) -> Self:
        if self.op is Op.INCREASING:
            if self.value is not None:
                raise ValueError("an `increasing` target takes no value")
        elif self.compare is not Compare.PREVIOUS_PERIOD:
            raise ValueError("`compare` applies to `increasing` targets only")
        elif self.value is None:
            raise ValueError(f"a `{self.op}` target needs a value")
        elif not 0 <= self.value <= 100:
            raise ValueError("target value must lie within 0-100 (percent or score points)")
        return self


class CountingDate(StrEnum):
    """Which day a result counts on (统计口径): plans count by sampling date unless they say otherwise."""

    SAMPLED = "sampled"  # 抽样日期
    REPORTED = "reported"  # 报告日期: when the lab reported the verdict
    ANNOUNCED = "announced"  # 公告日期: results not yet announced do not count


class Place(StrEnum):
    """Which place a result counts for: where it was sampled, or where its nominal manufacturer is."""

    SAMPLING_SITE = "sampling_site"  # 抽样地: the bureau that took the sample
    MANUFACTURER = "manufacturer"  # 生产地: e.g. 制造业产品质量合格率 counts products made in the city


class Filter(BaseModel):
    """Which results count. Empty lists mean: any value of that dimension."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    categories: tuple[Category, ...] = Field(min_length=1)
    sampling_types: tuple[SamplingType, ...] = ()
    subcategories: tuple[Text, ...] = ()
    stages: tuple[Stage, ...] = ()
    sampling_levels: tuple[SamplingLevel, ...] = Field(
        default=(), description="国抽/省抽/市抽/县抽; results without a level count only where this is empty"
    )


class Indicator(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Slug
    name: Text = Field(description="the Chinese name exactly as the document words it")
    source: Text = Field(description="the sentence of the document that sets the target")
    measure: Measure
    grades: tuple[Grade, ...] = Field(default=(), description="for grade_rate: the grades that count as reaching")
    filter: Filter
    target: Target
    windows: tuple[WindowSpec, ...] = Field(min_length=1)
    min_samples: int = Field(default=30, ge=1)
    severity: Severity = Severity.WARNING
    breakdown: tuple[Annotated[str, StringConstraints(pattern=r"^subcategory$")], ...] = Field(
        default=(), description="extra scopes besides the jurisdiction and its regions"
    )
    place: Place = Field(default=Place.SAMPLING_SITE, description="count by where sampled, or where made")

    @model_validator(mode="after")
    def _grades_only_for_grade_rate(self) -> Self:
        if self.measure is Measure.GRADE_RATE and not self.grades:
            raise ValueError("a grade_rate indicator must list the grades that count")
        if self.measure is not Measure.GRADE_RATE and self.grades:
            raise ValueError("grades apply only to grade_rate indicators")
        return self

    @field_validator("windows")
    @classmethod
    def _windows_unique(cls, windows: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(windows)) != len(windows):
            raise ValueError("a window is listed twice")
        return windows


class NotMonitored(BaseModel):
    """A quantitative target no result stream measures (awards, counts, investment); kept, with the reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Text
    source: Text
    target: Text
    reason: Text


class SamplingTask(BaseModel):
    """A sampling volume a plan sets (抽检任务量): batches a year, or batches per thousand residents a year (the
    population comes from QSMON_POPULATION_FILE). Reports compare what was done with what was due by then."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Slug
    name: Text
    source: Text = Field(description="the sentence of the document that sets the volume")
    filter: Filter
    per_year: int | None = Field(default=None, ge=1, description="batches a year for the jurisdiction")
    per_thousand_residents: float | None = Field(
        default=None, gt=0, le=100, description="batches a year per thousand residents"
    )

    @model_validator(mode="after")
    def _one_volume(self) -> Self:
        if (self.per_year is None) == (self.per_thousand_residents is None):
            raise ValueError("a sampling task sets exactly one of per_year and per_thousand_residents")
        return self


class BurnRule(BaseModel):
    """A multi-window burn-rate rule (Google SRE Workbook, "Alerting on SLOs"): both trailing windows spend the
    year's failure budget faster than ``factor`` times its even pace."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    long_days: int = Field(ge=2, le=365)
    short_days: int = Field(ge=1, le=365)
    factor: float = Field(gt=0, le=100, description="× the budget's even pace (1: the year's budget used up exactly)")
    severity: Severity

    @model_validator(mode="after")
    def _short_inside_long(self) -> Self:
        if self.short_days >= self.long_days:
            raise ValueError("short_days must be shorter than long_days")
        return self


DEFAULT_BURN_RULES = (
    BurnRule(long_days=30, short_days=7, factor=3.0, severity=Severity.WARNING),
    BurnRule(long_days=90, short_days=30, factor=1.0, severity=Severity.INFO),
)


class Pace(BaseModel):
    """Early warning before a year's target is missed (indicators.forecast, indicators.drift): the thresholds, with
    the defaults docs/architecture.md justifies. Applies to rate indicators with a fixed target; the forecast is
    shown wherever figures are, the pace alerts (达标预测) are raised where ``alerts`` is on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alerts: bool = Field(default=False, description="raise pace alerts (达标预测) beside the level alerts")
    burn_rules: tuple[BurnRule, ...] = Field(
        default=DEFAULT_BURN_RULES, description="default: 30 & 7 days > 3× (warning), 90 & 30 days > 1× (info)"
    )
    drift_shift: float = Field(
        default=0.5, gt=0, le=20, description="percentage points of failure-rate rise the drift signal is tuned for"
    )
    drift_false_alarms_per_year: float = Field(
        default=0.2, gt=0, le=12, description="false alarms a clean year may give, per scope"
    )
    drift_severity: Severity = Severity.INFO
    probability_warning: float = Field(
        default=0.2, ge=0, le=1, description="a forecast meeting the target with less than this: warning"
    )
    evidence_days: int = Field(
        default=90, ge=7, le=365, description="recent days whose failure rate the forecast projects"
    )


class Jurisdiction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Text
    region_code: Annotated[str, StringConstraints(pattern=r"^[1-8][0-9]{5}$")] | None = None

    @property
    def code(self) -> str:
        """The region the plan covers: its code, or the nation (qsmon.regions.NATION) for a plan without one."""
        return self.region_code or NATION


class Period(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError("period ends before it starts")
        return self


class PlanStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_FORCE = "in_force"
    EXTENDED = "extended"  # past its period, kept in force (in_force_until) until the next plan is issued
    EXPIRED = "expired"


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Slug
    title: Text
    issuer: Text
    document_number: Text | None = None
    issued_on: date | None = None
    jurisdiction: Jurisdiction
    period: Period
    in_force_until: date | None = Field(default=None, description="kept in force after its period until this day")
    counting_date: CountingDate = Field(default=CountingDate.SAMPLED, description="the day a result counts on")
    no_data_days: int | None = Field(
        default=None, ge=1, le=90, description="days without results (where some were due) that raise no_data"
    )
    notes: Text | None = None
    indicators: tuple[Indicator, ...] = Field(min_length=1)
    not_monitored: tuple[NotMonitored, ...] = ()
    sampling_tasks: tuple[SamplingTask, ...] = ()
    pace: Pace = Field(default_factory=Pace, description="early warning thresholds (budget burn, drift, forecast)")

    @field_validator("indicators")
    @classmethod
    def _ids_unique(cls, indicators: tuple[Indicator, ...]) -> tuple[Indicator, ...]:
        ids = [i.id for i in indicators]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"indicator ids must be unique: {', '.join(duplicates)}")
        return indicators

    @model_validator(mode="after")
    def _extension_after_period(self) -> Self:
        if self.in_force_until is not None and self.in_force_until < self.period.end:
            raise ValueError("in_force_until lies before the period ends: shorten the period instead")
        return self

    def status(self, today: date) -> PlanStatus:
        """Whether the plan is judged as current on ``today``. SQL twin: plan_status() (migration 011)."""
        if today < self.period.start:
            return PlanStatus.NOT_STARTED
        if today <= self.period.end:
            return PlanStatus.IN_FORCE
        if self.in_force_until is not None and today <= self.in_force_until:
            return PlanStatus.EXTENDED
        return PlanStatus.EXPIRED

    def in_force(self, today: date) -> bool:
        return self.status(today) in (PlanStatus.IN_FORCE, PlanStatus.EXTENDED)

    def indicator(self, indicator_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise KeyError(indicator_id)

    def summary(self) -> dict[str, Any]:
        """What ``qsmon plans show --json`` prints."""
        return {
            "id": self.id,
            "title": self.title,
            "issuer": self.issuer,
            "document_number": self.document_number,
            "issued_on": self.issued_on.isoformat() if self.issued_on else None,
            "jurisdiction": self.jurisdiction.model_dump(),
            "period": {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()},
            "in_force_until": self.in_force_until.isoformat() if self.in_force_until else None,
            "counting_date": self.counting_date.value,
            "indicators": [
                {
                    "id": i.id,
                    "name": i.name,
                    "measure": i.measure.value,
                    "grades": [g.value for g in i.grades],
                    "filter": i.filter.model_dump(mode="json"),
                    "target": {"op": i.target.op.value, "value": i.target.value, "compare": i.target.compare.value},
                    "windows": list(i.windows),
                    "min_samples": i.min_samples,
                    "severity": i.severity.value,
                    "place": i.place.value,
                }
                for i in self.indicators
            ],
            "not_monitored": [n.model_dump() for n in self.not_monitored],
        }
