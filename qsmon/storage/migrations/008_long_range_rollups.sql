-- Panels over years of data. The daily rollup of one city holds ~170 rows a day (its key is what varies), so three
-- years are ~180k rows: too many to answer in 100 ms once joined to an indicator's filters. Two additions, both
-- maintained by the worker in the statement that already moves a corrected sample out of the old counts and into
-- the new ones, so they stay exact under corrections and redelivery, on TimescaleDB's Apache-2 edition too:
-- * rollup_monthly: rollup_daily's dimensions by local calendar month; rollup_rows() reads whole months from it and
--   the days of partial months from rollup_daily.
-- * failure_current: the current failed samples only (a few percent of all), with what the failure panels show
--   and group by, so they never join the history hypertable.

-- rollup_daily's columns and defaults, keyed by month instead of day.
CREATE TABLE rollup_monthly (LIKE rollup_daily INCLUDING DEFAULTS);
ALTER TABLE rollup_monthly RENAME COLUMN day TO month;  -- the first day of the local (Asia/Shanghai) month
ALTER TABLE rollup_monthly ADD PRIMARY KEY (month, category, subcategory, sampling_type, stage, region_code, grade);

INSERT INTO rollup_monthly (month, category, subcategory, sampling_type, stage, region_code, grade,
    tested, passed, failed, score_sum, score_count, score_sq_sum)
SELECT date_trunc('month', day)::date, category, subcategory, sampling_type, stage, region_code, grade,
    sum(tested), sum(passed), sum(failed), sum(score_sum), sum(score_count), sum(score_sq_sum)
FROM rollup_daily
GROUP BY 1, category, subcategory, sampling_type, stage, region_code, grade;

-- The local days first..last as whole calendar periods (unit 'month' or 'year'; NULL: none) and the days left
-- over at either end: [whole_from, whole_until) is read from a rollup of that unit, head_from..head_to and
-- tail_from..tail_to (empty when from > to) from a daily source.
CREATE FUNCTION period_spans(first date, last date, unit text,
    OUT whole_from date, OUT whole_until date, OUT head_from date, OUT head_to date, OUT tail_from date,
    OUT tail_to date)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT w.whole_from, w.whole_until, first, least(last, w.whole_from - 1),
        greatest(first, w.whole_from, w.whole_until), last
    FROM (SELECT coalesce((date_trunc(unit, first - 1) + ('1 ' || unit)::interval)::date, last + 1) AS whole_from,
                 coalesce(date_trunc(unit, last + 1)::date, last + 1) AS whole_until) w
$$;

