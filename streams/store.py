"""One batch, one transaction: history, final verdicts, rollup deltas and the partitions' next offsets.

Exactly-once effect on top of at-least-once delivery:
* Each partition of the batch is locked (its ``stream_offsets`` row, FOR UPDATE) and records below the partition's
  stored next offset are skipped: a redelivered batch changes nothing and costs one query. A row lock, not an
  advisory lock: a role without UPDATE on the table (Grafana's) can neither take nor block it.
* Everything else is idempotent too: history rows conflict on (sample_id, revision, sampled_at); a sample's
  current row only moves to a higher revision, and its old verdict leaves the rollup as the new one enters.
* A final fail opens its sample's follow-up case in the batch's statement; its steps and their deadlines are
  written before the same COMMIT (qsmon.case_steps): a case never exists without its steps.
* A record the database refuses (a data error) is found by bisecting the batch under savepoints and reported as
  :class:`RecordsRefusedError`; the caller dead-letters it and stores the rest. Anything else is
  :class:`BatchWriteError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psycopg

from qsmon.case_rules import load_table
from qsmon.case_steps import write_opening_steps
from qsmon.changes import RollupKey
from qsmon.provenance import Stored, needs_lookup, refusals
from qsmon.schema import FIRST_REVISION
from qsmon.settings import get_settings
from qsmon.vocab import Verdict
from qsmon.workdays import default_calendar, load_calendar
from streams.batch_sql import COPY, CURRENT_AND_ROLLUP, HISTORY, TEMP_TABLE
from streams.copy_rows import encode_rows
from streams.exceptions import BatchWriteError, PartitionsRefusedError, RecordsRefusedError
from streams.offsets import LogState, LogUnavailableError, StoredOffset, identity_refusal
from streams.records import Accepted, SourceRecord, next_offsets

# Partitions get their row on first sight; then the rows are locked in partition order (no deadlocks between
# writers). Two statements: a locking SELECT in the same statement as the INSERT would not see the new rows.
_NEW_PARTITIONS = """
INSERT INTO stream_offsets (consumer_group, topic, partition, next_offset, log_identity)
SELECT %(group)s, %(topic)s, p, 0, %(log)s FROM unnest(%(partitions)s::int[]) AS t(p) ORDER BY p
ON CONFLICT (consumer_group, topic, partition) DO NOTHING
"""
_LOCK_PARTITIONS = """
SELECT partition, next_offset, log_identity FROM stream_offsets
WHERE consumer_group = %(group)s AND topic = %(topic)s AND partition = ANY(%(partitions)s)
ORDER BY partition
FOR UPDATE
"""

# The revision rule's view of a batch's samples (qsmon.provenance.refusals).
_STORED_SAMPLES = "SELECT sample_id, revision, created_by FROM sample_current WHERE sample_id = ANY(%s)"

_OFFSETS = """
INSERT INTO stream_offsets (consumer_group, topic, partition, next_offset, log_identity)
SELECT %(group)s, %(topic)s, p, o, %(log)s FROM unnest(%(partitions)s::int[], %(offsets)s::bigint[]) AS t(p, o)
ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET
    next_offset = greatest(stream_offsets.next_offset, excluded.next_offset),
    log_identity = coalesce(excluded.log_identity, stream_offsets.log_identity), updated_at = now()
"""

_RESET = """
INSERT INTO stream_offsets (consumer_group, topic, partition, next_offset, log_identity)
VALUES (%(group)s, %(topic)s, %(partition)s, %(offset)s, %(log)s)
ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET
    next_offset = excluded.next_offset, log_identity = excluded.log_identity, updated_at = now()
"""


class OffsetGuard(Protocol):
    """Asked inside the batch's transaction, with the partitions locked (streams.offsets.LogReader is one)."""

    def confirm_skips(self, stored: Mapping[int, StoredOffset], partitions: set[int]) -> None:
        """Records of ``partitions`` lie below their stored offsets and would be skipped as already applied.
        Raise PartitionsRefusedError when they belong to another log (the skip would drop new records)."""

    def confirm_gaps(self, stored: Mapping[int, StoredOffset], gaps: Mapping[int, tuple[int, int]]) -> None:
        """A partition's records start past its stored offset, (stored, first). Return when the records between
        no longer exist in Kafka (retention); else raise RecordsOutOfOrderError (delivered out of order: a seek
        raced the fetcher) so they are read again in order instead of being skipped for good."""


