"""``qsmon tokens create|list|revoke`` (scoped API tokens, stored hashed) and ``qsmon serve api`` (the read API)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli._common import friendly_errors, print_json
from qsmon.settings import get_settings

tokens_app = typer.Typer(help="API tokens with scopes: ingest, read, public, admin.", no_args_is_help=True)


@tokens_app.command("create")
@friendly_errors
def create(
    name: Annotated[str, typer.Option(help="who or what uses it, e.g. 省局统计系统")],
    scope: Annotated[list[str], typer.Option(help="ingest, read, public or admin; repeat for several")],
    rate: Annotated[int, typer.Option(help="requests a minute before 429", min=1, max=100_000)] = 600,
) -> None:
    """Create a token and print it once: only its hash is stored."""
    from qsmon.storage import connect
    from qsmon.tokens import Scope, create_token

    try:
        scopes = {Scope(s) for s in scope}
    except ValueError:
        raise typer.BadParameter(f"scopes are {', '.join(s.value for s in Scope)}") from None
    with connect(get_settings().dsn) as conn:
        token, secret = create_token(conn, name, scopes, rate)
    typer.echo(f"token #{token.id} ({name}; {', '.join(sorted(scopes))}; {rate}/min): {secret}")
    typer.echo("store it now: it is not shown again", err=True)


@tokens_app.command("list")
@friendly_errors
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every token: id, name, scopes, rate, created and revoked (never the secret)."""
    from qsmon.storage import connect
    from qsmon.tokens import list_tokens

    with connect(get_settings().dsn) as conn:
        rows: list[dict[str, Any]] = [
            {"id": t.id, "name": t.name, "scopes": sorted(t.scopes), "rate_per_minute": t.rate_per_minute,
             "created_at": t.created_at.isoformat() if t.created_at else None,
             "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None} for t in list_tokens(conn)]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(f"#{r['id']:<5} {r['name']:<24} {','.join(r['scopes']):<20} {r['rate_per_minute']}/min"
                   + (f"  revoked {r['revoked_at']}" if r["revoked_at"] else ""))


@tokens_app.command("revoke")
@friendly_errors
def revoke(token_id: int) -> None:
    """Revoke a token: refused everywhere within 30 seconds (the services' cache; see qsmon.tokens.GRACE_SECONDS)."""
    from qsmon.storage import connect
    from qsmon.tokens import revoke_token

    with connect(get_settings().dsn) as conn:
        revoke_token(conn, token_id)
    typer.echo(f"token #{token_id} revoked")


def serve_api(
    host: Annotated[str | None, typer.Option(help="bind address (default QSMON_API_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default QSMON_API_PORT)")] = None,
) -> None:
    """The read API: figures, alerts, failures and cases as JSON, CSV or xlsx, for scoped tokens (OpenAPI at
    /docs)."""
    import uvicorn

    from qsmon.logs import configure_logging

    settings = get_settings()
    configure_logging("INFO", settings.log_format)
    uvicorn.run("readapi.app:app_from_settings", factory=True, workers=settings.api_workers,
                host=host or settings.api_host, port=port or settings.api_port, log_config=None, access_log=False,
                timeout_keep_alive=30)
