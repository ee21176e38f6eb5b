"""``qsmon offsets show|reset``: the database's offsets against the broker's log, and their deliberate repair."""

from __future__ import annotations

from typing import Annotated

import typer

from cli._common import friendly_errors
from qsmon.exceptions import QsmonError
from qsmon.settings import get_settings

offsets_app = typer.Typer(
    help="The workers' stored offsets, and their repair after a topic was recreated.", no_args_is_help=True
)

# Workers' writing connections to this database (streams.store.worker_application_name); this command's own
# connections are named qsmon-offsets.
_WORKERS_CONNECTED = """
SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()
"""
_OWN_NAME = "qsmon-offsets"


@offsets_app.command("show")
@friendly_errors
def show() -> None:
    """Each partition: the offset the database applied up to, the broker's log, the lag, and whether it is refused."""
    from streams.offsets import LogReader, records_waiting, refusals
    from streams.store import ResultStore

    settings = get_settings()
    store = ResultStore(
        settings.dsn, group=settings.worker_group, topic=settings.results_topic, application_name=_OWN_NAME
    )
    try:
        stored = store.stored_offsets()
    finally:
        store.close()
    log = LogReader(settings.kafka_bootstrap, settings.results_topic).read()
    refused = refusals(stored, log, log.end)
    typer.echo(f"group {settings.worker_group}, topic {settings.results_topic}, broker log {log.identity}")
    typer.echo(f"{'partition':>9} {'stored':>10} {'log start':>10} {'log end':>10} {'lag':>8}  status")
    for partition in sorted(set(log.end) | set(stored)):
        row = stored.get(partition)
        end = log.end.get(partition, 0)
        waiting = records_waiting(partition, row, log, refused=partition in refused)
        status = "REFUSED: see below" if partition in refused else "ok"
        if row is not None and row.log_identity not in (None, log.identity) and partition not in refused:
            status = f"counts {row.log_identity}"
        typer.echo(
            f"{partition:>9} {row.next_offset if row else '-':>10} {log.start.get(partition, 0):>10} "
            f"{end:>10} {waiting:>8}  {status}"
        )
    for reason in refused.values():
        typer.echo(f"\n{reason}")
    if refused:
        raise typer.Exit(1)


@offsets_app.command("reset")
@friendly_errors
def reset(
    to: Annotated[
        str,
        typer.Option(
            "--to", help="earliest (the log's first record still kept), latest (skip what it holds), or an offset"
        ),
    ],
    partitions: Annotated[
        list[int] | None, typer.Option("--partition", help="partition to reset (repeat); default: every refused one")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="really do it; without it, only say what would change")] = False,
) -> None:
    """Set partitions' stored offsets to count the broker's current log. Results stored before are never counted
    twice (history and verdicts are keyed by sample and revision). A refused partition resumes within seconds;
    a sound one may only be reset while no worker runs."""
    from qsmon.storage import connect
    from streams.offsets import LogReader, refusals
    from streams.store import ResultStore, worker_application_name

    position = _position(to)  # a --to that is no position is refused before anything is read
    settings = get_settings()
    log = LogReader(settings.kafka_bootstrap, settings.results_topic).read()
    store = ResultStore(
        settings.dsn, group=settings.worker_group, topic=settings.results_topic, application_name=_OWN_NAME
    )
    try:
        stored = store.stored_offsets()
        refused = refusals(stored, log, log.end)
        chosen = sorted(partitions) if partitions else sorted(refused)
        if not chosen:
            typer.echo("no partition is refused: nothing to reset (name one with --partition)")
            return
        unknown = [p for p in chosen if p not in log.end]
        if unknown:
            raise QsmonError("the topic has no such partition", partitions=unknown, topic=settings.results_topic)
        sound = [p for p in chosen if p not in refused]
        if sound:
            with connect(settings.dsn, application_name=_OWN_NAME) as conn:
                row = conn.execute(_WORKERS_CONNECTED, (worker_application_name(settings.worker_group),)).fetchone()
            if row and row[0]:
                raise QsmonError(
                    "workers are running and would overwrite this reset of partitions they read; stop them first",
                    partitions=sound,
                    worker_connections=row[0],
                )
        for partition in chosen:
            target = _target(position, partition, log.start.get(partition, 0), log.end.get(partition, 0))
            before = stored[partition].next_offset if partition in stored else None
            typer.echo(
                f"partition {partition}: {before if before is not None else '-'} -> {target} (log {log.identity})"
            )
            if yes:
                store.reset_offset(partition, target, log)
    finally:
        store.close()
    if not yes:
        typer.echo("dry run: add --yes to apply")


def _position(to: str) -> str | int:
    if to in ("earliest", "latest"):
        return to
    try:
        return int(to)
    except ValueError:
        raise typer.BadParameter("--to is earliest, latest or an offset") from None


def _target(position: str | int, partition: int, start: int, end: int) -> int:
    if position == "earliest":
        return start
    if position == "latest":
        return end
    offset = int(position)
    if not start <= offset <= end:
        raise QsmonError("offset outside the log", partition=partition, offset=offset, start=start, end=end)
    return offset
