"""The duty roster: who is on duty which days, and how each robot reaches them (``roster_file`` of the channels
file). Messages of a channel with ``mention`` @-mention the people on duty that day.

```yaml
people:
  张三: {mobile: "13800000001", dingtalk_user_id: zhangsan01, wecom_user_id: ZhangSan, feishu_user_id: ou_7d8a6e}
  李四: {mobile: "13900000002"}
duty:                          # the first entry that matches the (local) day
  - {from: 2026-12-01, to: 2026-12-07, who: [张三]}
  - {weekdays: [sat, sun], who: [李四]}
  - {who: [张三]}               # any other day
```
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from notify.schedule import WEEKDAYS, Weekday
from qsmon.exceptions import ConfigError


class Person(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mobile: str | None = Field(default=None, pattern=r"^\+?\d{5,20}$")
    dingtalk_user_id: str | None = None
    wecom_user_id: str | None = None
    feishu_user_id: str | None = None


class DutyEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    first: date | None = Field(default=None, alias="from")
    last: date | None = Field(default=None, alias="to")
    weekdays: tuple[Weekday, ...] = WEEKDAYS
    who: tuple[str, ...] = Field(min_length=1)

    def covers(self, day: date) -> bool:
        return (
            (self.first is None or self.first <= day)
            and (self.last is None or day <= self.last)
            and WEEKDAYS[day.weekday()] in self.weekdays
        )


class Roster(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    people: dict[str, Person] = Field(default_factory=dict)
    duty: tuple[DutyEntry, ...] = ()

    @model_validator(mode="after")
    def _known_people(self) -> Roster:
        unknown = {name for entry in self.duty for name in entry.who} - set(self.people)
        if unknown:
            raise ValueError(f"duty names people not under people: {', '.join(sorted(unknown))}")
        return self

    def on_duty(self, day: date) -> list[tuple[str, Person]]:
        """Who is on duty on ``day`` (local): the first entry that covers it; nobody when none does."""
        for entry in self.duty:
            if entry.covers(day):
                return [(name, self.people[name]) for name in entry.who]
        return []


def load_roster(path: Path) -> Roster:
    try:
        return Roster.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False, include_input=False)
        )
        raise ConfigError("invalid duty roster", file=str(path), error=problems) from None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError("cannot read the duty roster", file=str(path), error=str(exc)) from None
