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


def _parse(text: str, name: str) -> tuple[dict[str, Any], dict[PathKey, int]]:
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
    return data, dict(_line_map(node))


def _validate(data: dict[str, Any], lines: dict[PathKey, int], name: str) -> Plan:
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


def load_plan_text(text: str, *, name: str = "<plan>", bases: dict[str, Plan] | None = None) -> Plan:
    """A plan from its YAML; a file with ``extends: <plan id>`` is that plan (from ``bases``) with the file's
    top-level keys in place of its own, e.g. a preset kept in force after its period (``in_force_until``)."""
    return _load_text(text, name, bases)[0]


def _load_text(text: str, name: str, bases: dict[str, Plan] | None) -> tuple[Plan, str | None]:
    """The plan, and the id of the plan it extends (None when it stands alone)."""
    data, lines = _parse(text, name)
    base_id = data.pop("extends", None)
    if base_id is not None:
        base = (bases or {}).get(str(base_id))
        if base is None:
            raise PlanFileError(
                name,
                [
                    f"{name}:{lines.get(('extends',), 1)}: extends: no plan {base_id!r} to extend"
                    f" (known: {', '.join(sorted(bases or {})) or 'none'})"
                ],
            )
        data = base.model_dump(mode="json", exclude_none=True) | data
    return _validate(data, lines, name), None if base_id is None else str(base_id)


def load_plan(path: Path, bases: dict[str, Plan] | None = None) -> Plan:
    return _load_file(path, bases)[0]


def _load_file(path: Path, bases: dict[str, Plan] | None) -> tuple[Plan, str | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(str(path), [f"{path}: cannot read: {exc.strerror}"]) from exc
    return _load_text(text, str(path), bases)


def preset_dir() -> Path:
    """The shipped plans: ``plans/`` in a checkout, ``qsmon/_presets`` in an installed wheel."""
    checkout = Path(__file__).resolve().parents[2] / "plans"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parents[1] / "_presets"


@cache
def presets(extra_dir: Path | None = None) -> dict[str, Plan]:
    """Every shipped plan (and those in ``extra_dir``), by id. An id defined twice is an error, except by a file
    that ``extends`` the plan: it replaces it (a preset extended, or kept in force, by the site's own file)."""
    plans: dict[str, Plan] = {}
    dirs = [preset_dir()] + ([extra_dir] if extra_dir else [])
    for directory in dirs:
        for path in sorted(directory.glob("*.yaml")):
            plan, extends = _load_file(path, plans)
            if plan.id in plans and extends != plan.id:
                raise ConfigError("two plan files define the same plan id", plan=plan.id, file=str(path))
            plans[plan.id] = plan
    return plans
