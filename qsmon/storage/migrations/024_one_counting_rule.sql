-- One counting rule (issue #30): the SQL twins of indicators.counting, each shown equal to its Python rule by
-- tests/integration/test_counting_rule.py.

-- Sampling types standing apart from every total (indicators.counting.APART / in_totals): risk monitoring looks
-- for problems, surveys give scores. The dashboards, the read API and the report's SQL read totals through this.
CREATE FUNCTION in_totals(sampling_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sampling_type <> ALL (ARRAY['risk_monitoring', 'survey'])
$$;

-- An indicator that names no sampling type counts the types in totals: the same set as every total (it left
-- surveys in until now, a second default).
CREATE OR REPLACE FUNCTION filter_admits(categories text[], sampling_types text[], subcategories text[],
                                         stages text[], category text, sampling_type text, subcategory text,
                                         stage text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT category = ANY(categories)
       AND (CASE WHEN cardinality(sampling_types) = 0 THEN in_totals(sampling_type)
                 ELSE sampling_type = ANY(sampling_types) END)
       AND (cardinality(subcategories) = 0 OR subcategory = ANY(subcategories))
       AND (cardinality(stages) = 0 OR stage = ANY(stages))
$$;

-- A rate in percent; NULL without tested results, never zero (indicators.counting.rate). One IEEE division of
-- exact integers, as Python's 100 * hit / tested: the same float, so the same two decimals when shown.
CREATE FUNCTION rate_pct(hits numeric, tested numeric) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN tested > 0 THEN (100 * hits)::double precision / tested::double precision END
$$;

-- Stale: whether an indicator reads the rollups is plan_indicators.counting_source (qsmon.plans.counting).
ALTER TABLE plan_indicators DROP COLUMN from_rollups;

-- The failed items' and firms' rollups count failures in totals only: risk monitoring's problem samples are not
-- 不合格, and no firm is named on them (the dashboards' 主要不合格项目 and 多次不合格企业 panels read these).
-- The worker's deltas (streams.batch_sql) and the rebuild (streams.rebuild) keep the same rule.
DELETE FROM failed_item_monthly;
INSERT INTO failed_item_monthly
SELECT date_trunc('month', day)::date, region_code, category, i->>'item', count(*)
FROM failure_current, jsonb_array_elements(failed_items) i
WHERE in_totals(sampling_type)
GROUP BY 1, 2, 3, 4;
DELETE FROM failed_firm_yearly;
INSERT INTO failed_firm_yearly
SELECT date_trunc('year', day)::date, region_code, category, coalesce(manufacturer, sampled_unit),
    coalesce(product, ''), count(*)
FROM failure_current WHERE coalesce(manufacturer, sampled_unit) IS NOT NULL AND in_totals(sampling_type)
GROUP BY 1, 2, 3, 4, 5;

CREATE OR REPLACE FUNCTION failed_item_counts(first date, last date)
RETURNS TABLE (region_code text, category text, item text, failures bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH s AS MATERIALIZED (SELECT * FROM period_spans(first, last, 'month'))
    SELECT m.region_code, m.category, m.item, m.failures
    FROM s JOIN failed_item_monthly m ON m.month >= s.whole_from AND m.month < s.whole_until
    UNION ALL
    SELECT f.region_code, f.category, i->>'item', 1
    FROM s JOIN failure_current f ON f.day BETWEEN s.head_from AND s.head_to OR f.day BETWEEN s.tail_from AND s.tail_to
    CROSS JOIN LATERAL jsonb_array_elements(f.failed_items) i
    WHERE in_totals(f.sampling_type)
$$;

CREATE OR REPLACE FUNCTION failed_firm_counts(first date, last date)
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
    WHERE coalesce(f.manufacturer, f.sampled_unit) IS NOT NULL AND in_totals(f.sampling_type)
$$;
