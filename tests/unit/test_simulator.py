"""The simulator: deterministic, realistic rates, incidents where the scenario puts them."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from producers.simulator import Simulator, SimulatorOptions, load_scenario
from producers.simulator.scenario import Incident, Scenario
from qsmon.exceptions import ConfigError
from qsmon.regions import children
from qsmon.vocab import Category
from tests.truth import final_verdicts

OPTIONS = SimulatorOptions(seed=5, first_day=date(2026, 1, 1), last_day=date(2026, 3, 31))


class TestSimulator:
    def test_the_same_seed_gives_the_same_events_byte_for_byte(self) -> None:
        first = [e.to_json() for e in Simulator(OPTIONS).events(2000)]
        again = [e.to_json() for e in Simulator(OPTIONS).events(2000)]
        assert first == again

    def test_another_seed_gives_other_events(self) -> None:
        other = SimulatorOptions(seed=6, first_day=OPTIONS.first_day, last_day=OPTIONS.last_day)
        assert [e.to_json() for e in Simulator(OPTIONS).events(50)] != [
            e.to_json() for e in Simulator(other).events(50)
        ]

    def test_results_come_from_the_citys_counties_within_the_days(self) -> None:
        events = list(Simulator(OPTIONS).events(3000))
        counties = {r.code for r in children("421000")}
        assert {e.region_code for e in events} <= counties
        assert len({e.region_code for e in events}) == len(counties)
        assert all(date(2026, 1, 1) <= e.sampled_at.date() <= date(2026, 3, 31) for e in events)

    def test_pass_rates_sit_near_national_levels(self) -> None:
        events = list(Simulator(OPTIONS).events(20_000))
        by = Counter((e.category.value, e.verdict.value) for e in events)
        rate = {c: by[(c, "pass")] / (by[(c, "pass")] + by[(c, "fail")]) for c, _ in by}
        assert 0.975 < rate["food"] < 0.995
        assert 0.98 < rate["agricultural"] < 0.995
        assert 0.93 < rate["manufactured"] < 0.97

    def test_duplicates_and_corrections_are_mixed_in_at_their_rates(self) -> None:
        options = SimulatorOptions(seed=5, duplicate_rate=0.05, correction_rate=0.02)
        events = list(Simulator(options).events(10_000))
        revisions = Counter(e.revision > 1 for e in events)
        assert 0.01 < revisions[True] / len(events) < 0.03
        assert 0.03 < 1 - len({e.to_json() for e in events}) / len(events) < 0.07
        assert len(final_verdicts(events)) < len(events)

    def test_an_incident_raises_failures_in_its_county_category_and_days(self) -> None:
        incident = Incident(
            name="洪湖蔬菜",
            region="421083",
            category=Category.AGRICULTURAL,
            subcategory="蔬菜",
            fail_rate=30,
            start_day=date(2026, 2, 1),
            days=20,
        )
        options = SimulatorOptions(
            seed=5, first_day=date(2026, 1, 1), last_day=date(2026, 3, 31), scenario=Scenario(incidents=(incident,))
        )
        events = list(Simulator(options).events(40_000))

        def fail_share(inside: bool) -> float:
            chosen = [
                e
                for e in events
                if e.region_code == "421083"
                and e.subcategory == "蔬菜"
                and (date(2026, 2, 1) <= e.sampled_at.date() <= date(2026, 2, 20)) == inside
            ]
            return sum(e.verdict.value == "fail" for e in chosen) / len(chosen)

        assert fail_share(inside=True) > 0.2
        assert fail_share(inside=False) < 0.05

    def test_the_shipped_demo_scenario_loads(self) -> None:
        root = Path(__file__).resolve().parents[2]
        scenario = load_scenario(root / "producers/simulator/scenarios/honghu-vegetables.yaml")
        assert scenario.incidents[0].region == "421083"

    def test_a_broken_scenario_names_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "s.yaml"
        path.write_text("incidents: [{name: x, category: food, fail_rate: 500}]", encoding="utf-8")
        with pytest.raises(ConfigError, match=r"s\.yaml"):
            load_scenario(path)