@dataclass(slots=True)
class BatchOutcome:
    stored: int = 0  # results written to history (new sample revisions)
    skipped: int = 0  # records below a partition's stored offset: already applied
    held: set[int] = field(default_factory=set)  # partitions whose records were left out: never acknowledge them
    changed: set[RollupKey] = field(default_factory=set)


def worker_application_name(group: str) -> str:
    """What a worker's writing connection is called in pg_stat_activity."""
    return f"qsmon-worker:{group}"


class ResultStore:
    """Writes batches for one consumer group and topic; owns one connection (not thread-safe).

    ``log_identity`` names the log the offsets count (set by the worker from the broker); a partition whose row
    names another log is refused (:class:`PartitionsRefusedError`), never skipped. ``guard`` is asked before a
    batch skips records as already applied, or would jump over records it never saw.
    """

    def __init__(
        self,
        dsn: str,
        *,
        group: str,
        topic: str,
        timezone: str | None = None,
        log_identity: str | None = None,
        guard: OffsetGuard | None = None,
        case_deadlines_file: Path | None = None,
        application_name: str | None = None,
        case_soon_working_days: int | None = None,
        workdays_file: Path | None = None,
    ) -> None:
        self._dsn = dsn
        # Workers' connections are named after their group: `qsmon offsets reset` counts them, and names its own
        # otherwise.
        self.application_name = application_name or worker_application_name(group)
        self.group = group
        self.topic = topic
        self.timezone = timezone or get_settings().timezone  # the local day a result counts for
        self.case_soon_working_days = (
            get_settings().cases_due_soon_working_days if case_soon_working_days is None else case_soon_working_days
        )
        self.log_identity = log_identity
        self.guard = guard
        self.case_table = load_table(case_deadlines_file)
        # Read now: a malformed workdays file stops the worker at start, not at its first failure.
        self.calendar = load_calendar(workdays_file) if workdays_file else default_calendar()
        self.case_categories = self.case_table.case_categories  # whose failures open a case
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        from qsmon.storage import connect

        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self._dsn, application_name=self.application_name)
            self._conn.execute("SET client_encoding = 'UTF8'")  # what streams.copy_rows encodes text in
            self._conn.execute(TEMP_TABLE)
            self._conn.commit()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stored_offsets(self) -> dict[int, StoredOffset]:
        """The next offset to apply, per partition, and the log it counts, as the database knows them."""
        conn = self._connection()
        rows = conn.execute(
            "SELECT partition, next_offset, log_identity FROM stream_offsets WHERE consumer_group = %s AND topic = %s",
            (self.group, self.topic),
        ).fetchall()
        conn.commit()
        return {partition: StoredOffset(offset, log) for partition, offset, log in rows}

    def reset_offset(self, partition: int, offset: int, log: LogState) -> None:
        """Set a partition's next offset and the log it counts: an operator's decision (``qsmon offsets reset``)."""
        conn = self._connection()
        with conn.transaction():
            conn.execute(
                _RESET,
                {
                    "group": self.group,
                    "topic": self.topic,
                    "partition": partition,
                    "offset": offset,
                    "log": log.identity,
                },
            )

    def write(
        self, accepted: Sequence[Accepted], all_records: Sequence[SourceRecord], encoded: bytes | None = None
    ) -> BatchOutcome:
        """Store ``accepted`` and advance the offsets past ``all_records`` (valid or not), atomically.

        ``encoded``: ``accepted``'s COPY data, if the caller encoded it already (streams.copy_rows).

        Raises :class:`RecordsRefusedError` when the database refuses some records (nothing is stored then),
        :class:`BatchWriteError` when it cannot store the batch for any other reason.
        """
        if not all_records:
            return BatchOutcome()
        try:
            return self._write(accepted, all_records, encoded)  # rolled back when it raises
        except DATA_ERRORS as exc:
            refused = self._find_refused(accepted, all_records)
            if refused:
                raise RecordsRefusedError(refused) from exc
            raise BatchWriteError(
                "batch refused, but no single record is refused alone", records=len(all_records), error=_reason(exc)
            ) from exc
        except psycopg.Error as exc:
            raise BatchWriteError("batch not stored", records=len(all_records), error=str(exc).strip()) from exc
        except LogUnavailableError as exc:
            raise BatchWriteError(
                "batch not stored: its offsets could not be checked against Kafka's log",
                records=len(all_records),
                error=str(exc),
            ) from exc

    def _rollback(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.rollback()
            except psycopg.Error:
                self.close()

    def _lock_partitions(
        self,
        conn: psycopg.Connection,
        all_records: Sequence[SourceRecord],
        checked: Sequence[str] = (),
        samples: dict[str, Stored] | None = None,
    ) -> dict[int, int]:
        """Lock the batch's partitions; their stored next offsets. Refuses partitions that count another log.
        ``samples`` is filled with the stored revision and creator of the ``checked`` samples (those the revision
        rule checks), read under the locks in the same round trip."""
        params = {
            "group": self.group,
            "topic": self.topic,
            "log": self.log_identity,
            "partitions": sorted({r.partition for r in all_records}),
        }
        conn.execute(_NEW_PARTITIONS, params)
        locked = conn.execute(_LOCK_PARTITIONS, params)
        lookup = conn.execute(_STORED_SAMPLES, (sorted(set(checked)),)) if checked else None
        rows = {p: StoredOffset(o, log) for p, o, log in locked.fetchall()}
        if lookup is not None and samples is not None:
            samples.update(
                {sample_id: Stored(int(revision), created_by) for sample_id, revision, created_by in lookup.fetchall()}
            )
        if self.log_identity is not None:
            refused = {
                p: reason
                for p, row in rows.items()
                if (reason := identity_refusal(p, row, self.log_identity)) is not None
            }
            if refused:
                raise PartitionsRefusedError(refused)
        if self.guard is not None:
            offsets: dict[int, set[int]] = {}
            for r in all_records:
                offsets.setdefault(r.partition, set()).add(r.offset)
            skipping = {p for p, seen in offsets.items() if min(seen) < rows[p].next_offset}
            if skipping:
                self.guard.confirm_skips(rows, skipping)
            gaps = {p: gap for p, seen in offsets.items() if (gap := first_gap(rows[p].next_offset, seen)) is not None}
            if gaps:
                self.guard.confirm_gaps(rows, gaps)
        return {p: row.next_offset for p, row in rows.items()}

    def _write(
        self, accepted: Sequence[Accepted], all_records: Sequence[SourceRecord], encoded: bytes | None
    ) -> BatchOutcome:
        """Three round trips, where one per statement would be eight: the GIL is with the next batch's validation
        while this thread waits, and each wait for the server ends with a wait for the GIL (docs/benchmarks.md,
        step 8). BEGIN and the partition locks go in one pipeline; the COPY, which a pipeline cannot carry, alone;
        the statements and the COMMIT in a second pipeline. Any exception rolls back first (partition locks must
        not outlive a refused or out-of-order batch)."""
        conn = self._connection()
        outcome = BatchOutcome()
        try:
            samples: dict[str, Stored] = {}
            with conn.pipeline():
                checked = [a.result.sample_id for a in accepted if needs_lookup(a.record.sender)]
                stored = self._lock_partitions(conn, all_records, checked, samples)
            fresh = [a for a in accepted if a.record.offset >= stored.get(a.record.partition, 0)]
            _refuse_breaches(samples, fresh)
            fresh_records = [r for r in all_records if r.offset >= stored.get(r.partition, 0)]
            outcome.skipped = len(all_records) - len(fresh_records)
            if fresh:
                # The caller's encoding holds every accepted record: usable unless some were applied already.
                self._copy(conn, fresh, encoded if len(fresh) == len(accepted) else None)
            with conn.pipeline():
                if fresh:
                    history, changes = self._apply_copied(conn)
                    self._write_case_steps(conn, fresh)
                if fresh_records:
                    offsets = next_offsets(fresh_records)
                    conn.execute(
                        _OFFSETS,
                        {
                            "group": self.group,
                            "topic": self.topic,
                            "log": self.log_identity,
                            "partitions": list(offsets),
                            "offsets": list(offsets.values()),
                        },
                    )
                conn.commit()
            if fresh:
                outcome.stored = history.rowcount
                outcome.changed = {RollupKey(*row) for row in changes.fetchall()}
        except BaseException:
            self._rollback()
            raise
        return outcome

    def _copy(self, conn: psycopg.Connection, items: Sequence[Accepted], encoded: bytes | None = None) -> None:
        """``items`` into the session's ``incoming`` table (COPY data ``encoded`` if given)."""
        with conn.cursor() as cur, cur.copy(COPY) as copy:
            copy.write(encoded if encoded is not None else encode_rows(items))

    def _apply_copied(self, conn: psycopg.Connection) -> tuple[psycopg.Cursor, psycopg.Cursor]:
        """History, current verdicts, failures and rollups from ``incoming``: the cursors whose results say how
        many results were stored (history's rowcount) and which rollup keys changed (the rollup statement's rows).
        In a pipeline, read them once it synchronised."""
        history = conn.execute(HISTORY)
        changes = conn.execute(
            CURRENT_AND_ROLLUP,
            {"tz": self.timezone, "case_categories": self.case_categories, "first_revision": FIRST_REVISION},
        )
        return history, changes

    def _write_case_steps(self, conn: psycopg.Connection, items: Sequence[Accepted]) -> None:
        """The steps of the cases this batch opened, before its COMMIT. A round trip more, only for a batch with
        a failure of a category that opens cases (the deadlines are computed here, with the official calendar)."""
        categories = set(self.case_categories)
        failed = sorted(
            {a.result.sample_id for a in items if a.result.verdict is Verdict.FAIL and a.result.category in categories}
        )
        if failed:
            write_opening_steps(conn, self.case_table, self.case_soon_working_days, failed, self.calendar)

    def _apply(self, conn: psycopg.Connection, items: Sequence[Accepted]) -> None:
        """``items`` stored in the current transaction (a savepoint of the bisection)."""
        conn.execute("DELETE FROM incoming")  # a savepoint that succeeded left its rows (emptied only at commit)
        self._copy(conn, items)
        self._apply_copied(conn)

    def _find_refused(
        self, accepted: Sequence[Accepted], all_records: Sequence[SourceRecord]
    ) -> list[tuple[Accepted, str]]:
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

    def _bisect(self, conn: psycopg.Connection, items: Sequence[Accepted], refused: list[tuple[Accepted, str]]) -> None:
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
    psycopg.DataError,
    psycopg.IntegrityError,
    psycopg.errors.ProgramLimitExceeded,
    ValueError,
    OverflowError,
)


