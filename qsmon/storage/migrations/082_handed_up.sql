-- Escalation to people (issue #36): a firing alert nobody acknowledged within a step's working hours is sent once to
-- the step's channels (the city's 分管 leader), recorded as a `handed_up` event with the step in details (its
-- level: alerts.escalation sends each level once). Kinds as in 011, plus handed_up.
ALTER TABLE alert_events DROP CONSTRAINT alert_events_kind_check;
ALTER TABLE alert_events ADD CONSTRAINT alert_events_kind_check CHECK (kind IN ('opened', 'escalated', 'reopened',
    'resolved', 'repeated', 'expired', 'acknowledged', 'silenced', 'handed_up'));
