-- Rollups by the place of manufacture (issue #16): 制造业产品质量合格率 counts products made in the city, and counting
-- it from the current verdicts took a second or more per query on 10 million results (docs/benchmarks.md). These
-- twins of rollup_daily and rollup_monthly hold the same counts keyed by manufacturer_region_code (in their
-- region_code column) for results that have one; the worker maintains them in its batch statement
-- (streams.batch_sql) and `qsmon rollups rebuild` audits them (streams.rebuild). Which source an indicator reads
-- is qsmon.plans.counting.Counting.source, stored in plan_indicators.counting_source.
CREATE TABLE rollup_daily_made (LIKE rollup_daily INCLUDING DEFAULTS);
ALTER TABLE rollup_daily_made ADD PRIMARY KEY (day, category, subcategory, sampling_type, stage, region_code, grade);
CREATE TABLE rollup_monthly_made (LIKE rollup_monthly INCLUDING DEFAULTS);
ALTER TABLE rollup_monthly_made
    ADD PRIMARY KEY (month, category, subcategory, sampling_type, stage, region_code, grade);

-- A void sample counts nowhere: the rule of streams.rebuild._COUNTED.
INSERT INTO rollup_daily_made (day, category, subcategory, sampling_type, stage, region_code, grade, tested, passed,
    failed, score_sum, score_count, score_sq_sum)
SELECT day, category, subcategory, sampling_type, stage, manufacturer_region_code, grade,
    count(*) FILTER (WHERE verdict <> 'void'), count(*) FILTER (WHERE verdict = 'pass'),
    count(*) FILTER (WHERE verdict = 'fail'), coalesce(sum(score::numeric) FILTER (WHERE verdict <> 'void'), 0),
    count(score) FILTER (WHERE verdict <> 'void'),
    coalesce(sum(score::numeric * score::numeric) FILTER (WHERE verdict <> 'void'), 0)
FROM sample_current WHERE manufacturer_region_code IS NOT NULL
GROUP BY day, category, subcategory, sampling_type, stage, manufacturer_region_code, grade
HAVING count(*) FILTER (WHERE verdict <> 'void') > 0;
INSERT INTO rollup_monthly_made (month, category, subcategory, sampling_type, stage, region_code, grade, tested,
    passed, failed, score_sum, score_count, score_sq_sum)
SELECT date_trunc('month', day)::date, category, subcategory, sampling_type, stage, region_code, grade, sum(tested),
    sum(passed), sum(failed), sum(score_sum), sum(score_count), sum(score_sq_sum)
FROM rollup_daily_made GROUP BY 1, category, subcategory, sampling_type, stage, region_code, grade;

-- rollup_rows() over the twins: whole months from the monthly one, the partial months' days from the daily one.
CREATE FUNCTION rollup_rows_made(first date, last date, whole_months boolean DEFAULT true)
RETURNS TABLE (day date, category text, subcategory text, sampling_type text, stage text, region_code text,
               grade text, tested bigint, passed bigint, failed bigint, score_sum numeric, score_count bigint,
               score_sq_sum numeric)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH s AS MATERIALIZED (
        SELECT * FROM period_spans(first, last, CASE WHEN whole_months THEN 'month' END)
    )
    SELECT m.month, m.category, m.subcategory, m.sampling_type, m.stage, m.region_code, m.grade,
        m.tested, m.passed, m.failed, m.score_sum, m.score_count, m.score_sq_sum
    FROM s JOIN rollup_monthly_made m ON m.month >= s.whole_from AND m.month < s.whole_until
    UNION ALL
    SELECT d.day, d.category, d.subcategory, d.sampling_type, d.stage, d.region_code, d.grade,
        d.tested, d.passed, d.failed, d.score_sum, d.score_count, d.score_sq_sum
    FROM s JOIN rollup_daily_made d ON d.day BETWEEN s.head_from AND s.head_to
    UNION ALL
    SELECT d.day, d.category, d.subcategory, d.sampling_type, d.stage, d.region_code, d.grade,
        d.tested, d.passed, d.failed, d.score_sum, d.score_count, d.score_sq_sum
    FROM s JOIN rollup_daily_made d ON d.day BETWEEN s.tail_from AND s.tail_to
$$;

ALTER TABLE plan_indicators ADD COLUMN counting_source text NOT NULL DEFAULT 'rollups'
    CHECK (counting_source IN ('rollups', 'made_rollups', 'current'));
GRANT SELECT ON rollup_daily_made, rollup_monthly_made TO qsmon_grafana;
