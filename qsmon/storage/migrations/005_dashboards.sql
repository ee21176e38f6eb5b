-- For the dashboards: plan indicators and region names as tables (synced from the plan files by `qsmon init` and
-- the alert service), and a read-only role for Grafana's datasource.

CREATE TABLE plan_indicators (
    plan_id        text NOT NULL,
    indicator_id   text NOT NULL,
    plan_title     text NOT NULL,
    name           text NOT NULL,
    measure        text NOT NULL,
    categories     text[] NOT NULL,
    sampling_types text[] NOT NULL,      -- empty: any
    subcategories  text[] NOT NULL,      -- empty: any
    stages         text[] NOT NULL,      -- empty: any
    grades         text[] NOT NULL,
    op             text NOT NULL,
    target         double precision,
    min_samples    integer NOT NULL,
    jurisdiction   text NOT NULL,
    position       integer NOT NULL,     -- order in the plan file
    PRIMARY KEY (plan_id, indicator_id)
);

CREATE TABLE regions (
    code   text PRIMARY KEY,
    name   text NOT NULL,
    parent text
);

-- Grafana reads through this role: SELECT only, never the application's credentials. Its password is set by
-- `qsmon init` from QSMON_GRAFANA_DB_PASSWORD; without one the role cannot log in.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qsmon_grafana') THEN
        CREATE ROLE qsmon_grafana NOLOGIN;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO qsmon_grafana', current_schema());
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO qsmon_grafana', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO qsmon_grafana',
                   current_schema());
END
$$;
