"""Retention on the real TimescaleDB: old history chunks, delivered notifications and old alert events go; current
verdicts, rollups and anything still in use stay (issue #21)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from qsmon import clock
from qsmon.settings import Settings
from qsmon.storage.retention import apply_retention, earliest_rebuild_day
from streams.rebuild import differences
from streams.records import SourceRecord, classify
from streams.store import ResultStore
from tests.factories import result

pytestmark = pytest.mark.integration


def one(db: psycopg.Connection, sql: str) -> int:
    row = db.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def add_alert(db: psycopg.Connection, status: str, age: timedelta) -> int:
    at = clock.now() - age
    alert_id = one(
        db,
        f"""INSERT INTO alerts (plan_id, indicator_id, region_code, subcategory, window_name, status,
        severity, opened_at, updated_at, resolved_at) VALUES ('p', 'i', '421000', '', 'rolling_30d', '{status}',
        'warning', '{at.isoformat()}', '{at.isoformat()}', {f"'{at.isoformat()}'" if status == "resolved" else "NULL"})
        RETURNING id""",
    )
    event_id = one(
        db,
        f"INSERT INTO alert_events (alert_id, at, kind) VALUES ({alert_id}, '{at.isoformat()}', 'opened') RETURNING id",
    )
    db.execute(
        "INSERT INTO notification_outbox (alert_id, event_id, channel, idempotency_key, payload, created_at,"
        " delivered_at) VALUES (%s, %s, 'duty', %s, '{}', %s, %s)",
        (alert_id, event_id, f"k-{alert_id}", at, at),
    )
    return alert_id


def test_retention_keeps_what_is_in_use_and_drops_the_rest(settings: Settings, db: psycopg.Connection) -> None:
    now = clock.now()
    old = [result(f"OLD-{i}", at=now - timedelta(days=800 + i)) for i in range(30)]
    recent = [
        result(f"NEW-{i}", verdict="fail" if i % 5 == 0 else "pass", at=now - timedelta(days=3 + i)) for i in range(30)
    ]
    store = ResultStore(settings.dsn, group=settings.worker_group, topic=settings.results_topic)
    records = [SourceRecord(0, i, r.key, r.to_json()) for i, r in enumerate(old + recent)]
    store.write(classify(records, now)[0], records)
    store.close()
    resolved_long_ago = add_alert(db, "resolved", timedelta(days=120))
    still_firing = add_alert(db, "firing", timedelta(days=120))
    rollups_before = one(db, "SELECT sum(tested) FROM rollup_daily")

    keep = settings.model_copy(
        update={"retention_history_days": 365, "retention_alert_events_days": 60, "retention_outbox_days": 90}
    )
    outcome = apply_retention(db, keep)

    assert outcome.history_chunks_dropped >= 1
    assert one(db, "SELECT count(*) FROM inspection_results") == 30  # the recent ones
    assert one(db, "SELECT count(*) FROM sample_current") == 60  # verdicts stay
    assert one(db, "SELECT sum(tested) FROM rollup_daily") == rollups_before == 60  # dashboards keep every month
    assert one(db, f"SELECT count(*) FROM alert_events WHERE alert_id = {resolved_long_ago}") == 0
    assert one(db, f"SELECT count(*) FROM alert_events WHERE alert_id = {still_firing}") == 1
    assert one(db, f"SELECT count(*) FROM notification_outbox WHERE alert_id = {still_firing}") == 0  # delivered
    assert outcome.alert_events_deleted == 1
    # A rebuild from where history still is changes nothing; the cut is the database's, not the settings'.
    earliest = earliest_rebuild_day(db, settings, now.date())
    assert settings.retention_history_days is None
    assert (
        earliest
        == date((now.date() - timedelta(days=365)).year + 1, 1, 1)
        == earliest_rebuild_day(db, keep, now.date())
    )
    assert differences(db, earliest) == []

    again = apply_retention(db, keep)
    assert (again.history_chunks_dropped, again.outbox_rows_deleted, again.alert_events_deleted) == (0, 0, 0)


def test_without_history_retention_a_rebuild_reaches_back_to_the_start(
    settings: Settings, db: psycopg.Connection
) -> None:
    assert earliest_rebuild_day(db, settings, date(2026, 11, 30)) == date.min
    kept = settings.model_copy(update={"retention_history_days": 400})
    assert earliest_rebuild_day(db, kept, date(2026, 11, 30)) == date(2026, 1, 1)  # the cut is 2025-10-26
    assert datetime(2025, 10, 26, tzinfo=UTC).date() == date(2026, 11, 30) - timedelta(days=400)


def test_history_dropped_before_the_cut_was_recorded_is_found_by_migration_023(
    settings: Settings, db: psycopg.Connection
) -> None:
    from importlib import resources

    now = clock.now()
    kept = [result(f"KEPT-{i}", at=now - timedelta(days=3 + i)) for i in range(5)]
    store = ResultStore(settings.dsn, group=settings.worker_group, topic=settings.results_topic)
    records = [SourceRecord(0, i, r.key, r.to_json()) for i, r in enumerate(kept)]
    store.write(classify(records, now)[0], records)
    store.close()
    backfill = resources.files("qsmon.storage.migrations").joinpath("023_history_cut_before_022.sql")
    db.execute(backfill.read_text(encoding="utf-8").encode())
    assert db.execute("SELECT count(*) FROM history_cut").fetchone() == (0,)  # history reaches as far as rollups
    # A month of rollups whose history retention dropped before it was recorded.
    db.execute(
        "INSERT INTO rollup_daily (day, category, subcategory, sampling_type, stage, region_code, grade,"
        " tested, passed, failed) SELECT day, 'food', '', 'supervisory', 'distribution', '420000', '', 1, 1, 0"
        " FROM generate_series(now() - interval '800 days', now() - interval '770 days', '1 day') day"
    )
    db.execute(backfill.read_text(encoding="utf-8").encode())
    assert earliest_rebuild_day(db, settings, now.date()) == date((now - timedelta(days=7)).year + 1, 1, 1)
