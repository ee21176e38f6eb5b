-- Alerts a duty officer can live with (issue #15): grouped notifications, reminders, silences with matchers,
-- one severity, plans in force.

-- One severity: the indicator's (plan's) severity caps the alert's, so an `info` indicator never pages.
ALTER TABLE alerts DROP CONSTRAINT alerts_severity_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_severity_check CHECK (severity IN ('info', 'warning', 'critical'));
-- When notifications were last queued for the alert (NULL: never, e.g. it opened while silenced).
ALTER TABLE alerts ADD COLUMN last_notified_at timestamptz;
UPDATE alerts a SET last_notified_at = (SELECT max(o.created_at) FROM notification_outbox o WHERE o.alert_id = a.id);

-- Reminders of a still-firing alert, and alerts closed because their plan is no longer in force.
ALTER TABLE alert_events DROP CONSTRAINT alert_events_kind_check;
ALTER TABLE alert_events ADD CONSTRAINT alert_events_kind_check CHECK (kind IN ('opened', 'escalated', 'reopened',
    'resolved', 'repeated', 'expired', 'acknowledged', 'silenced'));
ALTER TABLE alert_events DROP CONSTRAINT IF EXISTS alert_events_severity_check;

-- Silences match on every label of an alert (NULL: any); who set them and why.
ALTER TABLE silences ADD COLUMN window_name text, ADD COLUMN severity text, ADD COLUMN expired_at timestamptz;

-- Grouping: rows of one channel with the same key go out as one message (notify.delivery).
ALTER TABLE notification_outbox ADD COLUMN group_key text NOT NULL DEFAULT '';
CREATE INDEX notification_outbox_group ON notification_outbox (channel, group_key, delivered_at DESC);

-- Plans as the dashboards show them: in force, extended or expired. plan_status() is qsmon.plans.model.Plan.status's
-- SQL twin (a test shows they agree).
CREATE TABLE plans (
    plan_id        text PRIMARY KEY,
    title          text NOT NULL,
    jurisdiction   text NOT NULL,
    period_start   date NOT NULL,
    period_end     date NOT NULL,
    in_force_until date
);
CREATE FUNCTION plan_status(period_start date, period_end date, in_force_until date, today date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN today < period_start THEN 'not_started'
                WHEN today <= period_end THEN 'in_force'
                WHEN in_force_until IS NOT NULL AND today <= in_force_until THEN 'extended'
                ELSE 'expired' END
$$;
GRANT SELECT ON plans TO qsmon_grafana;
