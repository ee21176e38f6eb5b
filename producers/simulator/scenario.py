"""Scenario files: incidents injected into the simulated stream.

```yaml
incidents:
  - name: 洪湖市蔬菜农残超标
    region: "421083"
    category: agricultural
    subcategory: 蔬菜
    fail_rate: 8          # percent of matching results that fail while the incident lasts
    start_day: -10        # days relative to the simulation's last day (or an ISO date)
    days: 10
    failed_item: {item: 毒死蜱, limit: "≤0.02", unit: mg/kg}
```
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qsmon.exceptions import ConfigError
from qsmon.vocab import Category


class IncidentItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    item: str
    limit: str
    unit: str
    measured: tuple[float, float] = (1.5, 10.0)  # multiples of the numeric limit, or absolute when none


class Incident(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    region: str | None = Field(default=None, pattern=r"^[1-8][0-9]{5}$")
    category: Category
    subcategory: str | None = None
    fail_rate: float = Field(gt=0, le=100)
    start_day: int | date = 0
    days: int = Field(default=7, ge=1)
    failed_item: IncidentItem | None = None

    def window(self, last_day: date) -> tuple[date, date]:
        start = self.start_day if isinstance(self.start_day, date) else last_day + timedelta(days=self.start_day)
        return start, start + timedelta(days=self.days - 1)

    def matches(self, day: date, last_day: date, region: str, category: Category, subcategory: str) -> bool:
        first, last = self.window(last_day)
        return (
            first <= day <= last
            and category == self.category
            and (self.region is None or region == self.region)
            and (self.subcategory is None or subcategory == self.subcategory)
        )


class Scenario(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    incidents: tuple[Incident, ...] = ()


def load_scenario(path: Path) -> Scenario:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Scenario.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError("invalid scenario file", file=str(path), error=str(exc)) from exc
