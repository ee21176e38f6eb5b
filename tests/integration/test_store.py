"""The batch store on the real TimescaleDB: exact rollups under duplicates, corrections and late data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from qsmon.exceptions import SchemaVersionError
from qsmon.schema import FailedItem, InspectionResult
from qsmon.settings import Settings
from qsmon.storage import apply_migrations, check_schema, connect
from qsmon.storage.migrate import bundled_migrations
from streams.exceptions import PartitionsRefusedError, RecordsOutOfOrderError
from streams.offsets import LogState, StoredOffset
from streams.rebuild import differences, rebuild
from streams.records import SourceRecord, classify
from streams.store import ResultStore
from tests.factories import BASE_TIME, result

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 1, tzinfo=UTC)


class Feed:
    """Feeds results to the store as Kafka would: consecutive offsets per partition."""

    def __init__(self, store: ResultStore) -> None:
        self.store = store
        self.next_offset: dict[int, int] = {}

    def records(self, results: Sequence[InspectionResult | bytes], partition: int = 0) -> list[SourceRecord]:
        out = []
        for item in results:
            offset = self.next_offset.get(partition, 0)
            self.next_offset[partition] = offset + 1
            value = item if isinstance(item, bytes) else item.to_json()
            key = None if isinstance(item, bytes) else item.key
            out.append(SourceRecord(partition, offset, key, value))
        return out

    def send(self, results: Sequence[InspectionResult | bytes], partition: int = 0) -> list[SourceRecord]:
        records = self.records(results, partition)
        self.replay(records)
        return records

    def replay(self, records: list[SourceRecord]) -> None:
        accepted, _ = classify(records, NOW)
        self.store.write(accepted, records)


@pytest.fixture
def store(settings: Settings) -> Iterator[ResultStore]:
    s = ResultStore(settings.dsn, group=settings.worker_group, topic=settings.results_topic)
    yield s
    s.close()


@pytest.fixture
def feed(store: ResultStore) -> Feed:
    return Feed(store)


def next_offsets(store: ResultStore) -> dict[int, int]:
    return {partition: row.next_offset for partition, row in store.stored_offsets().items()}


def totals(db: psycopg.Connection, **where: str) -> tuple[int, int, int]:
    clause = " AND ".join(f"{k} = %({k})s" for k in where) or "true"
    row = db.execute(
        f"SELECT coalesce(sum(tested),0), coalesce(sum(passed),0), coalesce(sum(failed),0)"
        f" FROM rollup_daily WHERE {clause}",
        where,
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


class TestExactRollups:
    def test_new_results_are_counted_by_verdict(self, feed: Feed, db: psycopg.Connection) -> None:
        feed.send([result("A"), result("B"), result("C", verdict="fail")])
        assert totals(db) == (3, 2, 1)
        assert differences(db) == []

    def test_a_redelivered_batch_changes_nothing(self, feed: Feed, db: psycopg.Connection) -> None:
        records = feed.send([result("A"), result("B", verdict="fail")])
        feed.replay(records)
        feed.replay(records[1:])
        assert totals(db) == (2, 1, 1)
        assert db.execute("SELECT count(*) FROM inspection_results").fetchone() == (2,)

    def test_the_same_result_under_new_offsets_is_counted_once(self, feed: Feed, db: psycopg.Connection) -> None:
        feed.send([result("A"), result("A")])  # duplicate inside one batch
        feed.send([result("A")])  # and re-imported later
        assert totals(db) == (1, 1, 0)

    def test_a_higher_revision_moves_the_count(self, feed: Feed, db: psycopg.Connection) -> None:
        feed.send([result("A", verdict="fail"), result("B")])
        feed.send([result("A", revision=2, verdict="pass")])  # 复检 overturns the failure
        assert totals(db) == (2, 2, 0)
        assert db.execute("SELECT revision, verdict FROM sample_current WHERE sample_id = 'A'").fetchone() == (
            2,
            "pass",
        )

    def test_a_correction_that_moves_date_category_and_region_moves_its_count(
        self, feed: Feed, db: psycopg.Connection
    ) -> None:
        feed.send([result("A", verdict="fail")])
        moved = result(
            "A",
            revision=2,
            verdict="fail",
            at=BASE_TIME - timedelta(days=40),
            category="agricultural",
            sampling_type="routine_monitoring",
            region="421083",
        )
        feed.send([moved])
        assert totals(db, category="food") == (0, 0, 0)
        assert totals(db, category="agricultural", region_code="421083") == (1, 0, 1)
        assert totals(db, day="2026-01-29") == (1, 0, 1)
        assert differences(db) == []

    def test_a_lower_revision_arriving_late_is_ignored(self, feed: Feed, db: psycopg.Connection) -> None:
        feed.send([result("A", revision=3, verdict="pass")])
        feed.send([result("A", revision=2, verdict="fail"), result("A", revision=1, verdict="fail")])
        assert totals(db) == (1, 1, 0)
        assert db.execute("SELECT count(*) FROM inspection_results WHERE sample_id = 'A'").fetchone() == (3,)

    def test_two_revisions_in_one_batch_keep_the_higher(self, feed: Feed, db: psycopg.Connection) -> None:
        feed.send([result("A", revision=2, verdict="pass"), result("A", revision=1, verdict="fail")])
        assert totals(db) == (1, 1, 0)

    def test_a_late_result_lands_in_its_own_day(self, feed: Feed, db: psycopg.Connection) -> None:
        feed.send([result("NEW")])
        feed.send([result("OLD", verdict="fail", at=BASE_TIME - timedelta(weeks=6))])
        assert totals(db, day=str((BASE_TIME - timedelta(weeks=6)).date())) == (1, 0, 1)
        assert totals(db, day=str(BASE_TIME.date())) == (1, 1, 0)

    def test_days_are_shanghai_calendar_days(self, feed: Feed, db: psycopg.Connection) -> None:
        # 16:30 UTC on 9 March is 00:30 on 10 March in Shanghai.
        feed.send([result("LATE-NIGHT", at=datetime(2026, 3, 9, 16, 30, tzinfo=UTC))])
        assert db.execute("SELECT day FROM rollup_daily").fetchall() == [(date(2026, 3, 10),)]

    def test_scores_and_grades_are_counted_exactly(self, feed: Feed, db: psycopg.Connection) -> None:
        feed.send(
            [
                result("S1", category="public_service", sampling_type="survey", score=81.3),
                result("S2", category="public_service", sampling_type="survey", score=79.9),
            ]
        )
        feed.send([result("S1", revision=2, category="public_service", sampling_type="survey", score=90.1)])
        row = db.execute("SELECT sum(score_sum), sum(score_count), sum(score_sq_sum) FROM rollup_daily").fetchone()
        assert row is not None
        assert (str(row[0]), row[1], str(row[2])) == ("170.0", 2, "14502.02")  # 90.1² + 79.9²
        assert differences(db) == []

    def test_where_it_was_made_is_kept_beside_where_it_was_sampled(self, feed: Feed, db: psycopg.Connection) -> None:
        feed.send([result("M-1", manufacturer_region_code="450204"), result("M-2")])
        rows = db.execute(
            "SELECT sample_id, region_code, manufacturer_region_code FROM sample_current ORDER BY sample_id"
        ).fetchall()
        assert rows == [("M-1", "421003", "450204"), ("M-2", "421003", None)]
        history = db.execute("SELECT manufacturer_region_code FROM inspection_results WHERE sample_id = 'M-1'")
        assert history.fetchone() == ("450204",)

    def test_partitions_advance_independently(self, feed: Feed, store: ResultStore) -> None:
        feed.send([result("A"), result("B")], partition=0)
        feed.send([result("C")], partition=3)
        assert next_offsets(store) == {0: 2, 3: 1}


class TestOffsetsKnowTheirLog:
    """A recreated topic's records sit below the old log's offsets: refused with a reason, never skipped."""

    def test_offsets_are_stamped_with_the_log_they_count(
        self, settings: Settings, feed: Feed, store: ResultStore
    ) -> None:
        store.log_identity = "cluster-a/topic-1"
        feed.send([result("A"), result("B")], partition=2)
        assert store.stored_offsets() == {2: StoredOffset(2, "cluster-a/topic-1")}

    def test_a_partition_counting_another_log_is_refused_and_nothing_is_stored(
        self, feed: Feed, store: ResultStore, db: psycopg.Connection
    ) -> None:
        store.log_identity = "cluster-a/topic-1"
        feed.send([result("A"), result("B")])
        store.log_identity = "cluster-a/topic-2"  # the topic was deleted and recreated
        fresh = Feed(store).records([result("C"), result("D"), result("E")])  # offsets 0..2 again
        accepted, _ = classify(fresh, NOW)
        with pytest.raises(PartitionsRefusedError) as refused:
            store.write(accepted, fresh)
        assert "qsmon offsets reset --partition 0" in refused.value.reasons[0]
        assert "cluster-a/topic-1" in refused.value.reasons[0]
        assert "cluster-a/topic-2" in refused.value.reasons[0]
        assert totals(db) == (2, 2, 0)
        assert next_offsets(store) == {0: 2}

    def test_skipping_asks_the_broker_first(self, feed: Feed, store: ResultStore, db: psycopg.Connection) -> None:
        asked: list[set[int]] = []

        class Recreated:
            def confirm_skips(self, stored: Mapping[int, StoredOffset], partitions: set[int]) -> None:
                asked.append(partitions)
                raise PartitionsRefusedError(dict.fromkeys(partitions, "recreated"))

            def confirm_gaps(self, stored: Mapping[int, StoredOffset], gaps: Mapping[int, tuple[int, int]]) -> None:
                raise AssertionError("no gap here")

        store.guard = Recreated()
        records = feed.send([result("A"), result("B")])
        feed.send([result("C")], partition=1)
        assert asked == []  # nothing skipped, nothing asked
        with pytest.raises(PartitionsRefusedError):
            feed.replay(records)
        assert asked == [{0}]
        assert totals(db) == (3, 3, 0)

    def test_records_past_the_stored_offset_are_held_until_they_come_in_order(
        self, feed: Feed, store: ResultStore, db: psycopg.Connection
    ) -> None:
        class StillInKafka:  # the broker still has the records between: a seek raced the fetcher
            def confirm_skips(self, stored: Mapping[int, StoredOffset], partitions: set[int]) -> None:
                pass

            def confirm_gaps(self, stored: Mapping[int, StoredOffset], gaps: Mapping[int, tuple[int, int]]) -> None:
                raise RecordsOutOfOrderError(dict(gaps))

        store.guard = StillInKafka()
        first, later = feed.records([result("A"), result("B")]), feed.records([result("C"), result("D")])
        with pytest.raises(RecordsOutOfOrderError) as out_of_order:
            feed.replay(later)  # offsets 2..3 before 0..1
        assert out_of_order.value.gaps == {0: (0, 2)}
        assert totals(db) == (0, 0, 0)
        feed.replay(first)
        feed.replay(later)
        assert totals(db) == (4, 4, 0)
        assert next_offsets(store) == {0: 4}
        # A jump inside one batch (records fetched before and after a seek, mixed) is held just the same.
        more = feed.records([result(f"E-{i}") for i in range(6)])  # offsets 4..9
        with pytest.raises(RecordsOutOfOrderError) as inside:
            feed.replay(more[:2] + more[4:])
        assert inside.value.gaps == {0: (6, 8)}
        assert next_offsets(store) == {0: 4}

    def test_a_reset_sets_offset_and_log_deliberately(self, feed: Feed, store: ResultStore) -> None:
        store.log_identity = "cluster-a/topic-1"
        feed.send([result("A"), result("B")])
        store.reset_offset(0, 0, LogState("cluster-a/topic-2", {0: 0}, {0: 3}))
        assert store.stored_offsets() == {0: StoredOffset(0, "cluster-a/topic-2")}


class TestInvalidRecords:
    def test_invalid_records_advance_the_offset_and_valid_neighbours_are_stored(
        self, feed: Feed, store: ResultStore, db: psycopg.Connection
    ) -> None:
        records = feed.records([result("A"), b"{not json", b'{"sample_id": "X"}', result("B", verdict="fail")])
        accepted, rejected = classify(records, NOW)
        store.write(accepted, records)
        assert [r.reason_code for r in rejected] == ["not_json", "sampled_at"]
        assert totals(db) == (2, 1, 1)
        assert next_offsets(store) == {0: 4}


class TestRebuild:
    def test_rebuild_reports_and_repairs_a_damaged_rollup(
        self, feed: Feed, db: psycopg.Connection, settings: Settings
    ) -> None:
        feed.send([result("A"), result("B", verdict="fail"), result("C", region="421083")])
        db.execute("UPDATE rollup_daily SET passed = passed + 5 WHERE region_code = '421003'")
        db.execute("DELETE FROM rollup_daily WHERE region_code = '421083'")
        with connect(settings.dsn) as conn:
            fixed = rebuild(conn)
        assert {d.table for d in fixed} == {"rollup_daily"}
        assert {d.key.split(", ")[5] for d in fixed} == {"421003", "421083"}  # key: day, 4 dimensions, region, grade
        assert differences(db) == []
        assert totals(db) == (3, 2, 1)

    def test_rebuild_repairs_the_monthly_rollup_and_the_current_failures(
        self, feed: Feed, db: psycopg.Connection, settings: Settings
    ) -> None:
        feed.send([result("A", verdict="fail"), result("B", verdict="fail"), result("C")])
        db.execute("UPDATE rollup_monthly SET tested = tested + 1")
        db.execute("DELETE FROM failure_current WHERE sample_id = 'A'")
        db.execute("UPDATE failure_current SET product = 'wrong' WHERE sample_id = 'B'")
        with connect(settings.dsn) as conn:
            from_the_20th = rebuild(conn, date(2026, 3, 20))  # monthly rows are rebuilt whole, from the 1st
            everything = rebuild(conn)
        assert {d.table for d in from_the_20th} == {"rollup_monthly"}  # the failures of the 10th are left alone
        assert {(d.table, d.key) for d in everything} == {("failure_current", "A"), ("failure_current", "B")}
        assert differences(db) == []


def monthly_totals(db: psycopg.Connection) -> dict[str, tuple[int, int, int]]:
    rows = db.execute(
        "SELECT month::text, sum(tested), sum(passed), sum(failed) FROM rollup_monthly"
        " GROUP BY month HAVING sum(tested) <> 0"
    ).fetchall()
    return {month: (int(t), int(p), int(f)) for month, t, p, f in rows}


def failures(db: psycopg.Connection) -> dict[str, tuple[int, str]]:
    rows = db.execute("SELECT sample_id, revision, failed_items->0->>'item' FROM failure_current").fetchall()
    return {sample_id: (revision, item) for sample_id, revision, item in rows}


class TestLongRangeTables:
    """The monthly rollup and the current failures, kept by the worker's batch statement."""

    def test_the_monthly_rollup_follows_a_correction_across_months(self, feed: Feed, db: psycopg.Connection) -> None:
        feed.send([result("A", verdict="fail"), result("B"), result("C", at=BASE_TIME - timedelta(days=40))])
        assert monthly_totals(db) == {"2026-03-01": (2, 1, 1), "2026-01-01": (1, 1, 0)}
        feed.send([result("A", revision=2, verdict="pass", at=BASE_TIME - timedelta(days=40))])
        assert monthly_totals(db) == {"2026-03-01": (1, 1, 0), "2026-01-01": (2, 2, 0)}
        assert differences(db) == []

    def test_a_move_within_a_month_leaves_its_monthly_row_alone(self, feed: Feed, db: psycopg.Connection) -> None:
        feed.send([result("A", verdict="fail")])
        feed.send([result("A", revision=2, verdict="fail", at=BASE_TIME + timedelta(days=3))])
        assert monthly_totals(db) == {"2026-03-01": (1, 0, 1)}
        assert differences(db) == []

    def test_current_failures_follow_revisions(self, feed: Feed, db: psycopg.Connection) -> None:
        feed.send([result("A", verdict="fail"), result("B"), result("C", verdict="fail")])
        assert failures(db) == {"A": (1, "毒死蜱"), "C": (1, "毒死蜱")}
        recheck = (FailedItem(item="铅(以Pb计)", measured="0.5", limit="≤0.2", unit="mg/kg"),)
        feed.send(
            [
                result("A", revision=2, verdict="pass"),  # overturned
                result("B", revision=2, verdict="fail"),  # found failing
                result("C", revision=2, verdict="fail", failed_items=recheck),
            ]
        )  # other items
        assert failures(db) == {"B": (2, "毒死蜱"), "C": (2, "铅(以Pb计)")}
        feed.send([result("C", revision=1, verdict="fail")])  # a late lower revision changes nothing
        assert failures(db) == {"B": (2, "毒死蜱"), "C": (2, "铅(以Pb计)")}
        items = db.execute("SELECT item, failures FROM failed_item_monthly WHERE failures <> 0").fetchall()
        assert dict(items) == {"毒死蜱": 1, "铅(以Pb计)": 1}
        assert differences(db) == []

    def test_a_redelivered_batch_leaves_the_failures_and_months_as_they_were(
        self, feed: Feed, db: psycopg.Connection
    ) -> None:
        records = feed.send(
            [result("A", verdict="fail"), result("A", revision=2, verdict="fail", manufacturer="某食品有限公司")]
        )
        feed.replay(records)
        assert db.execute("SELECT manufacturer FROM failure_current").fetchall() == [("某食品有限公司",)]
        assert monthly_totals(db) == {"2026-03-01": (1, 0, 1)}


