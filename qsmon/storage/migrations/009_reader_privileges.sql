-- Grafana's read-only role reads what the dashboards show, and nothing else. Any Grafana viewer can send any SQL
-- through the datasource, so this list, not the dashboard JSON, is the boundary: no results history (lab and
-- source columns), no outbox (channel errors), no offsets, silences or migrations. A table added later is not
-- readable until a migration grants it. The Python counterpart is dashboards.queries.READER_TABLES; a test
-- checks that every panel runs as this role and that the grants equal that list.
DO $$
BEGIN
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES FROM qsmon_grafana', current_schema());
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM qsmon_grafana', current_schema());
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM qsmon_grafana', current_schema());
END
$$;
GRANT SELECT ON rollup_daily, rollup_monthly, failure_current, failed_item_monthly, failed_firm_yearly,
    plan_indicators, regions, alerts, alert_events, indicator_evaluations TO qsmon_grafana;
