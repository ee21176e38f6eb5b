-- 003 added rollup_daily.score_sq_sum with a default of 0: rows rolled up before it lack their Σx².
-- Recompute it from the stored final verdicts; the worker maintains it from here on.
UPDATE rollup_daily r SET score_sq_sum = t.sq
FROM (
    SELECT day, category, subcategory, sampling_type, stage, region_code, grade,
        sum(score::numeric * score::numeric) AS sq
    FROM sample_current
    WHERE score IS NOT NULL
    GROUP BY day, category, subcategory, sampling_type, stage, region_code, grade
) t
WHERE (r.day, r.category, r.subcategory, r.sampling_type, r.stage, r.region_code, r.grade)
    = (t.day, t.category, t.subcategory, t.sampling_type, t.stage, t.region_code, t.grade)
  AND r.score_sq_sum IS DISTINCT FROM t.sq;
