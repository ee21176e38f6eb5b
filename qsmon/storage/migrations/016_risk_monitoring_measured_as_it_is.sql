-- Risk monitoring measured as it is (issue #16): 问题发现率 (problem_rate: problem samples, verdict fail, over
-- samples) is a measure of its own, and risk monitoring never counts in an indicator that does not name it.
-- Python twins: indicators.evaluate._hits and indicators.filter.admits (tests show they agree).
CREATE OR REPLACE FUNCTION measure_hits(measure text, passed numeric, failed numeric, graded numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN measure IN ('fail_rate', 'problem_rate') THEN failed WHEN measure = 'grade_rate' THEN graded
                ELSE passed END
$$;

CREATE OR REPLACE FUNCTION filter_admits(categories text[], sampling_types text[], subcategories text[],
                                         stages text[], category text, sampling_type text, subcategory text,
                                         stage text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT category = ANY(categories)
       AND (CASE WHEN cardinality(sampling_types) = 0 THEN sampling_type <> 'risk_monitoring'
                 ELSE sampling_type = ANY(sampling_types) END)
       AND (cardinality(subcategories) = 0 OR subcategory = ANY(subcategories))
       AND (cardinality(stages) = 0 OR stage = ANY(stages))
$$;
