"""``qsmon simulate``, ``qsmon import``, ``qsmon serve ingest``: the ways results enter Kafka."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli._common import friendly_errors, print_json
from qsmon import clock
from qsmon.settings import get_settings

if TYPE_CHECKING:
    from producers.importers.run import ImportSummary


@friendly_errors
def simulate(
    count: Annotated[int | None, typer.Option(help="send this many results spread over --days")] = None,
    rate: Annotated[float | None, typer.Option(help="send live results at this many per second")] = None,
    duration: Annotated[float, typer.Option(help="seconds to run at --rate")] = 60.0,
    days: Annotated[int, typer.Option(help="history span of --count, ending --end")] = 30,
    end: Annotated[str | None, typer.Option(help="last day of the history (YYYY-MM-DD, default today)")] = None,
    scenario: Annotated[Path | None, typer.Option(help="YAML file of injected incidents")] = None,
    seed: Annotated[int, typer.Option(help="same seed, same events")] = 1,
    region: Annotated[str, typer.Option(help="GB/T 2260 code of the city")] = "421000",
    duplicates: Annotated[float, typer.Option(help="share of redelivered duplicates")] = 0.0,
    corrections: Annotated[float, typer.Option(help="share of higher revisions (复检/异议)")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Simulated inspection results of a city's counties: realistic mix, seasonality, incidents."""
    from producers.simulate import send_history, send_live
    from producers.simulator import SimulatorOptions, load_scenario
    from producers.simulator.scenario import Scenario

    if (count is None) == (rate is None):
        raise typer.BadParameter("give exactly one of --count and --rate")
    last_day = date.fromisoformat(end) if end else clock.today(get_settings().timezone)
    options = SimulatorOptions(
        seed=seed,
        region=region,
        first_day=last_day - timedelta(days=days - 1),
        last_day=last_day,
        duplicate_rate=duplicates,
        correction_rate=corrections,
        scenario=load_scenario(scenario) if scenario else Scenario(),
    )
    settings = get_settings()
    if count is not None:
        report = send_history(settings, options, count)
    elif rate is not None:
        report = send_live(settings, options, rate, duration)
    summary = {"sent": report.sent, "seconds": round(report.seconds, 2), "topic": settings.results_topic}
    if as_json:
        print_json(summary)
    else:
        typer.echo(f"sent {report.sent} results to {settings.results_topic} in {report.seconds:.1f}s")


