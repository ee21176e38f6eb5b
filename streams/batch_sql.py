"""The SQL of one batch: the temp table it is copied into, history, and the statement that moves current verdicts,
current failures and every rollup by the batch's deltas. streams.store runs them; streams.rebuild recomputes what
they maintain from the same dimension and column lists."""

from __future__ import annotations

from qsmon.plans.counting import COUNTED_SQL
from streams.records import COLUMNS

TEMP_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS incoming (
    sample_id text, revision int, sampled_at timestamptz, reported_at timestamptz, category text,
    subcategory text, sampling_type text, stage text, region_code text, verdict text, grade text,
    score double precision, product text, brand text, spec text, batch text, manufacturer text,
    sampled_unit text, lab text, source text, failed_items text, kafka_partition int, kafka_offset bigint,
    produced_at timestamptz, manufacturer_region_code text, sampling_level text, task_source text,
    announcement_no text, announcement_date date, retest_status text, manufacturer_address text,
    sampled_unit_address text, sender text, sender_principal text
) ON COMMIT DELETE ROWS
"""
COPY = f"COPY incoming ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"

HISTORY = """
INSERT INTO inspection_results (sample_id, revision, sampled_at, reported_at, category, subcategory, sampling_type,
    stage, region_code, verdict, grade, score, product, brand, spec, batch, manufacturer, sampled_unit, lab, source,
    failed_items, kafka_partition, kafka_offset, produced_at, manufacturer_region_code, sampling_level, task_source,
    announcement_no, announcement_date, retest_status, manufacturer_address, sampled_unit_address, sender)
SELECT sample_id, revision, sampled_at, reported_at, category, subcategory, sampling_type, stage, region_code,
    verdict, grade, score, product, brand, spec, batch, manufacturer, sampled_unit, lab, source,
    failed_items::jsonb, kafka_partition, kafka_offset, produced_at, manufacturer_region_code, sampling_level,
    task_source, announcement_no, announcement_date, retest_status, manufacturer_address, sampled_unit_address,
    sender