class TestRollupRows:
    """rollup_rows(first, last): whole months from the monthly rollup, partial ones from the daily rollup."""

    @pytest.mark.parametrize(
        ("first", "last"),
        [
            ("2026-01-01", "2026-03-31"),  # whole months only
            ("2026-01-15", "2026-03-20"),  # partial months at both ends
            ("2026-02-03", "2026-02-27"),  # inside one month
            ("2026-01-31", "2026-02-01"),  # across a boundary, no whole month
            ("2025-12-31", "2026-03-01"),  # one day at each end
        ],
    )
    def test_any_span_counts_what_the_daily_rollup_counts(
        self, first: str, last: str, feed: Feed, db: psycopg.Connection
    ) -> None:
        start = datetime(2025, 12, 20, 4, tzinfo=UTC)
        feed.send(
            [
                result(f"S{i}", verdict="fail" if i % 7 == 0 else "pass", at=start + timedelta(days=i))
                for i in range(110)
            ]
        )
        daily = db.execute(
            "SELECT sum(tested), sum(failed) FROM rollup_daily WHERE day BETWEEN %s AND %s", (first, last)
        ).fetchone()
        for whole_months in (True, False):
            spanned = db.execute(
                "SELECT sum(tested), sum(failed) FROM rollup_rows(%s, %s, %s)", (first, last, whole_months)
            ).fetchone()
            assert spanned == daily
        assert daily is not None
        assert daily[0] > 0

    def test_whole_months_come_from_the_monthly_rollup(self, feed: Feed, db: psycopg.Connection) -> None:
        feed.send([result(f"S{i}", at=datetime(2026, 1, 1, 4, tzinfo=UTC) + timedelta(days=i)) for i in range(59)])
        days = db.execute(
            "SELECT day::text, tested FROM rollup_rows('2026-01-01', '2026-02-28') ORDER BY day"
        ).fetchall()
        assert days == [("2026-01-01", 31), ("2026-02-01", 28)]


