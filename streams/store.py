"""One batch, one transaction: history, final verdicts, rollup deltas and the partitions' next offsets.

Exactly-once effect on top of at-least-once delivery:
* Each partition of the batch is locked (its ``stream_offsets`` row, FOR UPDATE) and records below the partition's
  stored next offset are skipped: a redelivered batch changes nothing and costs one query. A row lock, not an
  advisory lock: a role without UPDATE on the table (Grafana's) can neither take nor block it.
* Everything else is idempotent too: history rows conflict on (sample_id, revision, sampled_at); a sample's
  current row only moves to a higher revision, and its old verdict leaves the rollup as the new one enters.
* A record the database refuses (a data error) is found by bisecting the batch under savepoints and reported as
  :class:`RecordsRefusedError`; the caller dead-letters it and stores the rest. Anything else is
  :class:`BatchWriteError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg

from qsmon.changes import RollupKey
from streams.exceptions import BatchWriteError, RecordsRefusedError
from streams.records import COLUMNS, COPY_TYPES, Accepted, SourceRecord, copy_row

_TEMP_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS incoming (
    sample_id text, revision int, sampled_at timestamptz, reported_at timestamptz, category text,
    subcategory text, sampling_type text, stage text, region_code text, verdict text, grade text,
    score double precision, product text, brand text, spec text, batch text, manufacturer text,
    sampled_unit text, lab text, source text, failed_items text, kafka_partition int, kafka_offset bigint,
    produced_at timestamptz
) ON COMMIT DELETE ROWS
"""
_COPY = f"COPY incoming ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"

_HISTORY = """
INSERT INTO inspection_results (sample_id, revision, sampled_at, reported_at, category, subcategory, sampling_type,
    stage, region_code, verdict, grade, score, product, brand, spec, batch, manufacturer, sampled_unit, lab, source,
    failed_items, kafka_partition, kafka_offset, produced_at)
SELECT sample_id, revision, sampled_at, reported_at, category, subcategory, sampling_type, stage, region_code,
    verdict, grade, score, product, brand, spec, batch, manufacturer, sampled_unit, lab, source,
    failed_items::jsonb, kafka_partition, kafka_offset, produced_at
FROM incoming
ON CONFLICT DO NOTHING
"""

# The final verdict per sample, the current failures and every rollup's deltas, in one statement. `prev` and
# `failures_before` read the rows the upserts are about to replace (all sub-statements share one snapshot); the
# partition locks guarantee no other writer touches these samples. Only samples whose current revision moved
# (`upserted`) change the failures and the rollups.
ROLLUP_DIMENSIONS = "category, subcategory, sampling_type, stage, region_code, grade"
ROLLUP_COUNTS = "tested, passed, failed, score_sum, score_count, score_sq_sum"
FAILURE_COLUMNS = ("sample_id", "revision", "sampled_at", "day", "category", "subcategory", "sampling_type", "stage",
                    "region_code", "product", "manufacturer", "sampled_unit", "lab", "failed_items")
