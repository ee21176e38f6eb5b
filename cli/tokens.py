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
    region: Annotated[
        list[str] | None,
        typer.Option(
            help="GB/T 2260 code it may write and whose cases it may record (a city or province covers the codes below;"
            " 000000 everywhere); repeat for several. Required with --scope ingest"
        ),
    ] = None,
    category: Annotated[list[str] | None, typer.Option(help="category it may write; repeat (default: any)")] = None,
    lab: Annotated[str | None, typer.Option(help="the lab it speaks for: every record's lab must be this")] = None,
    source: Annotated[str | None, typer.Option(help="every record's source must be this")] = None,
    records_per_minute: Annotated[
        int | None,
        typer.Option(help="records a minute it may send (default QSMON_INGEST_RECORDS_PER_MINUTE); beyond: 429", min=1),
    ] = None,
) -> None:
    """Create a token and print it once: only its hash is stored. An ingest token is issued to a named sender
    (NAME, and --lab when it is a lab's) for the regions and categories it may write."""
    from qsmon.provenance import WriteScope
    from qsmon.regions import NATION, regions
    from qsmon.storage import connect
    from qsmon.tokens import Scope, create_token
    from qsmon.vocab import Category

    try:
        scopes = {Scope(s) for s in scope}
    except ValueError:
        raise typer.BadParameter(f"scopes are {', '.join(s.value for s in Scope)}") from None
    if Scope.INGEST in scopes and not region:
        raise typer.BadParameter("an ingest token needs --region (000000 for everywhere)")
    unknown = [r for r in region or () if r != NATION and r not in regions()]
    if unknown:
        raise typer.BadParameter(f"not GB/T 2260 codes: {', '.join(unknown)}")
    try:
        categories = tuple(Category(c).value for c in category) if category else None
    except ValueError:
        raise typer.BadParameter(f"categories are {', '.join(c.value for c in Category)}") from None
    write = WriteScope(lab, source, None if not region or NATION in region else tuple(region), categories)
    with connect(get_settings().dsn) as conn:
        token, secret = create_token(conn, name, scopes, rate, write, records_per_minute)
    limits = "; ".join(
        f"{k} {v}"
        for k, v in (
            ("lab", lab),
            ("source", source),
            ("regions", ",".join(write.regions or ()) or None),
            ("categories", ",".join(categories or ()) or None),
        )
        if v
    )
    typer.echo(
        f"token #{token.id} ({name}; {', '.join(sorted(scopes))}; {rate}/min"
        + (f"; {limits}" if limits else "")
        + f"): {secret}"
    )
    typer.echo("store it now: it is not shown again", err=True)


@tokens_app.command("list")
@friendly_errors
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every token: id, name, scopes, rate, created and revoked (never the secret)."""
    from qsmon.storage import connect
    from qsmon.tokens import list_tokens

    with connect(get_settings().dsn) as conn:
        rows: list[dict[str, Any]] = [
            {
                "id": t.id,
                "name": t.name,
                "scopes": sorted(t.scopes),
                "rate_per_minute": t.rate_per_minute,
                "lab": t.write_scope.lab,
                "source": t.write_scope.source,
                "regions": list(t.write_scope.regions) if t.write_scope.regions is not None else None,
                "categories": list(t.write_scope.categories) if t.write_scope.categories is not None else None,
                "created_at": t.created_at.isoformat() if t.created_at else None,
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in list_tokens(conn)
        ]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(
            f"#{r['id']:<5} {r['name']:<24} {','.join(r['scopes']):<20} {r['rate_per_minute']}/min"
            + (f"  regions {','.join(r['regions'])}" if r["regions"] else "")
            + (f"  revoked {r['revoked_at']}" if r["revoked_at"] else "")
        )


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
    uvicorn.run(
        "readapi.app:app_from_settings",
        factory=True,
        workers=settings.api_workers,
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=30,
    )
