"""Backtest of the early warning: ``python -m bench.early_warning [--years N] [--seed S] [--write-docs]``.

Simulated plan-years of 食品安全评价性抽检合格率 (target ≥ 98.5 %, the preset 荆州市 plan) from the simulator's
profiles: the four food evaluative streams mixed by their weights, each with its summer rise
(producers.simulator.generator.seasonal_failure), a year-to-year wobble of the whole rate, and a Poisson number of
batches a day. Two scales: the city (36,000 batches a year, the demo's sampling task) and one of its 8 counties
(the simulator's county shares: 2,900–8,200 a year). Each plan-year comes with the two clean years before it (the
drift chart's seasonal baseline is last year's). Kinds: clean; a step rise of the failure rate of 0.5 or 1.0
percentage points from the first day of a random month (February–November); a slow drift reaching the same rise
over 90 days from such a day.

Every signal is computed day by day with the functions the alert service uses (indicators.drift, indicators.forecast)
on exactly what that day's database would hold, and scored:
* detection delay: days from the rise's start to the first signal, and how many days that is before the threshold
  alert (the year-to-date rate below target, the level alert that says the year's target is being missed) or, where
  that never fires, before year end;
* false alarms: signal episodes (off → on) in clean years, per year;
* calibration: of the month-end forecasts claiming 70–90 % to meet the target, how many years met it; and how often
  the 80 % interval held the year-end rate.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import product

import numpy as np

from bench.docs import replace_section
from indicators.drift import BASELINE_BLOCKS, BLOCK_DAYS, BLOCKS, RELEASE, baseline_rates, cusum, threshold
from indicators.forecast import MAX_EVIDENCE, Outcome, season_factor, year_end_forecast
from producers.simulator.generator import seasonal_failure
from producers.simulator.profile import PROFILES
from qsmon.plans import presets
from qsmon.plans.model import Pace
from qsmon.vocab import Category, SamplingType

# The preset 荆州市 plan's two high-volume pass rates, with the city's batches a year: the demo's sampling task for
# food, the simulator's stream weights for agricultural monitoring (its share of all results against food's).
INDICATORS: tuple[tuple[str, Category, SamplingType, int], ...] = (
    ("food-evaluative-pass", Category.FOOD, SamplingType.EVALUATIVE, 36000),
    ("agricultural-routine-pass", Category.AGRICULTURAL, SamplingType.ROUTINE_MONITORING, 49000),
)
COUNTY_SHARES = np.array([1 / np.sqrt(i + 1) for i in range(8)]) / sum(1 / np.sqrt(i + 1) for i in range(8))
YEAR = 2027  # the plan year; 2025 and 2026 before it (365 days each)
DAYS = 365
YEAR_SD = 0.1  # percentage points: the whole rate's wobble from one year to the next
RAMP_DAYS = 90
KINDS: tuple[tuple[str, float], ...] = (("clean", 0.0), ("step", 0.5), ("drift", 0.5), ("step", 1.0), ("drift", 1.0))


def mixed_rate(category: Category, sampling_type: SamplingType) -> np.ndarray:
    """The stream mix's failure probability on each day of the three years, from the simulator's profiles."""
    streams = [p for p in PROFILES if p.category is category and p.sampling_type is sampling_type]
    weights = np.array([p.weight for p in streams])
    first = date(YEAR - 2, 1, 1)
    days = [first + timedelta(days=i) for i in range(3 * DAYS)]
    rates = np.array([[seasonal_failure(p, day) for p in streams] for day in days])
    return np.asarray(rates @ weights / weights.sum())


@dataclass
class Years:
    kind: str
    shift: float
    scale: str
    volume: np.ndarray  # (N,) planned batches a year
    start: np.ndarray  # (N,) day of the plan year the rise starts (DAYS: none)
    tested: np.ndarray  # (N, 3 × DAYS) batches a day
    failed: np.ndarray


def simulate(
    rng: np.random.Generator, base: np.ndarray, city_volume: int, kind: str, shift: float, scale: str, n: int
) -> Years:
    volume = np.full(n, float(city_volume)) if scale == "city" else city_volume * rng.choice(COUNTY_SHARES, size=n)
    wobble = rng.normal(0, YEAR_SD / 100, (n, 3)).repeat(DAYS, axis=1)
    months = rng.integers(2, 12, n)  # February-November
    start = (
        np.array([(date(YEAR, int(m), 1) - date(YEAR, 1, 1)).days for m in months])
        if kind != "clean"
        else np.full(n, DAYS)
    )
    day = np.arange(3 * DAYS) - 2 * DAYS  # day of the plan year (negative: the years before)
    since = day[None, :] - start[:, None]
    rise = np.zeros((n, 3 * DAYS))
    if kind == "step":
        rise = np.where(since >= 0, shift / 100, 0.0)
    elif kind == "drift":
        rise = np.clip((since + 1) / RAMP_DAYS, 0, 1) * shift / 100
    p = np.clip(base[None, :] + wobble + rise, 0, 1)
    tested = rng.poisson(volume[:, None] / DAYS, (n, 3 * DAYS))
    failed = rng.binomial(tested, p)
    return Years(kind, shift, scale, volume, start, tested.astype(np.float64), failed.astype(np.float64))


def _cum(x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)


def _window(c: np.ndarray, last: int, days: int) -> np.ndarray:
    """Sums over the ``days`` days ending on absolute day ``last`` (inclusive)."""
    return np.asarray(c[:, last + 1] - c[:, last + 1 - days])


@dataclass
class Signals:
    threshold: np.ndarray  # (N, DAYS) bool: the year-to-date level alert
    drift: np.ndarray
    fast_burn: np.ndarray
    slow_burn: np.ndarray
    unlikely: np.ndarray  # the forecast gives the target less than the plan's probability_warning
    claims: list[tuple[float, bool, bool]]  # (probability, met, 80 % interval held the year-end rate)


def signals(y: Years, pace: Pace, target: float, min_samples: int) -> Signals:
    n = len(y.volume)
    cf, ct = _cum(y.failed), _cum(y.tested)
    budget = 1 - target / 100
    fast, slow = pace.burn_rules[0], pace.burn_rules[1]
    out = {k: np.zeros((n, DAYS), dtype=bool) for k in ("threshold", "drift", "fast", "slow", "unlikely")}
    claims: list[tuple[float, bool, bool]] = []
    year_first = 2 * DAYS
    final_tested = _window(ct, year_first + DAYS - 1, DAYS)
    final_rate = 100 - _window(cf, year_first + DAYS - 1, DAYS) / np.maximum(final_tested, 1) * 100
    met = final_rate >= target
    month_ends = {(date(YEAR, m + 1, 1) - date(YEAR, 1, 1)).days - 1 for m in range(1, 12)}
    ends = BLOCK_DAYS * np.arange(BLOCKS - 1, -1, -1)
    ly_ends = BLOCK_DAYS * np.arange(BLOCKS - 1 + BASELINE_BLOCKS // 2, -BASELINE_BLOCKS // 2, -1)
    for d in range(DAYS):
        t = year_first + d
        ytd_t, ytd_f = _window(ct, t, d + 1), _window(cf, t, d + 1)
        out["threshold"][:, d] = (ytd_t >= min_samples) & (100 - ytd_f / np.maximum(ytd_t, 1) * 100 < target)

        def burn(days: int, t: int = t) -> np.ndarray:
            return np.asarray(_window(cf, t, days) / np.maximum(_window(ct, t, days), 1) / budget)

        out["fast"][:, d] = (burn(fast.long_days) > fast.factor) & (burn(fast.short_days) > fast.factor)
        out["slow"][:, d] = (burn(slow.long_days) > slow.factor) & (burn(slow.short_days) > slow.factor)
        block_end = t - ends
        f_blocks = cf[:, block_end + 1] - cf[:, block_end + 1 - BLOCK_DAYS]
        n_blocks = ct[:, block_end + 1] - ct[:, block_end + 1 - BLOCK_DAYS]
        ly_end = t - 52 * BLOCK_DAYS - ly_ends
        p0 = baseline_rates(
            cf[:, ly_end + 1] - cf[:, ly_end + 1 - BLOCK_DAYS],
            ct[:, ly_end + 1] - ct[:, ly_end + 1 - BLOCK_DAYS],
            budget,
        )
        chart = cusum(f_blocks, n_blocks, p0, pace.drift_shift / 100)[:, -1]
        per_year = n_blocks.sum(axis=1) * 365 / (BLOCK_DAYS * BLOCKS)
        mean_p0 = (p0 * n_blocks).sum(axis=1) / np.maximum(n_blocks.sum(axis=1), 1)
        h = threshold(mean_p0, pace.drift_shift / 100, per_year, pace.drift_false_alarms_per_year)
        out["drift"][:, d] = (chart >= h) | ((chart >= RELEASE * h) & out["drift"][:, d - 1] if d else False)
        if d in month_ends:  # the forecast is read at each month's end and holds until the next
            recent_t = _window(ct, t, pace.evidence_days)
            recent_f = _window(cf, t, pace.evidence_days)
            ly_recent = (_window(cf, t - DAYS, pace.evidence_days), _window(ct, t - DAYS, pace.evidence_days))
            ly_rest = (_window(cf, year_first - 1, DAYS - d - 1), _window(ct, year_first - 1, DAYS - d - 1))
            for i in range(n):
                season = season_factor(
                    (int(ly_recent[0][i]), int(ly_recent[1][i])), (int(ly_rest[0][i]), int(ly_rest[1][i]))
                )
                f = year_end_forecast(
                    target,
                    int(ytd_t[i]),
                    int(ytd_t[i] - ytd_f[i]),
                    int(max(0, y.volume[i] - ytd_t[i])),
                    int(recent_t[i]),
                    int(recent_f[i]),
                    season=season,
                )
                out["unlikely"][i, d:] = f.probability < pace.probability_warning
                if f.outcome is Outcome.OPEN:
                    claims.append((f.probability, bool(met[i]), bool(f.low <= final_rate[i] <= f.high)))
    return Signals(out["threshold"], out["drift"], out["fast"], out["slow"], out["unlikely"], claims)


def first_day(signal: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The first day at or after ``start`` the signal is on (DAYS: never)."""
    on = signal & (np.arange(DAYS)[None, :] >= start[:, None])
    return np.where(on.any(axis=1), on.argmax(axis=1), DAYS)


