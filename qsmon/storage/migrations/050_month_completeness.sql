-- Whether a month's data is complete (数据完整性): the twin of qsmon.completeness.reasons, whose constants it
-- repeats (ENDS_EARLY_DAYS 7, LOW_SHARE 0.5, MIN_USUAL 20); tests/integration/test_completeness.py checks they agree.
CREATE FUNCTION month_incomplete_reasons(first date, tested bigint, last_day date, usual numeric, today date)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH m AS (
        SELECT (date_trunc('month', first) + interval '1 month - 1 day')::date AS last,
               coalesce(usual >= 20, false) AS expected
    )
    SELECT CASE WHEN today <= m.last THEN ARRAY['in_progress']
           ELSE array_remove(ARRAY[
                CASE WHEN m.expected AND (last_day IS NULL OR tested = 0) THEN 'no_data'
                     WHEN m.expected AND last_day IS NOT NULL AND m.last - last_day >= 7 THEN 'ends_early' END,
                CASE WHEN m.expected AND tested > 0 AND tested < 0.5 * usual THEN 'low_volume' END
           ], NULL) END
    FROM m
$$;
