-- The monthly bulletin (issue #22).
--
-- The addresses an announcement publishes, for the 不合格产品信息 workbook in the published layout: the nominal
-- manufacturer's and the sampled unit's, as written. History only: no rollup or panel reads them.
ALTER TABLE inspection_results ADD COLUMN manufacturer_address text, ADD COLUMN sampled_unit_address text;

-- Problem types of failed items for the dashboards: the terms of indicators/problem_types.yaml in the file's
-- order, synced by `qsmon init` and the alert service. problem_type() is indicators.problem_types.problem_type's
-- SQL twin (a test compares them): the first type, in order, listing the category and a term the item contains.
CREATE TABLE problem_type_terms (
    position     integer PRIMARY KEY,
    category     text NOT NULL,
    term         text NOT NULL,
    problem_type text NOT NULL
);
CREATE FUNCTION problem_type(category text, item text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT t.problem_type FROM problem_type_terms t
    WHERE t.category = $1 AND strpos($2, t.term) > 0
    ORDER BY t.position LIMIT 1
$$;
GRANT SELECT ON problem_type_terms TO qsmon_grafana;