_ADD_COUNTS = ", ".join(f"{c} = r.{c} + excluded.{c}" for c in ROLLUP_COUNTS.split(", "))
_CURRENT_AND_ROLLUP = f"""
WITH batch AS (
    SELECT DISTINCT ON (sample_id) sample_id, revision, sampled_at,
        (sampled_at AT TIME ZONE %(tz)s)::date AS day, category, subcategory, sampling_type, stage, region_code,
        verdict, grade, score, product, manufacturer, sampled_unit, lab, failed_items::jsonb AS failed_items
    FROM incoming
    ORDER BY sample_id, revision DESC, kafka_partition, kafka_offset
), prev AS (
    SELECT c.day, c.category, c.subcategory, c.sampling_type, c.stage, c.region_code, c.grade, c.verdict, c.score
    FROM sample_current c JOIN batch b USING (sample_id)
    WHERE c.revision < b.revision
), upserted AS (
    INSERT INTO sample_current AS c (sample_id, revision, sampled_at, day, category, subcategory, sampling_type,
        stage, region_code, verdict, grade, score)
    SELECT sample_id, revision, sampled_at, day, category, subcategory, sampling_type, stage, region_code,
        verdict, grade, score
    FROM batch
    ON CONFLICT (sample_id) DO UPDATE SET
        revision = excluded.revision, sampled_at = excluded.sampled_at, day = excluded.day,
        category = excluded.category, subcategory = excluded.subcategory, sampling_type = excluded.sampling_type,
        stage = excluded.stage, region_code = excluded.region_code, verdict = excluded.verdict,
        grade = excluded.grade, score = excluded.score, updated_at = now()
    WHERE c.revision < excluded.revision
    RETURNING c.sample_id, c.day, c.category, c.subcategory, c.sampling_type, c.stage, c.region_code, c.grade,
        c.verdict, c.score
), failures_before AS (  -- the failures being replaced, as the snapshot still has them
    SELECT f.* FROM failure_current f JOIN upserted u USING (sample_id)
), failures_after AS (
    SELECT b.* FROM upserted u JOIN batch b USING (sample_id) WHERE u.verdict = 'fail'
), failures_passed AS (
    DELETE FROM failure_current f USING upserted u WHERE f.sample_id = u.sample_id AND u.verdict = 'pass'
), failures_failed AS (
    INSERT INTO failure_current AS f ({", ".join(FAILURE_COLUMNS)})
    SELECT {", ".join(FAILURE_COLUMNS)} FROM failures_after
    ON CONFLICT (sample_id) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in FAILURE_COLUMNS[1:])}
    WHERE f.revision < excluded.revision
), failure_deltas AS (
    SELECT day, region_code, category, product, coalesce(manufacturer, sampled_unit) AS firm, failed_items,
        1 AS sign
    FROM failures_after
    UNION ALL
    SELECT day, region_code, category, product, coalesce(manufacturer, sampled_unit), failed_items, -1
    FROM failures_before
), failed_items_by_month AS (
    INSERT INTO failed_item_monthly AS r (month, region_code, category, item, failures)
    SELECT date_trunc('month', day)::date, region_code, category, i->>'item', sum(sign)
    FROM failure_deltas CROSS JOIN LATERAL jsonb_array_elements(failed_items) i
    GROUP BY 1, 2, 3, 4 HAVING sum(sign) <> 0
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (month, region_code, category, item) DO UPDATE SET failures = r.failures + excluded.failures
), failed_firms_by_year AS (
    INSERT INTO failed_firm_yearly AS r (year, region_code, category, firm, product, failures)
    SELECT date_trunc('year', day)::date, region_code, category, firm, coalesce(product, ''), sum(sign)
    FROM failure_deltas WHERE firm IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(sign) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (year, region_code, category, firm, product) DO UPDATE SET failures = r.failures + excluded.failures
), deltas AS (
    SELECT day, {ROLLUP_DIMENSIONS}, verdict, score, 1 AS sign FROM upserted
    UNION ALL
    SELECT day, {ROLLUP_DIMENSIONS}, verdict, score, -1 AS sign FROM prev
), grouped AS (
    SELECT day, {ROLLUP_DIMENSIONS},
        sum(sign) AS tested,
        sum(CASE WHEN verdict = 'pass' THEN sign ELSE 0 END) AS passed,
        sum(CASE WHEN verdict = 'fail' THEN sign ELSE 0 END) AS failed,
        coalesce(sum(sign * score::numeric), 0) AS score_sum,
        sum(CASE WHEN score IS NOT NULL THEN sign ELSE 0 END) AS score_count,
        coalesce(sum(sign * score::numeric * score::numeric), 0) AS score_sq_sum
    FROM deltas
    GROUP BY day, {ROLLUP_DIMENSIONS}
), monthly AS (
    INSERT INTO rollup_monthly AS r (month, {ROLLUP_DIMENSIONS}, {ROLLUP_COUNTS})
    SELECT date_trunc('month', day)::date, {ROLLUP_DIMENSIONS}, sum(tested), sum(passed), sum(failed), sum(score_sum),
        sum(score_count), sum(score_sq_sum)
    FROM grouped
    GROUP BY 1, {ROLLUP_DIMENSIONS}
    HAVING (sum(tested), sum(passed), sum(failed), sum(score_sum), sum(score_count), sum(score_sq_sum))
        <> (0, 0, 0, 0, 0, 0)
    ORDER BY 1, {ROLLUP_DIMENSIONS}  -- a fixed order: no deadlocks
    ON CONFLICT (month, {ROLLUP_DIMENSIONS}) DO UPDATE SET {_ADD_COUNTS}
)
INSERT INTO rollup_daily AS r (day, {ROLLUP_DIMENSIONS}, {ROLLUP_COUNTS})
SELECT * FROM grouped
WHERE ({ROLLUP_COUNTS}) <> (0, 0, 0, 0, 0, 0)  -- a correction within one key changes nothing
ORDER BY day, {ROLLUP_DIMENSIONS}
ON CONFLICT (day, {ROLLUP_DIMENSIONS}) DO UPDATE SET {_ADD_COUNTS}
RETURNING day, category, subcategory, sampling_type, stage, region_code
"""