def _reason(exc: Exception) -> str:
    if isinstance(exc, psycopg.Error) and exc.diag.sqlstate:
        return f"database refused the record: {exc.diag.message_primary} (SQLSTATE {exc.diag.sqlstate})"
    return f"database refused the record: {type(exc).__name__}: {exc}"


def _refuse_breaches(samples: dict[str, Stored], fresh: Sequence[Accepted]) -> None:
    """RecordsRefusedError for records breaking the revision rule (qsmon.provenance): the caller dead-letters them
    and stores the rest."""
    refused = refusals(samples, [(a.result.sample_id, a.result.revision, a.record.sender) for a in fresh])
    if refused:
        raise RecordsRefusedError([(fresh[i], f"refused: {reason}") for i, reason in sorted(refused.items())])


def first_gap(next_offset: int, offsets: set[int]) -> tuple[int, int] | None:
    """The first jump in a partition's offsets from its stored next offset: (the offset expected, the one received
    instead). Offsets of a partition are consecutive; a jump inside a batch (records fetched before and after a
    seek, mixed) loses the records between as surely as one at its start."""
    expected = next_offset
    for offset in sorted(o for o in offsets if o >= next_offset):
        if offset > expected:
            return expected, offset
        expected = offset + 1
    return None


def stored_offset_total(conn: psycopg.Connection, group: str, topic: str) -> int:
    """Records the database has applied for a group and topic: equal to the topic's end offsets when caught up."""
    row = conn.execute(
        "SELECT coalesce(sum(next_offset), 0) FROM stream_offsets WHERE consumer_group = %s AND topic = %s",
        (group, topic),
    ).fetchone()
    return int(row[0]) if row else 0
