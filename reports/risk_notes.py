"""风险解析: for each item that failed in the month, what it is, the standard behind its limit, likely causes and the
health effect, from reports/risk_notes.yaml; items without an entry are listed, never skipped."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict


class RiskNote(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    term: str
    what: str
    standard: str
    causes: str
    health: str
    source: str  # the standard's edition and the notices the wording follows


class RiskNoteTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    notes: tuple[RiskNote, ...]


@cache
def risk_notes() -> RiskNoteTable:
    text = resources.files("reports").joinpath("risk_notes.yaml").read_text(encoding="utf-8")
    return RiskNoteTable.model_validate(yaml.safe_load(text))


def note_for(item: str) -> RiskNote | None:
    return next((n for n in risk_notes().notes if n.term in item), None)


@dataclass(frozen=True, slots=True)
class ItemNote:
    item: str
    failures: int
    note: RiskNote | None  # None: no entry yet, listed for an analyst


def item_notes(items: Iterable[str]) -> list[ItemNote]:
    """Each failed item of the month once, commonest first, with its note."""
    counts = Counter(items)
    return [ItemNote(item, n, note_for(item)) for item, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