# Partitions get their row on first sight; then the rows are locked in partition order (no deadlocks between
# writers). Two statements: a locking SELECT in the same statement as the INSERT would not see the new rows.
_NEW_PARTITIONS = """
INSERT INTO stream_offsets (consumer_group, topic, partition, next_offset)
SELECT %(group)s, %(topic)s, p, 0 FROM unnest(%(partitions)s::int[]) AS t(p) ORDER BY p
ON CONFLICT (consumer_group, topic, partition) DO NOTHING
"""
_LOCK_PARTITIONS = """
SELECT partition, next_offset FROM stream_offsets
WHERE consumer_group = %(group)s AND topic = %(topic)s AND partition = ANY(%(partitions)s)
ORDER BY partition
FOR UPDATE
"""

_OFFSETS = """
INSERT INTO stream_offsets (consumer_group, topic, partition, next_offset)
SELECT %(group)s, %(topic)s, p, o FROM unnest(%(partitions)s::int[], %(offsets)s::bigint[]) AS t(p, o)
ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET
    next_offset = greatest(stream_offsets.next_offset, excluded.next_offset), updated_at = now()
"""


@dataclass(slots=True)
class BatchOutcome:
    stored: int = 0  # results written to history (new sample revisions)
    skipped: int = 0  # records below a partition's stored offset: already applied
    changed: set[RollupKey] = field(default_factory=set)


