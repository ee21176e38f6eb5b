"""``qsmon deadletters list|replay``: the records the worker refused, with their reasons, and sending them again."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time
from typing import Annotated

import typer

from cli._common import friendly_errors, print_json
from qsmon.settings import get_settings

deadletters_app = typer.Typer(help="Records the worker refused (the dead-letter topic): why, and sending them again.",
                              no_args_is_help=True)

CodeOption = Annotated[list[str] | None, typer.Option("--code", help="only this reason code (repeat for several), "
                                                                     "e.g. database, sampled_at, not_json")]
SinceOption = Annotated[str | None, typer.Option("--since", help="only those refused since this local day "
                                                                 "(YYYY-MM-DD)")]


def _since(day: str | None) -> datetime | None:
    if day is None:
        return None
    from zoneinfo import ZoneInfo

    try:
        return datetime.combine(date.fromisoformat(day), time(), ZoneInfo(get_settings().timezone))
    except ValueError:
        raise typer.BadParameter(f"{day} is not a day (YYYY-MM-DD)", param_hint="--since") from None


@deadletters_app.command("list")
@friendly_errors
def list_(
    code: CodeOption = None,
    since: SinceOption = None,
    limit: Annotated[int, typer.Option(help="show at most this many (the counts cover all)", min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Each dead letter: where it is, when it was refused, the sample, the reason code and the reason."""
    from streams.dead_letters import read_dead_letters

    settings = get_settings()
    letters = [d for d in read_dead_letters(settings, since=_since(since)) if not code or d.code in code]
    if as_json:
        print_json([{"position": d.position, "refused_at": d.refused_at.isoformat(), "key": (d.key or b"").decode(
            errors="replace"), "code": d.code, "reason": d.reason, "source": d.source} for d in letters[:limit]])
        return
    counts = Counter(d.code for d in letters)
    typer.echo(f"{len(letters)} dead letter(s) in {settings.dlq_topic}"
               + (": " + ", ".join(f"{c} {n}" for c, n in counts.most_common()) if counts else ""))
    for d in letters[:limit]:
        typer.echo(f"{d.position:>10}  {d.refused_at:%Y-%m-%d %H:%M:%S}Z  {(d.key or b'-').decode(errors='replace')}"
                   f"  [{d.code}] {d.reason[:200]}")
    if len(letters) > limit:
        typer.echo(f"... {len(letters) - limit} more (--limit)")


@deadletters_app.command("replay")
@friendly_errors
def replay(
    code: CodeOption = None,
    position: Annotated[list[str] | None, typer.Option("--position", help="one dead letter, PARTITION:OFFSET as "
                                                                          "`list` shows it (repeat)")] = None,
    since: SinceOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be sent, send nothing")] = False,
) -> None:
    """Send refused records to the results topic again, once their cause is repaired (a constraint fixed, a
    migration applied). Harmless to repeat: stored revisions are not stored twice, and a record still refused comes
    back to the dead-letter topic with its reason."""
    from streams.dead_letters import read_dead_letters, send_again

    if not code and not position:
        raise typer.BadParameter("choose what to send again: --code (e.g. database) or --position", param_hint="--code")
    settings = get_settings()
    chosen = [d for d in read_dead_letters(settings, since=_since(since))
              if (code and d.code in code) or (position and d.position in position)]
    if dry_run:
        typer.echo(f"would send {len(chosen)} record(s) to {settings.results_topic} again")
        return
    sent = send_again(settings, chosen)
    typer.echo(f"sent {sent} record(s) to {settings.results_topic} again; refused ones return to {settings.dlq_topic}")
