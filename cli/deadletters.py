"""``qsmon deadletters list|replay``: the records the worker refused, with their reasons, and sending them again."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Annotated

import typer

from cli._common import friendly_errors, print_json
from qsmon.settings import get_settings

if TYPE_CHECKING:
    from streams.dead_letters import DeadLetter

deadletters_app = typer.Typer(
    help="Records the worker refused (the dead-letter topic): why, and sending them again.", no_args_is_help=True
)

CodeOption = Annotated[
    list[str] | None,
    typer.Option("--code", help="only this reason code (repeat for several), e.g. database, sampled_at, not_json"),
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since", help="only those refused since this day, in QSMON_TIMEZONE (YYYY-MM-DD; times print in UTC)"
    ),
]


def _positions(given: list[str] | None) -> set[tuple[int, int]]:
    try:
        return {(int(p), int(o)) for p, o in (g.split(":") for g in given or ())}
    except ValueError:
        raise typer.BadParameter("PARTITION:OFFSET, e.g. 0:17, as `list` shows", param_hint="--position") from None


def _since(day: str | None) -> datetime | None:
    if day is None:
        return None
    from zoneinfo import ZoneInfo

    try:
        return datetime.combine(date.fromisoformat(day), time(), ZoneInfo(get_settings().timezone))
    except ValueError:
        raise typer.BadParameter(f"{day} is not a day (YYYY-MM-DD)", param_hint="--since") from None


def described(letter: DeadLetter, reason_chars: int = 200) -> str:
    """The sample, the code and the reason, as a terminal may show them (they quote input)."""
    from streams.dead_letters import printable

    key = printable((letter.key or b"-").decode(errors="replace"), 64)
    return f"{key}  [{printable(letter.code, 40)}] {printable(letter.reason, reason_chars)}"


@deadletters_app.command("list")
@friendly_errors
def list_(
    code: CodeOption = None,
    since: SinceOption = None,
    limit: Annotated[int, typer.Option(help="show at most this many (the counts cover all)", min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Each dead letter: where it is, when it was refused, the sample, the reason code and the reason."""
    from streams.dead_letters import printable, read_dead_letters

    settings = get_settings()
    letters = [d for d in read_dead_letters(settings, since=_since(since)) if not code or d.code in code]
    if len(letters) > limit:
        typer.echo(f"{len(letters)} dead letters, the first {limit} shown (--limit)", err=True)
    if as_json:
        print_json(
            [
                {
                    "position": d.position,
                    "refused_at": d.refused_at.isoformat(),
                    "key": printable((d.key or b"").decode(errors="replace"), 200),
                    "code": d.code,
                    "reason": printable(d.reason, 1000),
                    "source": d.source,
                }
                for d in letters[:limit]
            ]
        )
        return
    counts = Counter(d.code for d in letters)
    typer.echo(
        f"{len(letters)} dead letter(s) in {settings.dlq_topic}"
        + (": " + ", ".join(f"{c} {n}" for c, n in counts.most_common()) if counts else "")
    )
    for d in letters[:limit]:
        typer.echo(f"{d.position:>10}  {d.refused_at:%Y-%m-%d %H:%M:%S}Z  {described(d)}")


@deadletters_app.command("replay")
@friendly_errors
def replay(
    code: CodeOption = None,
    position: Annotated[
        list[str] | None,
        typer.Option("--position", help="one dead letter, PARTITION:OFFSET as `list` shows it (repeat)"),
    ] = None,
    since: SinceOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be sent, send nothing")] = False,
) -> None:
    """Send refused records to the results topic again, once their cause is repaired (a constraint fixed, a
    migration applied). Harmless to repeat: stored revisions are not stored twice, and a record still refused comes
    back to the dead-letter topic with its reason."""
    from streams.dead_letters import distinct, read_dead_letters, send_again

    wanted = _positions(position)
    if not code and not wanted:
        raise typer.BadParameter("choose what to send again: --code (e.g. database) or --position", param_hint="--code")
    settings = get_settings()
    letters = list(read_dead_letters(settings, since=_since(since)))
    missing = wanted - {(d.partition, d.offset) for d in letters}
    if missing:
        raise typer.BadParameter(
            f"no dead letter at {', '.join(f'{p}:{o}' for p, o in sorted(missing))}"
            + (" since that day" if since else ""),
            param_hint="--position",
        )
    # A record refused again after a replay is a second dead letter of it: each record is sent once.
    chosen = distinct(d for d in letters if (code and d.code in code) or (d.partition, d.offset) in wanted)
    if dry_run:
        typer.echo(f"would send {len(chosen)} record(s) to {settings.results_topic} again")
        return
    sent = send_again(settings, chosen)
    typer.echo(f"sent {sent} record(s) to {settings.results_topic} again; refused ones return to {settings.dlq_topic}")