class TestFailureCounts:
    """failed_item_counts / failed_firm_counts: whole months or years from the rollups, the rest from the failures."""

    @pytest.mark.parametrize(
        ("first", "last"),
        [
            ("2025-12-25", "2026-03-20"),  # partial months and years
            ("2025-01-01", "2026-12-31"),  # whole years only
            ("2025-12-31", "2026-02-03"),  # across a year boundary
            ("2026-01-10", "2026-06-30"),  # ends after the newest failure: the last year is read whole
            ("2026-01-10", "2026-03-01"),  # ends before it: the days are read one by one
        ],
    )
    def test_any_span_counts_the_current_failures_in_it(
        self, first: str, last: str, feed: Feed, db: psycopg.Connection
    ) -> None:
        start = datetime(2025, 12, 1, 4, tzinfo=UTC)
        feed.send(
            [
                result(f"F{i}", verdict="fail", at=start + timedelta(days=i), manufacturer=f"企业{i % 3}")
                for i in range(0, 100, 2)
            ]
        )
        feed.send([result("F10", revision=2, verdict="pass", at=start + timedelta(days=10))])  # one overturned
        truth = db.execute("SELECT count(*) FROM failure_current WHERE day BETWEEN %s AND %s", (first, last)).fetchone()
        items = db.execute("SELECT sum(failures) FROM failed_item_counts(%s, %s)", (first, last)).fetchone()
        firms = db.execute("SELECT sum(failures) FROM failed_firm_counts(%s, %s)", (first, last)).fetchone()
        assert truth is not None
        assert truth[0] > 0
        assert items == firms == truth


