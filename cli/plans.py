"""``qsmon plans``: list, show and validate plan files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli._common import friendly_errors, print_json
from indicators.labels import counting_text, label, target_text
from qsmon.plans import Plan, PlanFileError, load_plan, presets
from qsmon.plans.counting import Counting
from qsmon.settings import get_settings
from qsmon.vocab import Category, Grade, SamplingType, Stage

plans_app = typer.Typer(help="City quality plans: the targets qsmon monitors.", no_args_is_help=True)


def all_plans() -> dict[str, Plan]:
    return presets(get_settings().plans_dir)


def get_plan(plan_id: str) -> Plan:
    plans = all_plans()
    if plan_id not in plans:
        raise typer.BadParameter(f"unknown plan {plan_id!r}; known: {', '.join(sorted(plans))}")
    return plans[plan_id]


@plans_app.command("list")
@friendly_errors
def list_plans() -> None:
    """Every plan known (the presets, plus QSMON_PLANS_DIR)."""
    for plan in all_plans().values():
        typer.echo(
            f"{plan.id:<24} {len(plan.indicators):>2} monitored  {len(plan.not_monitored):>2} not monitored  "
            f"{plan.jurisdiction.name}  {plan.title}"
        )


def _filter_text(plan: Plan, index: int) -> str:
    f = plan.indicators[index].filter
    parts = ["/".join(Category(c).label for c in f.categories)]
    if f.sampling_types:
        parts.append("/".join(SamplingType(s).label for s in f.sampling_types))
    if f.subcategories:
        parts.append("/".join(f.subcategories))
    if f.stages:
        parts.append("/".join(Stage(s).label for s in f.stages))
    return " · ".join(parts)


@plans_app.command("show")
@friendly_errors
def show(
    plan_id: Annotated[str, typer.Argument(help="plan id, e.g. jingzhou-2023")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """A plan's monitored indicators with their exact targets, and the targets not monitored with reasons."""
    plan = get_plan(plan_id)
    if as_json:
        print_json(plan.summary())
        return
    typer.secho(f"{plan.title}", bold=True)
    typer.echo(
        f"{plan.issuer}  {plan.document_number or ''}  {plan.issued_on or ''}  "
        f"{plan.jurisdiction.name} ({plan.jurisdiction.region_code or '-'})  "
        f"{plan.period.start} – {plan.period.end}"
    )
    typer.secho("\n监测指标 (monitored)", bold=True)
    for i, ind in enumerate(plan.indicators):
        grades = f" [{'/'.join(Grade(g).label for g in ind.grades)}]" if ind.grades else ""
        typer.echo(f"  {ind.id:<36} {ind.name}")
        typer.echo(
            f"  {'':<36} {label(ind.measure)}{grades} {target_text(ind)}  "
            f"{_filter_text(plan, i)}  windows={','.join(ind.windows)}  min={ind.min_samples}  "
            f"{ind.severity}  {counting_text(Counting.of(plan, ind))}"
        )
    if plan.not_monitored:
        typer.secho("\n未监测目标 (not monitored)", bold=True)
        for item in plan.not_monitored:
            typer.echo(f"  {item.name}: {item.target} — {item.reason}")


@plans_app.command("validate")
def validate(files: Annotated[list[Path], typer.Argument(help="plan YAML files")]) -> None:
    """Check plan files; every problem is printed as file:line: field: message."""
    failed = False
    for path in files:
        try:
            plan = load_plan(path)
        except PlanFileError as exc:
            failed = True
            for problem in exc.problems:
                typer.secho(problem, fg=typer.colors.RED, err=True)
            continue
        typer.echo(f"{path}: ok ({plan.id}: {len(plan.indicators)} indicators)")
    if failed:
        raise typer.Exit(1)


@plans_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of plan files (for editors: see plans/plan.schema.json)."""
    print_json(plan_json_schema())


def plan_json_schema() -> dict[str, object]:
    result = Plan.model_json_schema()
    result["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    result["title"] = "qsmon plan"
    # A file that extends another plan names only what it changes (qsmon.plans.loader).
    result["properties"]["extends"] = {
        "type": "string",
        "title": "Extends",
        "description": "the id of a plan this file changes; its keys replace the plan's",
    }
    result["anyOf"] = [{"required": ["extends"]}, {"required": result.pop("required")}]
    return result