def episodes(signal: np.ndarray) -> np.ndarray:
    """Signal episodes (off → on) of each year."""
    padded = np.concatenate([np.zeros((signal.shape[0], 1), dtype=bool), signal], axis=1)
    return np.asarray((padded[:, 1:] & ~padded[:, :-1]).sum(axis=1))


def run(n: int, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    plan = presets()["jingzhou-2023"]
    pace = plan.pace
    rows: list[dict[str, object]] = []
    claims: list[tuple[float, bool, bool, bool]] = []  # + whether the year was clean
    leads: dict[str, list[int]] = {}  # drift's days before the threshold alert, 0.5-point rises
    false_alarms: list[int] = []  # drift's episodes, clean years
    started = time.monotonic()
    for indicator_id, category, sampling_type, city_volume in INDICATORS:
        indicator = plan.indicator(indicator_id)
        target = float(indicator.target.value or 0)
        base = mixed_rate(category, sampling_type)
        for scale, (kind, shift) in product(("city", "county"), KINDS):
            y = simulate(rng, base, city_volume, kind, shift, scale, n)
            s = signals(y, pace, target, indicator.min_samples)
            claims += [(*c, kind == "clean") for c in s.claims]
            row: dict[str, object] = {
                "indicator": f"{indicator.name} ≥ {target:g} %(基线 {100 - 100 * base[:DAYS].mean():.2f} %)",
                "scale": scale,
                "kind": kind,
                "shift": shift,
                "years": n,
                "volume": float(np.median(y.volume)),
            }
            if kind == "clean":
                false_alarms.extend(episodes(s.drift).tolist())
                for name, sig in (
                    ("drift", s.drift),
                    ("fast", s.fast_burn),
                    ("slow", s.slow_burn),
                    ("unlikely", s.unlikely),
                    ("threshold", s.threshold),
                ):
                    row[f"fa_{name}"] = float(episodes(sig).mean())
                rows.append(row)
                continue
            thr = first_day(s.threshold, y.start)
            if shift == 0.5:
                leads.setdefault(f"{indicator.name}, {scale}", []).extend(
                    (np.minimum(thr, DAYS) - first_day(s.drift, y.start)).tolist()
                )
            for name, sig in (
                ("drift", s.drift),
                ("fast", s.fast_burn),
                ("slow", s.slow_burn),
                ("unlikely", s.unlikely),
            ):
                day = first_day(sig, y.start)
                row[f"found_{name}"] = float((day < DAYS).mean())
                row[f"delay_{name}"] = (
                    float(np.median(day[day < DAYS] - y.start[day < DAYS])) if (day < DAYS).any() else None
                )
                row[f"lead_{name}"] = float(np.median(np.minimum(thr, DAYS) - day))
            row["found_threshold"] = float((thr < DAYS).mean())
            rows.append(row)
    probability = np.array([c[0] for c in claims])
    met = np.array([c[1] for c in claims])
    held = np.array([c[2] for c in claims])
    clean = np.array([c[3] for c in claims])
    bins = [(0.0, 0.1), (0.1, 0.3), (0.3, 0.7), (0.7, 0.9), (0.9, 0.99), (0.99, 1.01)]
    calibration = []
    for lo, hi in bins:
        inside = (probability >= lo) & (probability < hi)
        calibration.append(
            (lo, hi, int((inside & clean).sum()), _share(met[inside & clean]), int(inside.sum()), _share(met[inside]))
        )
    inside = (probability >= 0.7) & (probability < 0.9)
    goals = {
        "lead_all": float(np.median([x for v in leads.values() for x in v])),
        "lead": {k: float(np.median(v)) for k, v in leads.items()},
        "false_alarms": float(np.mean(false_alarms)),
        "claims_80": _share(met[inside & clean]),
        "claims_80_all": _share(met[inside]),
    }
    return {
        "rows": rows,
        "calibration": calibration,
        "goals": goals,
        "coverage": float(held.mean()),
        "claims": len(claims),
        "coverage_clean": float(held[clean].mean()),
        "claims_clean": int(clean.sum()),
        "seconds": time.monotonic() - started,
        "years": n * len(KINDS) * 2 * len(INDICATORS),
        "seed": seed,
        "pace": pace,
    }


def _share(x: np.ndarray) -> float | None:
    return float(x.mean()) if len(x) else None


def _fmt(x: object, digits: int = 0) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.1f} %"


