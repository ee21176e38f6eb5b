"""Loading plan files (YAML) with errors that name the file, the line and the field."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from qsmon.exceptions import ConfigError
from qsmon.plans.model import Plan

PathKey = tuple[str | int, ...]


class PlanFileError(ConfigError):
    """A plan file is not valid; each problem is listed as ``file:line: field: message``."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problems))


def _line_map(node: yaml.Node, path: PathKey = ()) -> Iterator[tuple[PathKey, int]]:
    """Every path in the document with the 1-based line it starts on."""
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            yield (*path, key), key_node.start_mark.line + 1
            for sub_path, line in _line_map(value_node, (*path, key)):
                if sub_path != (*path, key):
                    yield sub_path, line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _line_map(item, (*path, index))


def _line_for(lines: dict[PathKey, int], loc: PathKey) -> int:
    # Pydantic may point below what the file has (a missing key): use the nearest ancestor present.
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return 1


def load_plan_text(text: str, *, name: str = "<plan>") -> Plan:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise PlanFileError(name, [f"{name}:{line}: YAML syntax: {exc.problem}"]) from exc
    except yaml.YAMLError as exc:  # e.g. a control character the reader refuses before parsing
        raise PlanFileError(name, [f"{name}:1: not readable as YAML: {exc}"]) from exc
    if node is None or not isinstance(data, dict):
        raise PlanFileError(name, [f"{name}:1: a plan file must be a YAML mapping"])
    lines = dict(_line_map(node))
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        locs = [tuple(err["loc"]) for err in errors]
        problems = []
        for err in errors:
            loc = tuple(err["loc"])
            # A failed item also fails its list ("at least 1 item"): report only the specific error.
            if any(len(other) > len(loc) and other[: len(loc)] == loc for other in locs):
                continue
            field = ".".join(str(p) for p in loc) or "(plan)"
            problems.append(f"{name}:{_line_for(lines, loc)}: {field}: {err['msg']}")
        raise PlanFileError(name, problems) from exc


def load_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(str(path), [f"{path}: cannot read: {exc.strerror}"]) from exc
    return load_plan_text(text, name=str(path))


def preset_dir() -> Path:
    """The shipped plans: ``plans/`` in a checkout, ``qsmon/_presets`` in an installed wheel."""
    checkout = Path(__file__).resolve().parents[2] / "plans"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parents[1] / "_presets"


@cache
def presets(extra_dir: Path | None = None) -> dict[str, Plan]:
    """Every shipped plan (and those in ``extra_dir``), by id; an id defined twice is an error."""
    plans: dict[str, Plan] = {}
    dirs = [preset_dir()] + ([extra_dir] if extra_dir else [])
    for directory in dirs:
        for path in sorted(directory.glob("*.yaml")):
            plan = load_plan(path)
            if plan.id in plans:
                raise ConfigError("two plan files define the same plan id", plan=plan.id, file=str(path))
            plans[plan.id] = plan
    return plans