FROM incoming
ON CONFLICT DO NOTHING
"""

# The final verdict per sample, the current failures and every rollup's deltas, in one statement. `prev` and
# `failures_before` read the rows the upserts are about to replace (all sub-statements share one snapshot); the
# partition locks guarantee no other writer touches these samples. Only samples whose current revision moved
# (`upserted`) change the failures and the rollups.
ROLLUP_DIMENSIONS = "category, subcategory, sampling_type, stage, region_code, grade"
ROLLUP_COUNTS = "tested, passed, failed, score_sum, score_count, score_sq_sum"
FAILURE_COLUMNS = (
    "sample_id",
    "revision",
    "sampled_at",
    "day",
    "category",
    "subcategory",
    "sampling_type",
    "stage",
    "region_code",
    "product",
    "manufacturer",
    "sampled_unit",
    "lab",
    "failed_items",
)
# The counts a batch's deltas (+1 new, -1 replaced) add to a rollup key. A void sample counts nowhere (COUNTED_SQL).
_DELTA_COUNTS = f"""sum(CASE WHEN {COUNTED_SQL} THEN sign ELSE 0 END) AS tested,
        sum(CASE WHEN verdict = 'pass' THEN sign ELSE 0 END) AS passed,
        sum(CASE WHEN verdict = 'fail' THEN sign ELSE 0 END) AS failed,
        coalesce(sum(CASE WHEN {COUNTED_SQL} THEN sign * score::numeric END), 0) AS score_sum,
        sum(CASE WHEN score IS NOT NULL AND {COUNTED_SQL} THEN sign ELSE 0 END) AS score_count,
        coalesce(sum(CASE WHEN {COUNTED_SQL} THEN sign * score::numeric * score::numeric END), 0) AS score_sq_sum"""
# The rollup dimensions with the place of manufacture in the region's column (rollup_*_made).
_MADE_DIMENSIONS = "category, subcategory, sampling_type, stage, manufacturer_region_code AS region_code, grade"
_ADD_COUNTS = ", ".join(f"{c} = r.{c} + excluded.{c}" for c in ROLLUP_COUNTS.split(", "))
CURRENT_AND_ROLLUP = f"""
WITH batch AS (
    SELECT DISTINCT ON (sample_id) sample_id, revision, sampled_at,
        (sampled_at AT TIME ZONE %(tz)s)::date AS day, category, subcategory, sampling_type, stage, region_code,
        verdict, grade, score, product, manufacturer, sampled_unit, lab, failed_items::jsonb AS failed_items,
        (reported_at AT TIME ZONE %(tz)s)::date AS reported_day, manufacturer_region_code, sampling_level,
        reported_at, announcement_date, sender,
        -- a sample new in this batch was created by its lowest revision's sender (qsmon.provenance)
        first_value(sender_principal) OVER (PARTITION BY sample_id ORDER BY revision, kafka_partition,
                                            kafka_offset) AS created_by
    FROM incoming
    ORDER BY sample_id, revision DESC, kafka_partition, kafka_offset
), prev AS (  -- a first revision replaces nothing: only later ones are looked up
    SELECT c.day, c.category, c.subcategory, c.sampling_type, c.stage, c.region_code, c.grade, c.verdict, c.score,
        c.manufacturer_region_code
    FROM sample_current c JOIN batch b USING (sample_id)
    WHERE b.revision > %(first_revision)s AND c.revision < b.revision
), upserted AS (
    INSERT INTO sample_current AS c (sample_id, revision, sampled_at, day, category, subcategory, sampling_type,
        stage, region_code, verdict, grade, score, manufacturer_region_code, sampling_level, reported_at,
        announced_on, sender, created_by)
    SELECT sample_id, revision, sampled_at, day, category, subcategory, sampling_type, stage, region_code,
        verdict, grade, score, manufacturer_region_code, sampling_level, reported_at, announcement_date, sender,
        created_by
    FROM batch
    ON CONFLICT (sample_id) DO UPDATE SET
        revision = excluded.revision, sampled_at = excluded.sampled_at, day = excluded.day,
        category = excluded.category, subcategory = excluded.subcategory, sampling_type = excluded.sampling_type,
        stage = excluded.stage, region_code = excluded.region_code, verdict = excluded.verdict,
        grade = excluded.grade, score = excluded.score, manufacturer_region_code = excluded.manufacturer_region_code,
        sampling_level = excluded.sampling_level, reported_at = excluded.reported_at,
        announced_on = excluded.announced_on, sender = excluded.sender, updated_at = now()
    WHERE c.revision < excluded.revision
    RETURNING c.sample_id, c.revision, c.day, c.category, c.subcategory, c.sampling_type, c.stage, c.region_code,
        c.grade, c.verdict, c.score, c.manufacturer_region_code
), replaced AS (  -- upserted samples that may have had a current row: a first revision was inserted, not replaced
    SELECT sample_id, verdict, revision FROM upserted WHERE revision > %(first_revision)s
), failures_before AS (  -- the failures being replaced, as the snapshot still has them
    SELECT f.* FROM failure_current f JOIN replaced USING (sample_id)
), failures_after AS (
    SELECT b.* FROM upserted u JOIN batch b USING (sample_id) WHERE u.verdict = 'fail'
), failures_passed AS (
    DELETE FROM failure_current f USING replaced r WHERE f.sample_id = r.sample_id AND r.verdict <> 'fail'
), failures_failed AS (
    INSERT INTO failure_current AS f ({", ".join(FAILURE_COLUMNS)})
    SELECT {", ".join(FAILURE_COLUMNS)} FROM failures_after
    ON CONFLICT (sample_id) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in FAILURE_COLUMNS[1:])}
    WHERE f.revision < excluded.revision
), failure_deltas AS (  -- the failed items' and firms' rollups count failures in totals only (in_totals)
    SELECT day, region_code, category, product, coalesce(manufacturer, sampled_unit) AS firm, failed_items,
        1 AS sign
    FROM failures_after WHERE in_totals(sampling_type)
    UNION ALL
    SELECT day, region_code, category, product, coalesce(manufacturer, sampled_unit), failed_items, -1
    FROM failures_before WHERE in_totals(sampling_type)
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
), cases_opened AS (  -- a final fail opens the sample's follow-up case (categories with deadlines only)
    INSERT INTO cases AS k (sample_id, revision, category, region_code, product, firm, opened_on,
        manufacturer_region_code)
    SELECT sample_id, revision, category, region_code, product, coalesce(manufacturer, sampled_unit), reported_day,
        manufacturer_region_code
    FROM failures_after  -- not a second join of the CTEs: the planner, blind to their sizes, nested-looped it
    WHERE category = ANY(%(case_categories)s::text[])  -- (116 of 220 ms per 5,000 results; docs/benchmarks.md)
    ON CONFLICT (sample_id) DO UPDATE SET revision = excluded.revision, updated_at = now(),
        status = CASE WHEN k.status = 'overturned' THEN 'open' ELSE k.status END,
        closed_on = CASE WHEN k.status = 'overturned' THEN NULL ELSE k.closed_on END
    WHERE k.revision < excluded.revision
), cases_overturned AS (  -- a later revision that is not a fail (复检, 异议 upheld) closes it as overturned
    UPDATE cases k SET status = 'overturned', revision = b.revision, closed_on = b.reported_day, updated_at = now()
    FROM replaced r JOIN batch b USING (sample_id)
    WHERE k.sample_id = r.sample_id AND r.verdict <> 'fail' AND k.status = 'open' AND k.revision < b.revision
), deltas AS (
    SELECT day, {ROLLUP_DIMENSIONS}, verdict, score, manufacturer_region_code, 1 AS sign FROM upserted
    UNION ALL
    SELECT day, {ROLLUP_DIMENSIONS}, verdict, score, manufacturer_region_code, -1 AS sign FROM prev
), made AS (  -- the same deltas keyed by the place of manufacture, where known (rollup_*_made, migration 020)
    SELECT day, {_MADE_DIMENSIONS}, {_DELTA_COUNTS}
    FROM deltas WHERE manufacturer_region_code IS NOT NULL
    GROUP BY day, category, subcategory, sampling_type, stage, manufacturer_region_code, grade
), made_daily AS (
    INSERT INTO rollup_daily_made AS r (day, {ROLLUP_DIMENSIONS}, {ROLLUP_COUNTS})
    SELECT * FROM made
    WHERE ({ROLLUP_COUNTS}) <> (0, 0, 0, 0, 0, 0)
    ORDER BY day, {ROLLUP_DIMENSIONS}
    ON CONFLICT (day, {ROLLUP_DIMENSIONS}) DO UPDATE SET {_ADD_COUNTS}
), made_monthly AS (
    INSERT INTO rollup_monthly_made AS r (month, {ROLLUP_DIMENSIONS}, {ROLLUP_COUNTS})
    SELECT date_trunc('month', day)::date, {ROLLUP_DIMENSIONS}, sum(tested), sum(passed), sum(failed),
        sum(score_sum), sum(score_count), sum(score_sq_sum)
    FROM made
    GROUP BY 1, {ROLLUP_DIMENSIONS}
    HAVING (sum(tested), sum(passed), sum(failed), sum(score_sum), sum(score_count), sum(score_sq_sum))
        <> (0, 0, 0, 0, 0, 0)
    ORDER BY 1, {ROLLUP_DIMENSIONS}
    ON CONFLICT (month, {ROLLUP_DIMENSIONS}) DO UPDATE SET {_ADD_COUNTS}
), grouped AS (
    SELECT day, {ROLLUP_DIMENSIONS}, {_DELTA_COUNTS}
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
