"""``qsmon results history SAMPLE``: every stored revision of a sample and who sent it (issue #31)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli._common import friendly_errors, print_json
from qsmon.settings import get_settings

results_app = typer.Typer(help="Stored results: a sample's revisions and their senders.", no_args_is_help=True)

# The sender id of a scoped token names the token; the token's name says whose it is.
_HISTORY = """
SELECT r.revision, r.sampled_at, r.reported_at, r.verdict, r.region_code, r.category, r.lab, r.source, r.sender,
    t.name AS token_name, r.stored_at, r.kafka_partition, r.kafka_offset
FROM inspection_results r
LEFT JOIN api_tokens t ON r.sender LIKE 'token:%%' AND t.id::text = substr(r.sender, 7)
WHERE r.sample_id = %s
ORDER BY r.revision, r.stored_at
"""


@results_app.command("history")
@friendly_errors
def history(sample_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every stored revision of SAMPLE_ID, oldest first, with its sender (token, import job, simulator)."""
    from qsmon.storage import connect

    with connect(get_settings().dsn) as conn:
        current = conn.execute(
            "SELECT revision, sender, created_by FROM sample_current WHERE sample_id = %s", (sample_id,)
        ).fetchone()
        rows: list[dict[str, Any]] = [
            {
                "revision": rev,
                "sampled_at": sampled.isoformat(),
                "reported_at": reported.isoformat(),
                "verdict": verdict,
                "region_code": region,
                "category": category,
                "lab": lab,
                "source": source,
                "sender": sender,
                "token_name": token_name,
                "stored_at": stored.isoformat(),
                "position": f"{partition}:{offset}",
            }
            for (
                rev,
                sampled,
                reported,
                verdict,
                region,
                category,
                lab,
                source,
                sender,
                token_name,
                stored,
                partition,
                offset,
            ) in conn.execute(_HISTORY, (sample_id,))
        ]
    if as_json:
        print_json(
            {
                "sample_id": sample_id,
                "current_revision": current[0] if current else None,
                "created_by": current[2] if current else None,
                "revisions": rows,
            }
        )
        return
    if not rows:
        typer.secho(f"no stored result for sample {sample_id}", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(1)
    for r in rows:
        who = r["sender"] or "(not recorded)"
        if r["token_name"]:
            who += f" ({r['token_name']})"
        typer.echo(
            f"rev {r['revision']:<4} {r['verdict']:<5} {r['region_code']} lab={r['lab'] or '-'}"
            f" source={r['source']} sender={who} stored {r['stored_at']}"
        )
    if current is not None:
        typer.echo(
            f"current: revision {current[0]}, sent by {current[1] or '(not recorded)'};"
            f" created by {current[2] or '(not recorded)'}"
        )
