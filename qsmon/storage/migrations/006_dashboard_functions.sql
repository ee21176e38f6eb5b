-- SQL helpers for the dashboards' panel queries: the same region rules and interval as the Python side.

-- GB/T 2260: a province (xx0000) or city (xxxx00) code covers the codes below it.
CREATE FUNCTION region_pattern(code text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN code LIKE '%0000' THEN left(code, 2) || '%'
                WHEN code LIKE '%00' THEN left(code, 4) || '%'
                ELSE code END
$$;

-- Wilson score interval (95 %) of x successes in n, in percent; NULL without samples.
CREATE FUNCTION wilson_low(x numeric, n numeric) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN n > 0 THEN 100 * greatest(0, (
        (x / n + 1.959963984540054 ^ 2 / (2 * n))
        - 1.959963984540054 * sqrt((x / n) * (1 - x / n) / n + 1.959963984540054 ^ 2 / (4 * n * n))
    ) / (1 + 1.959963984540054 ^ 2 / n)) END
$$;
CREATE FUNCTION wilson_high(x numeric, n numeric) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN n > 0 THEN 100 * least(1, (
        (x / n + 1.959963984540054 ^ 2 / (2 * n))
        + 1.959963984540054 * sqrt((x / n) * (1 - x / n) / n + 1.959963984540054 ^ 2 / (4 * n * n))
    ) / (1 + 1.959963984540054 ^ 2 / n)) END
$$;

-- The numerator of an indicator's measure from rollup counts (pass/fail/grade rates).
CREATE FUNCTION measure_hits(measure text, passed numeric, failed numeric, graded numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE measure WHEN 'fail_rate' THEN failed WHEN 'grade_rate' THEN graded ELSE passed END
$$;
