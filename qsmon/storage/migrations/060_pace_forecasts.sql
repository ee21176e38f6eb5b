-- 达标预测 (indicators.pace): the alert service's latest year-end forecast per plan, indicator and scope, for the
-- dashboards, which cannot compute a Beta-binomial in SQL. Written (upserted) by alerts.pace.store_forecasts at each
-- pace sweep; Grafana's role reads it (dashboards.queries.READER_TABLES names it too).
CREATE TABLE pace_forecasts (
    plan_id        text NOT NULL,
    indicator_id   text NOT NULL,
    region_code    text NOT NULL,
    subcategory    text NOT NULL DEFAULT '',
    as_of          date NOT NULL,
    year_end       date NOT NULL,
    tested         integer NOT NULL,
    failed         integer NOT NULL,
    planned        integer NOT NULL,
    planned_source text NOT NULL CHECK (planned_source IN ('task', 'last_year', 'pace')),
    planned_text   text NOT NULL,
    budget_left    double precision NOT NULL,
    so_far         double precision,
    needed         double precision,  -- the rest of the year's rate needed, in the indicator's measure
    projected      double precision,
    low            double precision,  -- the forecast's central 80 % interval
    high           double precision,
    probability    double precision CHECK (probability BETWEEN 0 AND 1),
    outcome        text NOT NULL CHECK (outcome IN ('open', 'lost', 'met')),
    evaluated_at   timestamptz NOT NULL,
    PRIMARY KEY (plan_id, indicator_id, region_code, subcategory)
);
GRANT SELECT ON pace_forecasts TO qsmon_grafana;
