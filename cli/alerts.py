"""``qsmon alerts …`` and ``qsmon status``: the plan indicators as the bureau watches them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from cli._common import friendly_errors, print_json
from qsmon.settings import get_settings

alerts_app = typer.Typer(help="Plan indicators evaluated live; alerts and notifications.", no_args_is_help=True)

_STATE_MARK = {"ok": "✓", "warning": "!", "critical": "✗", "insufficient_data": "·"}


@alerts_app.command("run")
def run(loglevel: Annotated[str, typer.Option(help="log level")] = "WARNING") -> None:
    """The alert service: reacts to the change feed, sweeps every QSMON_ALERTS_SWEEP_SECONDS, notifies."""
    from alerts.service import run_service
    from qsmon.logs import configure_logging

    settings = get_settings()
    configure_logging(loglevel, settings.log_format)
    run_service(settings)


@alerts_app.command("evaluate")
@friendly_errors
def evaluate_once() -> None:
    """Evaluate every indicator once now (what the service's sweep does) and print the transitions."""
    from alerts.service import build_engine

    engine = build_engine(get_settings())
    try:
        events = engine.sweep()
    finally:
        engine.close()
    for event in events:
        e = event.evaluation
        typer.echo(
            f"alert {event.alert_id} {event.transition.value}: {e.plan_id}/{e.indicator_id} "
            f"{e.scope.region_code} {e.window} value={e.value if e.value is None else round(e.value, 2)}"
        )
    typer.echo(f"{len(events)} transitions")


@alerts_app.command("list")
@friendly_errors
def list_alerts(
    state: Annotated[str, typer.Option(help="firing | all")] = "firing",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Alerts with their figures; `--state all` includes resolved ones."""
    from qsmon.regions import name_of
    from qsmon.storage import connect

    where = "" if state == "all" else "WHERE status = 'firing'"
    settings = get_settings()
    zone = ZoneInfo(settings.timezone)  # times as the plans count them
    with connect(settings.dsn) as conn:
        rows = conn.execute(
            "SELECT id, status, severity, plan_id, indicator_id, region_code, subcategory, window_name, value,"
            f" target, tested, failed, opened_at, resolved_at, acknowledged_by FROM alerts {where}"
            " ORDER BY opened_at DESC"
        ).fetchall()
    items = [
        dict(
            zip(
                (
                    "id",
                    "status",
                    "severity",
                    "plan",
                    "indicator",
                    "region",
                    "subcategory",
                    "window",
                    "value",
                    "target",
                    "samples",
                    "failed",
                    "opened_at",
                    "resolved_at",
                    "acknowledged_by",
                ),
                r,
                strict=True,
            )
        )
        for r in rows
    ]
    if as_json:
        print_json(items)
        return
    for a in items:
        value = "—" if a["value"] is None else f"{a['value']:.2f}"
        typer.echo(
            f"#{a['id']:<5} {a['status']:<8} {a['severity']:<8} {a['plan']}/{a['indicator']} "
            f"{name_of(a['region'])} {a['window']} value={value} target={a['target']} "
            f"n={a['samples']} opened={a['opened_at'].astimezone(zone):%Y-%m-%d %H:%M}"
            + (f" ack={a['acknowledged_by']}" if a["acknowledged_by"] else "")
        )
    typer.echo(f"{len(items)} alerts")


@alerts_app.command("ack")
@friendly_errors
def ack(
    alert_ids: Annotated[list[int], typer.Argument(help="firing alerts to acknowledge")],
    by: Annotated[str, typer.Option(help="who acknowledges (named in every later message)")] = "operator",
) -> None:
    """Acknowledge firing alerts: no reminders until their state or severity changes (recorded in their history)."""
    from alerts.acks import acknowledge
    from qsmon import clock
    from qsmon.storage import connect

    with connect(get_settings().dsn) as conn:
        done = acknowledge(conn, alert_ids, by, clock.now())
    already = sorted(set(alert_ids) - set(done))
    typer.echo(
        f"acknowledged by {by}: {', '.join(f'#{i}' for i in done) or 'none'}"
        + (f" (already acknowledged or not firing: {', '.join(f'#{i}' for i in already)})" if already else "")
    )


@alerts_app.command("ack-link")
@friendly_errors
def ack_link(
    link: Annotated[str, typer.Argument(help="the acknowledge link of a robot message, or its t=… token")],
    by: Annotated[str, typer.Option(help="who acknowledges")],
) -> None:
    """Use a message's acknowledge link from the shell (once, before it expires), as its button would."""
    from urllib.parse import parse_qs, urlsplit

    from alerts.acks import redeem, verify
    from qsmon import clock
    from qsmon.exceptions import ConfigError
    from qsmon.storage import connect

    settings = get_settings()
    if settings.ack_secret is None:
        raise ConfigError("acknowledge links are not enabled: set QSMON_ACK_SECRET (or QSMON_ACK_SECRET_FILE)")
    token = (parse_qs(urlsplit(link).query).get("t") or [link])[0]
    claim = verify(settings.ack_secret.get_secret_value(), token, clock.now())
    with connect(settings.dsn) as conn:
        done = redeem(conn, claim, by, clock.now())
    typer.echo(f"acknowledged by {by}: {', '.join(f'#{i}' for i in done) or 'none (already acknowledged)'}")


@alerts_app.command("silence")
@friendly_errors
def silence(
    until: Annotated[str, typer.Option(help="ISO time the silence ends, e.g. 2026-12-01T08:00+08:00")],
    by: Annotated[str, typer.Option(help="who silences (recorded)")],
    reason: Annotated[str, typer.Option(help="why (recorded)")],
    plan: Annotated[str | None, typer.Option(help="plan id (default: any)")] = None,
    indicator: Annotated[str | None, typer.Option(help="indicator id (default: any)")] = None,
    region: Annotated[str | None, typer.Option(help="GB/T 2260 code; a city silences exactly its counties")] = None,
    window: Annotated[str | None, typer.Option(help="window, e.g. rolling_30d or no_data (default: any)")] = None,
    severity: Annotated[str | None, typer.Option(help="info | warning | critical (default: any)")] = None,
    announce_recoveries: Annotated[bool, typer.Option(help="announce, when it ends, what recovered during it")] = False,
) -> None:
    """Stop notifications matching every label given until a time; alerts are still recorded, and a firing one is
    announced when the silence ends (with --announce-recoveries, so is one that recovered meanwhile)."""
    from qsmon.storage import connect

    ends = datetime.fromisoformat(until)
    if ends.tzinfo is None:
        raise typer.BadParameter("--until needs an offset, e.g. +08:00")
    if severity not in (None, "info", "warning", "critical"):
        raise typer.BadParameter("--severity must be info, warning or critical")
    with connect(get_settings().dsn) as conn:
        row = conn.execute(
            "INSERT INTO silences (plan_id, indicator_id, region_code, window_name, severity, until, reason,"
            " created_by, announce_recoveries) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (plan, indicator, region, window, severity, ends, reason, by, announce_recoveries),
        ).fetchone()
    typer.echo(f"silence #{row[0] if row else '?'} until {ends.astimezone(UTC):%Y-%m-%d %H:%M} UTC")


@alerts_app.command("silences")
@friendly_errors
def silences(
    every: Annotated[bool, typer.Option("--all", help="also the ended and expired ones")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The silences in force (or all of them), with who set them and why."""
    from qsmon.storage import connect

    where = "" if every else "WHERE until > now() AND expired_at IS NULL"
    with connect(get_settings().dsn) as conn:
        rows = conn.execute(
            "SELECT id, plan_id, indicator_id, region_code, window_name, severity, until, expired_at, created_by,"
            f" created_at, reason FROM silences {where} ORDER BY id"
        ).fetchall()
    keys = (
        "id",
        "plan",
        "indicator",
        "region",
        "window",
        "severity",
        "until",
        "expired_at",
        "by",
        "created_at",
        "reason",
    )
    items = [dict(zip(keys, r, strict=True)) for r in rows]
    if as_json:
        print_json(items)
        return
    for i in items:
        labels = " ".join(f"{k}={i[k]}" for k in ("plan", "indicator", "region", "window", "severity") if i[k])
        ended = f" expired {i['expired_at']:%Y-%m-%d %H:%M}" if i["expired_at"] else ""
        typer.echo(
            f"#{i['id']:<4} {labels or '(everything)'} until {i['until']:%Y-%m-%d %H:%M}{ended}"
            f" by {i['by']}: {i['reason']}"
        )
    typer.echo(f"{len(items)} silences")


@alerts_app.command("unsilence")
@friendly_errors
def unsilence(silence_id: int) -> None:
    """End a silence now; what it hid and still fires is announced at the next sweep."""
    from qsmon.storage import connect

    with connect(get_settings().dsn) as conn:
        row = conn.execute(
            "UPDATE silences SET expired_at = now() WHERE id = %s AND expired_at IS NULL RETURNING id", (silence_id,)
        ).fetchone()
    if row is None:
        raise typer.BadParameter(f"no silence #{silence_id} in force")
    typer.echo(f"silence #{silence_id} expired")


@alerts_app.command("prometheus-rules")
@friendly_errors
def prometheus_rules(out: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None) -> None:
    """A Prometheus rules file from the plans (`promtool check rules` accepts it)."""
    from alerts.prom_rules import rules_yaml
    from qsmon.plans import presets

    text = rules_yaml(presets(get_settings().plans_dir).values())
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@friendly_errors
def status(
    plan: Annotated[str | None, typer.Option(help="one plan")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    forecast: Annotated[bool, typer.Option(help="also the year-end forecast of each plan in force (达标预测)")] = True,
) -> None:
    """Every indicator, scope and window: tested, failed, value, interval, target and state; then whether each
    plan's year will meet its targets."""
    from indicators.labels import label
    from qsmon import clock
    from qsmon.plans import presets
    from qsmon.regions import name_of
    from qsmon.storage import connect

    with connect(get_settings().dsn) as conn:
        rows = conn.execute(
            "SELECT plan_id, indicator_id, region_code, subcategory, window_name, first_day, last_day, tested,"
            " failed, value, low, high, op, target, previous_value, state, evaluated_at FROM indicator_evaluations"
            " WHERE %(plan)s::text IS NULL OR plan_id = %(plan)s"
            " ORDER BY plan_id, indicator_id, length(region_code), region_code, subcategory, window_name",
            {"plan": plan},
        ).fetchall()
    keys = (
        "plan",
        "indicator",
        "region",
        "subcategory",
        "window",
        "first_day",
        "last_day",
        "tested",
        "failed",
        "value",
        "low",
        "high",
        "op",
        "target",
        "previous_value",
        "state",
        "evaluated_at",
    )
    items = [dict(zip(keys, r, strict=True)) for r in rows]
    if as_json:
        print_json(items)
        return
    plans = presets(get_settings().plans_dir)
    today = clock.today(get_settings().timezone)
    shown_plan = None
    for i in items:
        if i["plan"] != shown_plan and i["plan"] in plans:
            shown_plan, known = i["plan"], plans[i["plan"]]
            extension = f", in force until {known.in_force_until}" if known.in_force_until else ""
            typer.secho(
                f"{known.id} {known.title}: period {known.period.start} – {known.period.end}{extension}"
                f" — {label(known.status(today))}",
                bold=True,
            )
        value = "—" if i["value"] is None else f"{i['value']:.2f}"
        target = f"{i['op']} {i['target']:g}" if i["target"] is not None else f"{i['op']} (prev "
        if i["target"] is None:
            target += "—)" if i["previous_value"] is None else f"{i['previous_value']:.2f})"
        typer.echo(
            f"{_STATE_MARK[i['state']]} {i['plan']}/{i['indicator']:<34} {name_of(i['region']):<8}"
            f" {i['subcategory'] or '':<8} {i['window']:<16} n={i['tested']:<6} fail={i['failed']:<5}"
            f" {value:>7} [{i['low'] or 0:.1f}–{i['high'] or 0:.1f}] target {target}  {i['state']}"
        )
    if not items:
        typer.echo("no evaluations yet: run `qsmon alerts evaluate` or `qsmon alerts run`")
    if forecast:
        forecast_lines([p for p in plans.values() if p.in_force(today) and plan in (None, p.id)], today)


def forecast_lines(plans: list[Any], today: date) -> None:
    """达标预测 of each plan in force, for its jurisdiction (the read API and the monthly report have the regions)."""
    from indicators.counting import shown, shown_text
    from indicators.pace import forecast_rows
    from qsmon.storage import connect

    settings = get_settings()
    with connect(settings.dsn) as conn:
        for plan in plans:
            jurisdiction = plan.jurisdiction.code
            rows = [
                r
                for r in forecast_rows(conn, plan, today, timezone=settings.timezone, region=jurisdiction)
                if not r["subcategory"] and r["tested"]
            ]
            if not rows:
                continue
            typer.secho(f"{plan.id} 年度达标预测 ({today.year}, as of {today})", bold=True)
            for r in rows:
                chance = (
                    "已无法达标"
                    if r["outcome"] == "lost"
                    else "已确定达标"
                    if r["outcome"] == "met"
                    else f"达标概率 {r['probability'] * 100:.0f}%"
                )
                needed = f" 其余需达 {r['needed']:.2f}%" if r["outcome"] == "open" and r["needed"] is not None else ""
                typer.echo(
                    f"  {r['indicator_id']:<34} 本年 {shown_text(r['so_far'])} n={r['tested']:<6} 预计年底"
                    f" {shown_text(r['projected'])} [{shown(r['low'])}–{shown(r['high'])}]"
                    f" 目标 {r['op']} {r['target']:g}"
                    f"  {chance}{needed}  ({r['planned_text']})"
                )
