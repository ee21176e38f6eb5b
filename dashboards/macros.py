"""Grafana's PostgreSQL macros and template variables, expanded as Grafana expands them.

Used to execute every panel's SQL outside Grafana (tests, benchmarks): no Grafana server runs here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

_TIME_FILTER = re.compile(r"\$__timeFilter\(([^)]+)\)")


def _stamp(moment: datetime) -> str:
    return "'" + moment.strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


def expand(sql: str, variables: Mapping[str, str], time_from: datetime, time_to: datetime, interval: str = "1d") -> str:
    """$__timeFilter(col) → col BETWEEN 'from' AND 'to'; $__timeFrom()/$__timeTo() → quoted UTC stamps;
    $__interval; then ${name} and $name (longest names first, as Grafana matches whole words)."""
    text = _TIME_FILTER.sub(lambda m: f"{m.group(1)} BETWEEN {_stamp(time_from)} AND {_stamp(time_to)}", sql)
    text = text.replace("$__timeFrom()", _stamp(time_from)).replace("$__timeTo()", _stamp(time_to))
    text = text.replace("$__interval", interval)
    for name in sorted(variables, key=len, reverse=True):
        text = text.replace("${" + name + "}", variables[name])
        text = re.sub(r"\$" + re.escape(name) + r"\b", variables[name], text)
    if "$" in re.sub(r"\$\$|'[^']*'", "", text):
        raise ValueError(f"unexpanded macro or variable in: {text[:200]}")
    return text
