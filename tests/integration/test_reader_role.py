"""Grafana's role, used as a hostile viewer would: any SQL it may send must not hurt the pipeline or read secrets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dashboards.queries import READER_TABLES
from qsmon import clock
from qsmon.settings import Settings
from streams.records import SourceRecord, classify
from streams.store import ResultStore
from tests.factories import result
from tests.workers import reader_dsn

pytestmark = pytest.mark.integration


@pytest.fixture
def reader(settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(reader_dsn(settings.dsn), autocommit=True) as conn:
        yield conn


def refused(conn: psycopg.Connection, sql: str) -> bool:
    try:
        with conn.transaction():
            conn.execute(sql)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


class TestWhatTheReaderMayRead:
    def test_its_grants_are_exactly_the_dashboards_tables(self, reader: psycopg.Connection, db_schema: str) -> None:
        granted = {
            name
            for (name,) in reader.execute(
                "SELECT table_name FROM information_schema.role_table_grants"
                " WHERE grantee = 'qsmon_grafana' AND table_schema = %s AND privilege_type = 'SELECT'",
                (db_schema,),
            )
        }
        assert granted == READER_TABLES
        other = reader.execute(
            "SELECT privilege_type FROM information_schema.role_table_grants"
            " WHERE grantee = 'qsmon_grafana' AND privilege_type <> 'SELECT'"
        ).fetchall()
        assert other == []

    @pytest.mark.parametrize(
        "table",
        [
            "notification_outbox",
            "stream_offsets",
            "inspection_results",
            "sample_current",
            "silences",
            "schema_migrations",
        ],
    )
    def test_tables_outside_the_dashboards_are_unreadable(self, reader: psycopg.Connection, table: str) -> None:
        assert refused(reader, f"SELECT * FROM {table} LIMIT 1")

    def test_the_results_history_cannot_be_read_through_its_chunks(
        self, settings: Settings, reader: psycopg.Connection, db: psycopg.Connection
    ) -> None:
        store = ResultStore(settings.dsn, group="g", topic="t")
        records = [SourceRecord(0, 0, b"C-1", result("C-1").to_json())]
        store.write(classify(records, clock.now())[0], records)
        store.close()
        chunks = db.execute(
            "SELECT chunk_schema || '.' || chunk_name FROM timescaledb_information.chunks"
            " WHERE hypertable_name = 'inspection_results' AND hypertable_schema = current_schema()"
        ).fetchall()
        assert chunks
        for (chunk,) in chunks:
            assert refused(reader, f"SELECT * FROM {chunk}")


class TestWhatTheReaderCannotDo:
    @pytest.mark.parametrize(
        "sql",
        [
            "SELECT pg_advisory_lock(1)",
            "SELECT pg_advisory_lock(1, 2)",
            "SELECT pg_advisory_lock_shared(1)",
            "SELECT pg_try_advisory_lock(1)",
            "SELECT pg_advisory_xact_lock(hashtext('results'), 0)",
            "SELECT pg_try_advisory_xact_lock_shared(1, 2)",
            "SELECT lo_create(0)",
            "SELECT lo_from_bytea(0, 'x')",
            "SELECT lo_creat(-1)",
            "SELECT pg_notify('qsmon_outbox', 'x')",
            "CREATE TEMP TABLE t (x int)",
            "SET ROLE qsmon",
            "SELECT * FROM plan_indicators FOR UPDATE",
            "SELECT * FROM alerts FOR KEY SHARE",
            "LOCK TABLE alerts IN ROW EXCLUSIVE MODE",
            "SELECT pg_logical_emit_message(false, 'x', 'x')",
            "SELECT txid_current()",
            "SELECT pg_current_xact_id()",
            "SELECT show_chunks('rollup_daily')",
            "SELECT time_bucket('1 day', now())",
            # DDL that would queue an exclusive lock before checking ownership: refused before it runs.
            "CREATE RULE r AS ON INSERT TO rollup_daily DO ALSO NOTHING",
            "CREATE INDEX ON rollup_daily (day)",
            "CREATE TRIGGER t BEFORE INSERT ON rollup_daily FOR EACH ROW"
            " EXECUTE FUNCTION suppress_redundant_updates_trigger()",
        ],
    )
    def test_it_cannot_lock_store_notify_write_or_become_another_role(
        self, reader: psycopg.Connection, sql: str
    ) -> None:
        reader.execute("SET default_transaction_read_only = off")  # defaults are lifted first: privileges hold
        assert refused(reader, sql)

    def test_it_can_connect_to_its_own_database_only(self, settings: Settings) -> None:
        params = conninfo_to_dict(reader_dsn(settings.dsn))
        for database in ("postgres", "template1"):
            with pytest.raises(psycopg.OperationalError, match="permission denied"):
                psycopg.connect(make_conninfo("", **(params | {"dbname": database}))).close()

    def test_its_sessions_default_to_timeouts_and_read_only(self, reader: psycopg.Connection) -> None:
        shown = {
            name: reader.execute(f"SHOW {name}").fetchone()
            for name in (
                "statement_timeout",
                "idle_in_transaction_session_timeout",
                "idle_session_timeout",
                "default_transaction_read_only",
                "temp_file_limit",
            )
        }
        assert shown == {
            "statement_timeout": ("30s",),
            "idle_in_transaction_session_timeout": ("1min",),
            "idle_session_timeout": ("15min",),
            "default_transaction_read_only": ("on",),
            "temp_file_limit": ("1GB",),
        }
        assert refused(reader, "SET temp_file_limit = -1")

    @pytest.mark.slow
    def test_a_query_past_the_statement_timeout_is_cancelled(self, reader: psycopg.Connection) -> None:
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            reader.execute("SELECT pg_sleep(60)")
        assert 29 < time.monotonic() - started < 35


class TestTheReaderCannotStallStorage:
    def test_ddl_is_refused_before_it_waits_for_a_lock(
        self, settings: Settings, reader: psycopg.Connection, db: psycopg.Connection
    ) -> None:
        """CREATE RULE locks the table before checking ownership; the event trigger refuses it first."""
        holder = psycopg.connect(settings.dsn)  # the app holds a lock the rule would wait for
        holder.execute("LOCK TABLE rollup_daily IN ACCESS SHARE MODE")
        try:
            reader.execute("SET default_transaction_read_only = off")
            reader.execute("SET lock_timeout = 0")
            started = time.monotonic()
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="qsmon_grafana may not run CREATE RULE"):
                reader.execute("CREATE RULE r AS ON INSERT TO rollup_daily DO ALSO NOTHING")
            assert time.monotonic() - started < 1
        finally:
            holder.close()

    def test_results_are_stored_while_it_holds_every_lock_it_can_get(
        self, settings: Settings, db: psycopg.Connection
    ) -> None:
        holder = psycopg.connect(reader_dsn(settings.dsn))
        holder.execute("SET statement_timeout = 0")  # a hostile viewer lifts the defaults first
        holder.execute("SET lock_timeout = 0")
        for table in sorted(READER_TABLES):
            holder.execute(f"LOCK TABLE {table} IN ACCESS SHARE MODE")
            holder.execute(f"SELECT * FROM {table} LIMIT 1")
        assert holder.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        store = ResultStore(settings.dsn, group="g", topic="t")
        outcome: list[int] = []

        def write() -> None:
            events = [
                result(
                    f"L-{i}",
                    verdict="fail" if i % 10 == 0 else "pass",
                    at=datetime(2021 + i % 5, 1 + i % 12, 3, tzinfo=UTC),
                )
                for i in range(100)
            ]
            records = [SourceRecord(0, i, e.key, e.to_json()) for i, e in enumerate(events)]
            outcome.append(store.write(classify(records, clock.now())[0], records).stored)

        writer = threading.Thread(target=write)
        try:
            writer.start()
            writer.join(timeout=10)
            assert not writer.is_alive(), "storage waited on a lock the reader holds"
        finally:
            holder.close()
            writer.join(timeout=30)
            store.close()
        assert outcome == [100]  # new chunks (five years) and every rollup written
        assert db.execute("SELECT count(*) FROM sample_current").fetchone() == (100,)
