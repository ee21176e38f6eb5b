"""Pace alerts: the year's target at risk before any window's rate is below it (the `pace` window, 达标预测).

One alert per indicator and scope, beside the level alerts and grouped with them:
* `warning` when a fast burn rule fires (default: 30 and 7 days both above 3× the budget's even pace) or the
  forecast gives the year's target less than the plan's ``probability_warning`` (a lost year: 0);
* `info` when a slow burn rule fires (90 and 30 days above 1×) or the drift chart signals;
* it clears only when every signal is clear and the drift chart is back below half its threshold; in between the
  alert stays as it is (``insufficient_data`` moves nothing in alerts.lifecycle).
The indicator's own severity caps all of it, as for the level alerts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from indicators.evaluate import Evaluation
from indicators.forecast import Outcome
from indicators.pace import PACE_WINDOW, PaceView, forecast_row
from indicators.stats import Interval, State
from qsmon.plans.model import Indicator, Op, Plan, Severity

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def signals(plan: Plan, view: PaceView) -> tuple[Severity | None, bool]:
    """The most severe pace signal firing (None: none), and whether every signal is clear (the alert may end)."""
    firing: list[Severity] = [b.rule.severity for b in view.burns if b.firing]
    f = view.forecast
    if f.outcome is not Outcome.MET and f.probability < plan.pace.probability_warning:
        firing.append(Severity.WARNING)
    if view.drift is not None and view.drift.signalled:
        firing.append(plan.pace.drift_severity)
    clear = not firing and (view.drift is None or view.drift.clear)
    return (max(firing, key=_RANK.__getitem__) if firing else None), clear


def _as_measured(indicator: Indicator, good_share: float) -> float:
    """A share of good results back in the indicator's measure (a failure share for ≤ / < targets)."""
    return good_share if indicator.target.op in (Op.GE, Op.GT) else 100 - good_share


def pace_evaluation(plan: Plan, indicator: Indicator, view: PaceView) -> Evaluation:
    """The pace of one scope as an evaluation of the `pace` window: value = projected year-end rate, interval =
    the forecast's 80 % interval, samples and failures = the year so far."""
    severity, clear = signals(plan, view)
    if view.tested < indicator.min_samples:
        state = State.INSUFFICIENT_DATA
    elif severity is not None:
        state = State.WARNING
    else:
        state = State.OK if clear else State.INSUFFICIENT_DATA
    ceiling = min(severity or Severity.INFO, indicator.severity, key=_RANK.__getitem__)
    f = view.forecast
    low, high = sorted((_as_measured(indicator, f.low), _as_measured(indicator, f.high)))
    return Evaluation(
        plan.id,
        indicator.id,
        view.scope,
        PACE_WINDOW,
        view.year,
        view.tested,
        view.failed,
        _as_measured(indicator, f.projected),
        Interval(low, high),
        indicator.target.op,
        indicator.target.value,
        None,
        state,
        ceiling.value,
    )


def details(view: PaceView) -> dict[str, Any]:
    """What a pace notification adds to the evaluation (alerts.messages renders it): probability, budget, burn
    rates, drift, the planned volume and where it comes from."""
    f = view.forecast
    return {
        "probability": f.probability,
        "outcome": f.outcome.value,
        "needed": f.needed,
        "remaining": f.remaining,
        "planned": view.planned.batches,
        "planned_text": view.planned.text,
        "budget": view.budget,
        "budget_left": view.budget_left,
        "good_target": view.target,
        "year_end": view.year_end.isoformat(),
        "burns": [
            {
                "long_days": b.rule.long_days,
                "short_days": b.rule.short_days,
                "factor": b.rule.factor,
                "long": b.long_rate,
                "short": b.short_rate,
                "firing": b.firing,
            }
            for b in view.burns
        ],
        "drift": None
        if view.drift is None
        else {
            "statistic": view.drift.statistic,
            "threshold": view.drift.threshold,
            "baseline": view.drift.baseline,
            "seasonal": view.drift.seasonal,
            "signalled": view.drift.signalled,
        },
    }


_UPSERT_FORECAST = """
INSERT INTO pace_forecasts (plan_id, indicator_id, region_code, subcategory, as_of, year_end, tested, failed, planned,
    planned_source, planned_text, budget_left, so_far, needed, projected, low, high, probability, outcome,
    evaluated_at)
VALUES (%(plan_id)s, %(indicator_id)s, %(region_code)s, %(subcategory)s, %(last_day)s, %(year_end)s, %(tested)s,
    %(failed)s, %(planned)s, %(planned_source)s, %(planned_text)s, %(budget_left)s, %(so_far)s, %(needed)s,
    %(projected)s, %(low)s, %(high)s, %(probability)s, %(outcome)s, %(evaluated_at)s)
ON CONFLICT (plan_id, indicator_id, region_code, subcategory) DO UPDATE SET
    as_of = excluded.as_of, year_end = excluded.year_end, tested = excluded.tested, failed = excluded.failed,
    planned = excluded.planned, planned_source = excluded.planned_source, planned_text = excluded.planned_text,
    budget_left = excluded.budget_left, so_far = excluded.so_far, needed = excluded.needed,
    projected = excluded.projected, low = excluded.low, high = excluded.high, probability = excluded.probability,
    outcome = excluded.outcome, evaluated_at = excluded.evaluated_at
"""


def store_forecasts(
    conn: psycopg.Connection, plan: Plan, indicator: Indicator, views: list[PaceView], now: datetime
) -> None:
    """The latest forecast of each scope, for the dashboards (migration 060); an upsert, so repeating it is
    harmless."""
    for view in views:
        row = forecast_row(indicator, view)
        conn.execute(_UPSERT_FORECAST, {**row, "plan_id": plan.id, "evaluated_at": now})
