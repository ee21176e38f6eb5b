"""The batch store on the real TimescaleDB: exact rollups under duplicates, corrections and late data."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from qsmon.schema import InspectionResult
from qsmon.settings import Settings
from qsmon.storage import connect
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


def totals(db: psycopg.Connection, **where: str) -> tuple[int, int, int]:
    clause = " AND ".join(f"{k} = %({k})s" for k in where) or "true"
    row = db.execute(f"SELECT coalesce(sum(tested),0), coalesce(sum(passed),0), coalesce(sum(failed),0)"
                     f" FROM rollup_daily WHERE {clause}", where).fetchone()
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
            2, "pass")

    def test_a_correction_that_moves_date_category_and_region_moves_its_count(
        self, feed: Feed, db: psycopg.Connection
    ) -> None:
        feed.send([result("A", verdict="fail")])
        moved = result("A", revision=2, verdict="fail", at=BASE_TIME - timedelta(days=40), category="agricultural",
                       sampling_type="routine_monitoring", region="421083")
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
        feed.send([result("S1", category="public_service", sampling_type="survey", score=81.3),
                   result("S2", category="public_service", sampling_type="survey", score=79.9)])
        feed.send([result("S1", revision=2, category="public_service", sampling_type="survey", score=90.1)])
        row = db.execute("SELECT sum(score_sum), sum(score_count), sum(score_sq_sum) FROM rollup_daily").fetchone()
        assert row is not None
        assert (str(row[0]), row[1], str(row[2])) == ("170.0", 2, "14502.02")  # 90.1² + 79.9²
        assert differences(db) == []

    def test_partitions_advance_independently(self, feed: Feed, store: ResultStore) -> None:
        feed.send([result("A"), result("B")], partition=0)
        feed.send([result("C")], partition=3)
        assert store.stored_offsets() == {0: 2, 3: 1}


class TestInvalidRecords:
    def test_invalid_records_advance_the_offset_and_valid_neighbours_are_stored(
        self, feed: Feed, store: ResultStore, db: psycopg.Connection
    ) -> None:
        records = feed.records([result("A"), b"{not json", b'{"sample_id": "X"}', result("B", verdict="fail")])
        accepted, rejected = classify(records, NOW)
        store.write(accepted, records)
        assert [r.reason_code for r in rejected] == ["not_json", "sampled_at"]
        assert totals(db) == (2, 1, 1)
        assert store.stored_offsets() == {0: 4}


class TestRebuild:
    def test_rebuild_reports_and_repairs_a_damaged_rollup(
        self, feed: Feed, db: psycopg.Connection, settings: Settings
    ) -> None:
        feed.send([result("A"), result("B", verdict="fail"), result("C", region="421083")])
        db.execute("UPDATE rollup_daily SET passed = passed + 5 WHERE region_code = '421003'")
        db.execute("DELETE FROM rollup_daily WHERE region_code = '421083'")
        with connect(settings.dsn) as conn:
            fixed = rebuild(conn)
        assert {d.region_code for d in fixed} == {"421003", "421083"}
        assert differences(db) == []
        assert totals(db) == (3, 2, 1)



class TestMigrations:
    def test_backfill_restores_the_sum_of_squares_of_rows_rolled_up_before_it_existed(
        self, feed: Feed, db: psycopg.Connection
    ) -> None:
        from importlib import resources

        feed.send([result("S1", category="public_service", sampling_type="survey", score=81.5),
                   result("S2", category="public_service", sampling_type="survey", score=70.0)])
        db.execute("UPDATE rollup_daily SET score_sq_sum = 0")  # as migration 003 left older rows
        assert differences(db) != []
        backfill = resources.files("qsmon.storage.migrations").joinpath("004_backfill_score_sq_sum.sql")
        db.execute(backfill.read_text(encoding="utf-8").encode())
        assert differences(db) == []