class ResultStore:
    """Writes batches for one consumer group and topic; owns one connection (not thread-safe)."""

    def __init__(self, dsn: str, *, group: str, topic: str, timezone: str = "Asia/Shanghai") -> None:
        self._dsn = dsn
        self.group = group
        self.topic = topic
        self.timezone = timezone
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        from qsmon.storage import connect

        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self._dsn, application_name=f"qsmon-worker:{self.group}")
            self._conn.execute(_TEMP_TABLE)
            self._conn.commit()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stored_offsets(self) -> dict[int, int]:
        """The next offset to apply, per partition, as the database knows it."""
        conn = self._connection()
        rows = conn.execute(
            "SELECT partition, next_offset FROM stream_offsets WHERE consumer_group = %s AND topic = %s",
            (self.group, self.topic),
        ).fetchall()
        conn.commit()
        return dict(rows)

    def write(self, accepted: Sequence[Accepted], all_records: Sequence[SourceRecord]) -> BatchOutcome:
        """Store ``accepted`` and advance the offsets past ``all_records`` (valid or not), atomically.

        Raises :class:`RecordsRefusedError` when the database refuses some records (nothing is stored then),
        :class:`BatchWriteError` when it cannot store the batch for any other reason.
        """
        if not all_records:
            return BatchOutcome()
        try:
            return self._write(accepted, all_records)
        except DATA_ERRORS as exc:
            self._rollback()
            refused = self._find_refused(accepted, all_records)
            if refused:
                raise RecordsRefusedError(refused) from exc
            raise BatchWriteError("batch refused, but no single record is refused alone",
                                  records=len(all_records), error=_reason(exc)) from exc
        except psycopg.Error as exc:
            self._rollback()
            raise BatchWriteError("batch not stored", records=len(all_records), error=str(exc).strip()) from exc

    def _rollback(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.rollback()
            except psycopg.Error:
                self.close()

    def _lock_partitions(self, conn: psycopg.Connection, all_records: Sequence[SourceRecord]) -> dict[int, int]:
        """Lock the batch's partitions; their stored next offsets."""
        params = {"group": self.group, "topic": self.topic, "partitions": sorted({r.partition for r in all_records})}
        conn.execute(_NEW_PARTITIONS, params)
        return dict(conn.execute(_LOCK_PARTITIONS, params).fetchall())

    def _write(self, accepted: Sequence[Accepted], all_records: Sequence[SourceRecord]) -> BatchOutcome:
        conn = self._connection()
        outcome = BatchOutcome()
        with conn.transaction():
            stored = self._lock_partitions(conn, all_records)
            fresh = [a for a in accepted if a.record.offset >= stored.get(a.record.partition, 0)]
            fresh_records = [r for r in all_records if r.offset >= stored.get(r.partition, 0)]
            outcome.skipped = len(all_records) - len(fresh_records)
            if fresh:
                outcome.stored, outcome.changed = self._apply(conn, fresh)
            if fresh_records:
                next_offsets: dict[int, int] = {}
                for r in fresh_records:
                    next_offsets[r.partition] = max(next_offsets.get(r.partition, 0), r.offset + 1)
                conn.execute(_OFFSETS, {
                    "group": self.group, "topic": self.topic,
                    "partitions": list(next_offsets), "offsets": list(next_offsets.values()),
                })
        return outcome

    def _apply(self, conn: psycopg.Connection, items: Sequence[Accepted]) -> tuple[int, set[RollupKey]]:
        """History, current verdicts, failures and rollups for ``items``: results stored, rollup keys changed."""
        with conn.cursor() as cur:
            cur.execute("DELETE FROM incoming")  # a savepoint's earlier rows (bisection); empty otherwise
            with cur.copy(_COPY) as copy:
                copy.set_types(list(COPY_TYPES))
                for item in items:
                    copy.write_row(copy_row(item))
            cur.execute(_HISTORY)
            stored = cur.rowcount
            cur.execute(_CURRENT_AND_ROLLUP, {"tz": self.timezone})
            return stored, {RollupKey(*row) for row in cur.fetchall()}

    def _find_refused(self, accepted: Sequence[Accepted],
                      all_records: Sequence[SourceRecord]) -> list[tuple[Accepted, str]]:
        """Replay the batch under savepoints, halving what fails, and roll it all back: the records refused alone."""
        refused: list[tuple[Accepted, str]] = []
        try:
            conn = self._connection()
            with conn.transaction(force_rollback=True):
                stored = self._lock_partitions(conn, all_records)
                fresh = [a for a in accepted if a.record.offset >= stored.get(a.record.partition, 0)]
                self._bisect(conn, fresh, refused)
        except psycopg.Error as exc:
            self._rollback()
            raise BatchWriteError("batch not stored", records=len(all_records), error=str(exc).strip()) from exc
        return refused

    def _bisect(self, conn: psycopg.Connection, items: Sequence[Accepted],
                refused: list[tuple[Accepted, str]]) -> None:
        if not items:
            return
        try:
            with conn.transaction():  # a savepoint
                self._apply(conn, items)
        except DATA_ERRORS as exc:
            if len(items) == 1:
                refused.append((items[0], _reason(exc)))
                return
            middle = len(items) // 2
            self._bisect(conn, items[:middle], refused)
            self._bisect(conn, items[middle:], refused)


# What a record can make the database (or the driver encoding it) refuse; retrying the same record cannot help.
DATA_ERRORS: tuple[type[Exception], ...] = (
    psycopg.DataError, psycopg.IntegrityError, psycopg.errors.ProgramLimitExceeded, ValueError, OverflowError,
)


def _reason(exc: Exception) -> str:
    if isinstance(exc, psycopg.Error) and exc.diag.sqlstate:
        return f"database refused the record: {exc.diag.message_primary} (SQLSTATE {exc.diag.sqlstate})"
    return f"database refused the record: {type(exc).__name__}: {exc}"


def stored_offset_total(conn: psycopg.Connection, group: str, topic: str) -> int:
    """Records the database has applied for a group and topic: equal to the topic's end offsets when caught up."""
    row = conn.execute("SELECT coalesce(sum(next_offset), 0) FROM stream_offsets WHERE consumer_group = %s"
                       " AND topic = %s", (group, topic)).fetchone()
    return int(row[0]) if row else 0