def report(result: dict[str, object]) -> str:
    rows = result["rows"]
    assert isinstance(rows, list)  # noqa: S101
    pace = result["pace"]
    assert isinstance(pace, Pace)  # noqa: S101
    lines = [
        "<!-- bench:early_warning:start -->",
        f"`python -m bench.early_warning --years {rows[0]['years']} --seed {result['seed']}`: "
        f"{result['years']} simulated plan-years in {_fmt(result['seconds'])} s. Drift chart tuned for "
        f"{pace.drift_false_alarms_per_year:g} false alarms a clean year and a {pace.drift_shift:g}-point rise; "
        f"forecast evidence {pace.evidence_days} days, capped at {MAX_EVIDENCE} batches.",
        "",
        "Detection (rise years): share of years signalled, median days from the rise to the signal, and median"
        " days the signal came before the year-to-date threshold alert (or year end where that never fired):",
        "",
        "| indicator | scale | kind | rise (pp) | threshold alert fired | drift: found / delay / lead |"
        " fast burn: found / delay / lead | slow burn: found / delay / lead |"
        " forecast < 20 %: found / delay / lead |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == "clean":
            continue
        cells = []
        for name in ("drift", "fast", "slow", "unlikely"):
            cells.append(
                f"{_fmt(100 * float(r[f'found_{name}']))} % / {_fmt(r[f'delay_{name}'])} d / "
                f"{_fmt(r[f'lead_{name}'])} d"
            )
        lines.append(
            f"| {r['indicator']} | {r['scale']} ({_fmt(r['volume'])}/yr) | {r['kind']} | {r['shift']} |"
            f" {_fmt(100 * float(r['found_threshold']))} % | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "False alarms: signal episodes per clean year (the threshold alert for comparison):",
        "",
        "| indicator | scale | drift | fast burn | slow burn | forecast < 20 % | year-to-date threshold |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == "clean":
            lines.append(
                f"| {r['indicator']} | {r['scale']} | {_fmt(r['fa_drift'], 2)} | {_fmt(r['fa_fast'], 2)} | "
                f"{_fmt(r['fa_slow'], 2)} | {_fmt(r['fa_unlikely'], 2)} | {_fmt(r['fa_threshold'], 2)} |"
            )
    coverage, coverage_clean = float(result["coverage"]), float(result["coverage_clean"])  # type: ignore[arg-type]
    lines += [
        "",
        f"Calibration: month-end forecasts (end of January to end of November) of years still open;"
        f" {result['claims_clean']} in clean years, {result['claims']} in all. The 80 % interval held the"
        f" year-end rate in {100 * coverage_clean:.1f} % of clean years' forecasts ({100 * coverage:.1f} % of"
        " all: a rise that starts after the forecast is news it cannot have).",
        "",
        "| probability claimed | forecasts (clean years) | met the target | forecasts (all years) | met the target |",
        "|---|---|---|---|---|",
    ]
    calibration = result["calibration"]
    assert isinstance(calibration, list)  # noqa: S101
    for lo, hi, count, share, count_all, share_all in calibration:
        lines.append(
            f"| {100 * lo:.0f}–{min(100, 100 * hi):.0f} % | {count} | {_percent(share)} | {count_all} |"
            f" {_percent(share_all)} |"
        )
    goals = result["goals"]
    assert isinstance(goals, dict)  # noqa: S101
    lines += [
        "",
        "Against the goals:",
        "",
        f"- drift signal before the threshold alert, 0.5-point rise, median (goal ≥ 30 days):"
        f" {goals['lead_all']:.0f} days over both indicators and scales (a rise never signalled counts as year"
        " end for both); " + "; ".join(f"{k}: {v:.0f} days" for k, v in goals["lead"].items()),
        f"- drift false alarms per clean year (goal ≤ 0.2): {goals['false_alarms']:.2f}",
        f"- forecasts claiming 70–90 % that met the target (goal 70–90 %): {_percent(goals['claims_80'])} in"
        f" clean years, {_percent(goals['claims_80_all'])} in all years",
    ]
    lines.append("<!-- bench:early_warning:end -->")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=60, help="simulated plan-years per kind and scale (10 of them)")
    parser.add_argument("--seed", type=int, default=35)
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/benchmarks.md")
    args = parser.parse_args()
    text = report(run(args.years, args.seed))
    print(text)
    if args.write_docs:
        replace_section("early_warning", text)


if __name__ == "__main__":
    main()
