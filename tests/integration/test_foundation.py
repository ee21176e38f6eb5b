"""The foundation on the real stack: Kafka round trip, TimescaleDB, idempotent init."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from urllib.parse import quote

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pydantic import SecretStr

from qsmon.settings import Settings
from qsmon.storage import apply_migrations, connect, pending_migrations
from qsmon.topics import ensure_topics, topic_specs
from tests.workers import reader_dsn, run_cli

pytestmark = pytest.mark.integration


class TestKafka:
    def test_a_record_produced_to_the_real_broker_is_consumed_back(self, settings: Settings) -> None:
        ensure_topics(settings)
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        sent = producer.send(settings.results_topic, key=b"S-1", value=b'{"hello": "kafka"}', partition=0)
        metadata = sent.get(timeout=30)
        producer.close()

        consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, consumer_timeout_ms=10_000)
        tp = TopicPartition(settings.results_topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, metadata.offset)
        record = next(iter(consumer))
        consumer.close()
        assert (record.key, record.value) == (b"S-1", b'{"hello": "kafka"}')

    def test_init_creates_every_topic_once_with_its_partition_count(self, settings: Settings) -> None:
        first = ensure_topics(settings)
        second = ensure_topics(settings)
        assert sorted(first) == sorted(spec.name for spec in topic_specs(settings))
        assert second == []
        consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
        assert consumer.partitions_for_topic(settings.results_topic) == set(range(settings.results_partitions))
        consumer.close()


class TestDatabase:
    def test_timescaledb_is_installed_and_results_are_a_hypertable(self, db: psycopg.Connection) -> None:
        version = db.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        assert version is not None
        assert version[0].startswith("2.")
        schema = db.execute("SELECT current_schema()").fetchone()
        hypertables = db.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_schema = %s",
            schema,
        ).fetchall()
        assert ("inspection_results",) in hypertables

    def test_local_day_of_a_timestamp_is_the_shanghai_calendar_day(self, db: psycopg.Connection) -> None:
        # 16:30 UTC on 1 March is 00:30 on 2 March in Shanghai: it counts for 2 March.
        row = db.execute(
            "SELECT ('2026-03-01T16:30:00Z'::timestamptz AT TIME ZONE 'Asia/Shanghai')::date,"
            " time_bucket('1 day', '2026-03-01T16:30:00Z'::timestamptz, 'Asia/Shanghai')"
            " = '2026-03-02T00:00:00+08:00'::timestamptz"
        ).fetchone()
        assert row == (date(2026, 3, 2), True)

    def test_migrating_twice_changes_nothing(self, settings: Settings, db: psycopg.Connection) -> None:
        before = db.execute("SELECT version, checksum, applied_at FROM schema_migrations").fetchall()
        with connect(settings.dsn) as conn:
            assert apply_migrations(conn) == []
            assert pending_migrations(conn) == []
        after = db.execute("SELECT version, checksum, applied_at FROM schema_migrations").fetchall()
        assert before == after
        assert len(after) >= 1

    def test_a_command_against_a_database_never_initialised_says_run_qsmon_init(
        self, stack: Settings, unique_name: Callable[[str], str]
    ) -> None:
        empty = unique_name("empty")
        with connect(stack.dsn, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{empty}"')
        try:
            bare = stack.model_copy(
                update={"database_url": SecretStr(f"{stack.dsn}?options={quote(f'-c search_path={empty}')}")}
            )
            for command in (("months", "list"), ("rollups", "rebuild"), ("retention", "run")):
                done = run_cli(bare, *command)
                assert done.returncode == 1, command
                assert "run `qsmon init`" in done.stderr, (command, done.stderr)
                assert "Traceback" not in done.stderr
        finally:
            with connect(stack.dsn, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{empty}" CASCADE')

    def test_migrations_create_the_result_tables(self, db: psycopg.Connection) -> None:
        tables = {
            r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()
        }
        assert {"inspection_results", "sample_current", "rollup_daily", "stream_offsets"} <= tables


class TestReferenceData:
    def test_plans_and_regions_are_synced_and_grafana_reads_but_cannot_write(
        self, settings: Settings, db: psycopg.Connection
    ) -> None:
        from qsmon.plans import presets
        from qsmon.storage.reference import sync_reference

        with connect(settings.dsn) as conn:
            assert sync_reference(conn, presets().values()) == 37
        row = db.execute(
            "SELECT name, target, categories FROM plan_indicators"
            " WHERE plan_id = 'jingzhou-2023' AND indicator_id = 'food-evaluative-pass'"
        ).fetchone()
        assert row == ("食品安全评价性抽检合格率", 98.5, ["food"])
        assert db.execute("SELECT name FROM regions WHERE code = '421083'").fetchone() == ("洪湖市",)
        with connect(reader_dsn(settings.dsn)) as reader:
            assert reader.execute("SELECT count(*) FROM plan_indicators").fetchone() == (37,)
            reader.execute("SET default_transaction_read_only = off")  # a default, not the boundary
            reader.commit()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute("DELETE FROM regions")
