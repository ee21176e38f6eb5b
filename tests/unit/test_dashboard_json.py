"""The dashboards as built: variables offer the whole vocabulary, in the words of the one label table."""

from __future__ import annotations

import json
from typing import Any

from dashboards.build import render
from indicators.labels import label, window_label
from qsmon.settings import get_settings
from qsmon.vocab import Category


def variable(board: str, name: str) -> dict[str, Any]:
    templating = json.loads(render()[board])["templating"]["list"]
    return next(v for v in templating if v["name"] == name)


class TestVariables:
    def test_every_category_is_selectable_by_its_label(self) -> None:
        options = dict(pair.split(" : ") for pair in variable("failures.json", "category")["query"].split(","))
        assert options == {"全部": "all"} | {label(c): c.value for c in Category}

    def test_windows_are_offered_by_their_labels(self) -> None:
        options = dict(pair.split(" : ") for pair in variable("overview.json", "window")["query"].split(","))
        assert options["近30天"] == "rolling_30d"
        assert all(window_label(value) == text for text, value in options.items())

    def test_every_dashboard_counts_days_in_the_configured_zone(self) -> None:
        zone = get_settings().timezone
        for name, text in render().items():
            board = json.loads(text)
            assert board["timezone"] == zone, name
            for panel in board["panels"]:
                for target in panel.get("targets", []):
                    sql = target.get("rawSql", "")
                    assert "now()" not in sql, (name, panel["title"])  # "today" is the range's end
                    assert "AT TIME ZONE" not in sql or f"AT TIME ZONE '{zone}'" in sql, (name, panel["title"])