@friendly_errors
def import_(
    files: Annotated[list[Path], typer.Argument(help="workbooks, CSV or NDJSON files")],
    fmt: Annotated[str | None, typer.Option("--format", help="samr | csv | ndjson (default: from the suffix)")] = None,
    mapping: Annotated[Path | None, typer.Option(help="CSV column mapping (YAML)")] = None,
    region: Annotated[str | None, typer.Option(help="GB/T 2260 code for every row (SAMR: instead of 省份)")] = None,
    category: Annotated[str, typer.Option(help="SAMR: the category of the workbook")] = "food",
    rejects: Annotated[
        Path | None, typer.Option(help="CSV of rejected rows (default: <first file>.rejects.csv)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate only; send nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    keys_by_file_name: Annotated[
        bool,
        typer.Option(
            "--keys-by-file-name",
            help="SAMR/CSV rows without 抽样编号 keyed by the file's name too, as imports before "
            "2026-12 did: only to re-import files first imported then",
        ),
    ] = False,
    emit: Annotated[
        Path | None,
        typer.Option(
            "--emit",
            help="write every valid row's event to this NDJSON file with its file, sheet and row (with "
            "--dry-run: review before sending)",
        ),
    ] = None,
    suggest_mapping: Annotated[
        bool,
        typer.Option(
            "--suggest-mapping",
            help="write a mapping of the file's columns (to --mapping, else FILE.mapping.yaml) "
            "from their Chinese names, for you to check; import nothing",
        ),
    ] = False,
) -> None:
    """Import results from files: each rejected row is reported with file, sheet, row number and reason."""
    from tqdm import tqdm

    if suggest_mapping:
        _suggest_mapping(files, mapping)
        return

    from producers.importers import import_files
    from producers.importers.run import Format
    from producers.importers.samr import SamrOptions
    from producers.kafka_sink import ResultSink, local_sender
    from qsmon import clock
    from qsmon.vocab import Category

    if fmt not in (None, "samr", "csv", "ndjson"):
        raise typer.BadParameter("--format must be samr, csv or ndjson")
    rejects_path = rejects or files[0].with_name(files[0].name + ".rejects.csv")
    samr = SamrOptions(category=Category(category), region_code=region, keys_by_file_name=keys_by_file_name)
    # Each row carries the import job as its sender: who ran it, when, and which files (qsmon results history).
    job = local_sender("import", clock.now().strftime("%Y%m%dT%H%M%SZ") + ":" + "+".join(f.name for f in files))
    sink = None if dry_run else ResultSink(get_settings(), client_id="qsmon-import", sender=job)
    fmt_value: Format | None = fmt  # type: ignore[assignment]
    with tqdm(unit=" rows", disable=as_json, file=sys.stderr, desc="importing") as bar:
        try:
            summary = import_files(
                files,
                fmt=fmt_value,
                sink=sink,
                mapping=mapping,
                samr=samr,
                rejects_path=rejects_path,
                progress=bar.update,
                emit_path=emit,
            )
        finally:
            if sink is not None:
                sink.close()
    _print_summary(summary, rejects_path, as_json=as_json)
    if emit is not None:
        typer.echo(f"{summary.valid} event(s) written to {emit}", err=True)


def _print_summary(summary: ImportSummary, rejects_path: Path, *, as_json: bool) -> None:
    for note in summary.notes:
        typer.secho(f"note: {note.where()}: {note.note}", fg=typer.colors.YELLOW, err=True)
    for rejection in summary.rejections[:50]:
        typer.secho(f"rejected: {rejection.where()}: {rejection.reason}", fg=typer.colors.YELLOW, err=True)
    if summary.rejected > 50:
        typer.secho(f"… {summary.rejected - 50} more in {rejects_path}", fg=typer.colors.YELLOW, err=True)
    if as_json:
        print_json(summary.as_dict() | {"rejects_file": str(rejects_path) if summary.rejected else None})
    else:
        typer.echo(
            f"rows read {summary.rows_read}, valid {summary.valid}, rejected {summary.rejected}, "
            f"sent {summary.sent}" + (f" (rejects: {rejects_path})" if summary.rejected else "")
        )
    if summary.repeated:
        listed = "; ".join(
            f"{r.sheet + ' ' if r.sheet else ''}row {r.row} ({r.result.sample_id})" for r in summary.repeats[:10]
        )
        typer.secho(
            f"{summary.repeated} row(s) repeat the sample (and revision) of an earlier row of this import and"
            f" are stored once, as the first: {listed}",
            fg=typer.colors.YELLOW,
            err=True,
        )
    if summary.unclassified:
        listed = "、".join(f"{name}({rows})" for name, rows in summary.unclassified.most_common(10))
        typer.secho(
            f"{sum(summary.unclassified.values())} food row(s) name no SAMR class (qsmon/food_classes.yaml);"
            f" kept under their own 分类 for an analyst to classify: {listed}",
            fg=typer.colors.YELLOW,
            err=True,
        )
    if summary.former_places:
        listed = "、".join(f"{name}({rows})" for name, rows in summary.former_places.most_common(10))
        typer.echo(
            f"{sum(summary.former_places.values())} row(s) placed by a former or short name of their county"
            f" (the name as written is kept in the address): {listed}",
            err=True,
        )
    if summary.dated_by_announcement:
        typer.secho(
            f"{summary.dated_by_announcement} row(s) have no 抽样日期: dated by their 公告日期, so plans"
            " counting by sampling date count them on the announcement day (counting_date: announced counts"
            " every imported row exactly)",
            fg=typer.colors.YELLOW,
            err=True,
        )


def _suggest_mapping(files: list[Path], target: Path | None) -> None:
    from producers.importers.mapping import first_rows, suggest

    if len(files) != 1:
        raise typer.BadParameter("--suggest-mapping reads one file")
    source = files[0]
    path = target or source.with_name(source.name + ".mapping.yaml")
    if path.exists():
        raise typer.BadParameter(f"{path} exists: check and use it, or remove it to suggest anew")
    suggestion = suggest(first_rows(source))
    path.write_text(suggestion.to_yaml(source), encoding="utf-8")
    for header, fields in suggestion.headers.items():
        typer.echo(f"  {header} -> {', '.join(fields) if fields else '(not read)'}")
    typer.echo(
        f"wrote {path} (header in row {suggestion.row}); check it, then: qsmon import {source} --mapping"
        f" {path} --dry-run"
    )


serve_app = typer.Typer(help="Long-running HTTP services.", no_args_is_help=True)


@serve_app.command("ingest")
def serve_ingest(
    host: Annotated[str | None, typer.Option(help="bind address (default QSMON_INGEST_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default QSMON_INGEST_PORT)")] = None,
) -> None:
    """The HTTP ingest API for lab systems (POST /v1/results; OpenAPI at /docs)."""
    import uvicorn

    from producers.ingest_api import server_config
    from qsmon.logs import configure_logging

    settings = get_settings()
    configure_logging("INFO", settings.log_format)
    if not settings.ingest_tokens:
        typer.secho(
            "warning: QSMON_INGEST_TOKENS is empty: every request will be refused (401)",
            fg=typer.colors.YELLOW,
            err=True,
        )
    from cases.api import router as case_steps

    uvicorn.Server(server_config(settings, host=host, port=port, routers=[case_steps])).run()


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
    app.command("import")(import_)
    app.add_typer(serve_app, name="serve")
