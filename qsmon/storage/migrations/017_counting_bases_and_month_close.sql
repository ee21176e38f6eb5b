-- Counting bases and month close (issue #16).
--
-- The rollups count a result on its sampling day, for the place it was sampled, at every sampling level: what
-- most indicators ask. An indicator that counts otherwise (a plan counting by report or announcement date, an
-- indicator counting by the manufacturer's place, or one sampling level only) is counted from the current
-- verdicts instead, by counted_rows(). Which indicators do is decided in Python (qsmon.plans.counting.Counting
-- .from_rollups) and stored in plan_indicators.from_rollups; SQL only reads that column.

ALTER TABLE sample_current ADD COLUMN reported_at timestamptz, ADD COLUMN announced_on date;
UPDATE sample_current c SET reported_at = r.reported_at, announced_on = r.announcement_date
FROM inspection_results r
WHERE r.sample_id = c.sample_id AND r.revision = c.revision AND r.sampled_at = c.sampled_at;
CREATE INDEX sample_current_reported_at ON sample_current (reported_at);
CREATE INDEX sample_current_announced_on ON sample_current (announced_on) WHERE announced_on IS NOT NULL;

ALTER TABLE plan_indicators
    ADD COLUMN counting_date   text    NOT NULL DEFAULT 'sampled',
    ADD COLUMN place           text    NOT NULL DEFAULT 'sampling_site',
    ADD COLUMN sampling_levels text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN from_rollups    boolean NOT NULL DEFAULT true;

-- The current verdicts of local days first..last on the chosen counting date, for the chosen place, at the chosen
-- sampling levels (empty: all; Python twin Filter.admits_level), in rollup_rows()'s shape. A void sample counts
-- nowhere: the rule of streams.batch_sql and streams.rebuild._COUNTED. A result without a manufacturer's place
-- counts for no place when counted by it, and one not yet announced on no day when counted by announcement.
-- SECURITY DEFINER: Grafana's role reads these sums, never the per-sample table.
CREATE FUNCTION counted_rows(first date, last date, tz text, counting_date text, place text, levels text[])
RETURNS TABLE (day date, category text, subcategory text, sampling_type text, stage text, region_code text,
               grade text, tested bigint, passed bigint, failed bigint, score_sum numeric, score_count bigint,
               score_sq_sum numeric)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    WITH picked AS (  -- one branch runs: the others' conditions on the arguments are false before any scan
        SELECT c.day AS counted_on, c.* FROM sample_current c
        WHERE counting_date = 'sampled' AND c.day BETWEEN first AND last
        UNION ALL
        SELECT (c.reported_at AT TIME ZONE tz)::date, c.* FROM sample_current c
        WHERE counting_date = 'reported' AND c.reported_at >= (first::timestamp AT TIME ZONE tz)
          AND c.reported_at < ((last + 1)::timestamp AT TIME ZONE tz)
        UNION ALL
        SELECT c.announced_on, c.* FROM sample_current c
        WHERE counting_date = 'announced' AND c.announced_on BETWEEN first AND last
    )
    SELECT counted_on, category, subcategory, sampling_type, stage,
        CASE WHEN place = 'manufacturer' THEN manufacturer_region_code ELSE region_code END, grade,
        count(*) FILTER (WHERE verdict <> 'void'), count(*) FILTER (WHERE verdict = 'pass'),
        count(*) FILTER (WHERE verdict = 'fail'), coalesce(sum(score::numeric) FILTER (WHERE verdict <> 'void'), 0),
        count(score) FILTER (WHERE verdict <> 'void'),
        coalesce(sum(score::numeric * score::numeric) FILTER (WHERE verdict <> 'void'), 0)
    FROM picked
    WHERE (cardinality(levels) = 0 OR sampling_level = ANY(levels))
      AND (place <> 'manufacturer' OR manufacturer_region_code IS NOT NULL)
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    HAVING count(*) FILTER (WHERE verdict <> 'void') > 0
$$;
REVOKE ALL ON FUNCTION counted_rows(date, date, text, text, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION counted_rows(date, date, text, text, text, text[]) TO qsmon_grafana;

-- Month close: what was reported upward for a month, frozen (`qsmon months close`). Later corrections show as
-- the difference between these figures and the current ones (the monthly report's 上报后更正 lines).
CREATE TABLE month_closes (
    month     date PRIMARY KEY CHECK (extract(day FROM month) = 1),
    closed_at timestamptz NOT NULL DEFAULT now(),
    closed_by text NOT NULL,
    note      text
);
CREATE TABLE month_reported_figures (
    month        date NOT NULL REFERENCES month_closes ON DELETE CASCADE,
    plan_id      text NOT NULL,
    indicator_id text NOT NULL,
    region_code  text NOT NULL,
    samples      bigint NOT NULL,
    failed       bigint NOT NULL,
    value        double precision,  -- NULL without samples
    PRIMARY KEY (month, plan_id, indicator_id, region_code)
);
GRANT SELECT ON month_closes, month_reported_figures TO qsmon_grafana;

-- The counting basis in words for the dashboards: indicators.labels.counting_text's SQL twin (a test compares them).
CREATE FUNCTION counting_text(counting_date text, place text, levels text[]) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT '按' || label('counting_date', counting_date) || '、' || label('place', place) || '统计'
        || CASE WHEN cardinality(levels) = 0 THEN ''
                ELSE '(仅' || (SELECT string_agg(label('sampling_level', l), '、' ORDER BY o)
                               FROM unnest(levels) WITH ORDINALITY AS u(l, o)) || ')' END
$$;