-- The rollup rows that cover the local days first..last: with whole_months, complete calendar months come from
-- rollup_monthly (their `day` is the month's first day) and only the partial months at either end from
-- rollup_daily; without, every row is daily (for day and week buckets). A single SELECT, so the planner inlines it
-- and the caller's filters reach both tables' indexes; the spans are computed once (MATERIALIZED), not per row.
CREATE FUNCTION rollup_rows(first date, last date, whole_months boolean DEFAULT true)
RETURNS TABLE (day date, category text, subcategory text, sampling_type text, stage text, region_code text,
               grade text, tested bigint, passed bigint, failed bigint, score_sum numeric, score_count bigint,
               score_sq_sum numeric)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH s AS MATERIALIZED (
        SELECT * FROM period_spans(first, last, CASE WHEN whole_months THEN 'month' END)
    )
    SELECT m.month, m.category, m.subcategory, m.sampling_type, m.stage, m.region_code, m.grade,
        m.tested, m.passed, m.failed, m.score_sum, m.score_count, m.score_sq_sum
    FROM s JOIN rollup_monthly m ON m.month >= s.whole_from AND m.month < s.whole_until
    UNION ALL
    SELECT d.day, d.category, d.subcategory, d.sampling_type, d.stage, d.region_code, d.grade,
        d.tested, d.passed, d.failed, d.score_sum, d.score_count, d.score_sq_sum
    FROM s JOIN rollup_daily d ON d.day BETWEEN s.head_from AND s.head_to
    UNION ALL
    SELECT d.day, d.category, d.subcategory, d.sampling_type, d.stage, d.region_code, d.grade,
        d.tested, d.passed, d.failed, d.score_sum, d.score_count, d.score_sq_sum
    FROM s JOIN rollup_daily d ON d.day BETWEEN s.tail_from AND s.tail_to
$$;

CREATE TABLE failure_current (
    sample_id     text PRIMARY KEY,
    revision      integer     NOT NULL,
    sampled_at    timestamptz NOT NULL,
    day           date        NOT NULL,   -- local day of sampled_at
    category      text        NOT NULL,
    subcategory   text        NOT NULL,
    sampling_type text        NOT NULL,
    stage         text        NOT NULL,
    region_code   text        NOT NULL,
    product       text,
    manufacturer  text,
    sampled_unit  text,
    lab           text,
    failed_items  jsonb       NOT NULL DEFAULT '[]'
);
CREATE INDEX failure_current_sampled_at ON failure_current (sampled_at DESC);
CREATE INDEX failure_current_day ON failure_current (day);

INSERT INTO failure_current (sample_id, revision, sampled_at, day, category, subcategory, sampling_type, stage,
    region_code, product, manufacturer, sampled_unit, lab, failed_items)
SELECT c.sample_id, c.revision, c.sampled_at, c.day, c.category, c.subcategory, c.sampling_type, c.stage,
    c.region_code, r.product,
    r.manufacturer, r.sampled_unit, r.lab, r.failed_items
FROM sample_current c
JOIN inspection_results r ON r.sample_id = c.sample_id AND r.revision = c.revision AND r.sampled_at = c.sampled_at
WHERE c.verdict = 'fail';

-- Failed test items by month: a few dozen items, so three years are a few thousand rows.
CREATE TABLE failed_item_monthly (
    month       date   NOT NULL,
    region_code text   NOT NULL,
    category    text   NOT NULL,
    item        text   NOT NULL,
    failures    bigint NOT NULL,     -- current failed samples listing the item
    PRIMARY KEY (month, region_code, category, item)
);
INSERT INTO failed_item_monthly
SELECT date_trunc('month', day)::date, region_code, category, i->>'item', count(*)
FROM failure_current, jsonb_array_elements(failed_items) i
GROUP BY 1, 2, 3, 4;

-- Failures by firm (manufacturer, else sampled unit) and product, by year: a firm fails about once a month at most,
-- so a monthly rollup would be as large as failure_current; a yearly one is an order of magnitude smaller.
CREATE TABLE failed_firm_yearly (
    year        date   NOT NULL,     -- 1 January
    region_code text   NOT NULL,
    category    text   NOT NULL,
    firm        text   NOT NULL,
    product     text   NOT NULL,
    failures    bigint NOT NULL,
    PRIMARY KEY (year, region_code, category, firm, product)
);
INSERT INTO failed_firm_yearly
SELECT date_trunc('year', day)::date, region_code, category, coalesce(manufacturer, sampled_unit),
    coalesce(product, ''), count(*)
FROM failure_current WHERE coalesce(manufacturer, sampled_unit) IS NOT NULL
GROUP BY 1, 2, 3, 4, 5;

-- The failure counts over local days first..last: whole periods from the rollups, the rest from failure_current.
CREATE FUNCTION failed_item_counts(first date, last date)
RETURNS TABLE (region_code text, category text, item text, failures bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH s AS MATERIALIZED (SELECT * FROM period_spans(first, last, 'month'))
    SELECT m.region_code, m.category, m.item, m.failures
    FROM s JOIN failed_item_monthly m ON m.month >= s.whole_from AND m.month < s.whole_until
    UNION ALL
    SELECT f.region_code, f.category, i->>'item', 1
    FROM s JOIN failure_current f ON f.day BETWEEN s.head_from AND s.head_to OR f.day BETWEEN s.tail_from AND s.tail_to
    CROSS JOIN LATERAL jsonb_array_elements(f.failed_items) i
$$;

-- A range ending on or after the newest failure (a dashboard's "now") reads its last year whole: the yearly row
-- holds nothing later than that failure. Otherwise a 3-year range would read most of a year of failures one by one.
CREATE FUNCTION failed_firm_counts(first date, last date)
RETURNS TABLE (region_code text, category text, firm text, product text, failures bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH s AS MATERIALIZED (
        SELECT * FROM period_spans(first, CASE WHEN last >= (SELECT max(day) FROM failure_current)
                                               THEN (date_trunc('year', last) + interval '1 year - 1 day')::date
                                               ELSE last END, 'year')
    )
    SELECT y.region_code, y.category, y.firm, y.product, y.failures
    FROM s JOIN failed_firm_yearly y ON y.year >= s.whole_from AND y.year < s.whole_until
    UNION ALL
    SELECT f.region_code, f.category, coalesce(f.manufacturer, f.sampled_unit), coalesce(f.product, ''), 1
    FROM s JOIN failure_current f ON f.day BETWEEN s.head_from AND s.head_to OR f.day BETWEEN s.tail_from AND s.tail_to
    WHERE coalesce(f.manufacturer, f.sampled_unit) IS NOT NULL
$$;

-- Replaced by failure_current: one index fewer to maintain on every sample's current row.
DROP INDEX IF EXISTS sample_current_failures;

-- Dashboard queries run in milliseconds; PostgreSQL's JIT, triggered by the set-returning functions' row estimates,
-- spent 20-60 ms compiling each of them. Off for this database (new sessions; the migrating role owns it).
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
END
$$;
