"""`qsmon report monthly --region`: a report for a jurisdiction without a plan, against a reference it names."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from cli.main import app
from cli.report import region_plan


def test_a_region_gets_a_plan_of_its_food_sampling_against_a_named_reference() -> None:
    plan = region_plan("330000", 2020, reference=97.5)
    assert (plan.jurisdiction.region_code, plan.jurisdiction.name) == ("330000", "浙江省")
    assert (plan.period.start.isoformat(), plan.period.end.isoformat()) == ("2020-01-01", "2020-12-31")
    (indicator,) = plan.indicators
    assert (indicator.target.value, indicator.breakdown) == (97.5, ("subcategory",))
    assert "参考值" in indicator.source
    assert "无规划目标" in plan.title


def test_an_unknown_region_is_refused() -> None:
    with pytest.raises(typer.BadParameter, match="unknown region"):
        region_plan("999999", 2020)


@pytest.mark.parametrize("args", [[], ["--plan", "jingzhou-2023", "--region", "330000"]])
def test_a_plan_or_a_region_one_of_them(args: list[str]) -> None:
    out = CliRunner().invoke(app, ["report", "monthly", "--month", "2020-09", *args])
    assert out.exit_code != 0
    assert "one of them" in out.output
