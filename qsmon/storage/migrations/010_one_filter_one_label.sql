-- One home per rule, on the SQL side.
-- filter_admits: an indicator's filter (empty arrays: any). Python twin: indicators.filter.admits; every query that
-- filters by an indicator calls this function (indicators.filter builds them), and a test shows the two agree.
CREATE FUNCTION filter_admits(categories text[], sampling_types text[], subcategories text[], stages text[],
                              category text, sampling_type text, subcategory text, stage text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT category = ANY(categories)
       AND (cardinality(sampling_types) = 0 OR sampling_type = ANY(sampling_types))
       AND (cardinality(subcategories) = 0 OR subcategory = ANY(subcategories))
       AND (cardinality(stages) = 0 OR stage = ANY(stages))
$$;

-- The labels bureau staff read, synced from indicators.labels (and alerts.messages for transitions) by `qsmon init`
-- and the alert service, so panels show the same words as messages, workbooks and PDFs.
CREATE TABLE labels (
    kind  text NOT NULL,  -- the enum: category, sampling_type, state, severity, measure, op, window, transition …
    code  text NOT NULL,
    label text NOT NULL,
    PRIMARY KEY (kind, code)
);
CREATE FUNCTION label(kind text, code text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce((SELECT l.label FROM labels l WHERE l.kind = $1 AND l.code = $2), $2)
$$;
GRANT SELECT ON labels TO qsmon_grafana;