class TestMigrations:
    def test_backfill_restores_the_sum_of_squares_of_rows_rolled_up_before_it_existed(
        self, feed: Feed, db: psycopg.Connection
    ) -> None:
        from importlib import resources

        feed.send(
            [
                result("S1", category="public_service", sampling_type="survey", score=81.5),
                result("S2", category="public_service", sampling_type="survey", score=70.0),
            ]
        )
        db.execute("UPDATE rollup_daily SET score_sq_sum = 0")  # as migration 003 left older rows
        assert differences(db) != []
        backfill = resources.files("qsmon.storage.migrations").joinpath("004_backfill_score_sq_sum.sql")
        db.execute(backfill.read_text(encoding="utf-8").encode())
        assert differences(db) == []


class TestSchemaVersion:
    def test_a_current_schema_is_accepted(self, db: psycopg.Connection) -> None:
        assert check_schema(db) == max(m.version for m in bundled_migrations())

    def test_an_older_or_newer_schema_is_refused_with_the_way_out(self, db: psycopg.Connection) -> None:
        latest = max(m.version for m in bundled_migrations())
        db.execute("UPDATE schema_migrations SET version = 9999 WHERE version = %s", (latest,))
        with pytest.raises(SchemaVersionError, match="newer than this qsmon") as newer:
            check_schema(db)
        assert "9999" in str(newer.value)
        with pytest.raises(SchemaVersionError, match="newer than this qsmon"):  # `qsmon init` of an older qsmon
            apply_migrations(db)
        db.execute("DELETE FROM schema_migrations WHERE version = 9999")
        with pytest.raises(SchemaVersionError, match="run `qsmon init`") as older:
            check_schema(db)
        assert str(latest) in str(older.value)
