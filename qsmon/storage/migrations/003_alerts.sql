-- Alerts: the latest evaluation of every indicator × scope × window, alerts with their history, silences, and
-- the notification outbox written in the same transaction as each state change.

-- Σx² of survey scores: with Σx and n it gives the mean's interval.
ALTER TABLE rollup_daily ADD COLUMN score_sq_sum numeric NOT NULL DEFAULT 0;

CREATE TABLE indicator_evaluations (
    plan_id       text NOT NULL,
    indicator_id  text NOT NULL,
    region_code   text NOT NULL,
    subcategory   text NOT NULL,          -- '' = every subcategory of the filter
    window_name   text NOT NULL,
    first_day     date NOT NULL,
    last_day      date NOT NULL,
    tested        bigint NOT NULL,
    failed        bigint NOT NULL,
    value         double precision,       -- rate in percent, or mean score; NULL without samples
    low           double precision,
    high          double precision,
    op            text NOT NULL,
    target        double precision,       -- NULL for `increasing`
    previous_value double precision,      -- `increasing`: the previous period's value
    state         text NOT NULL CHECK (state IN ('ok', 'warning', 'critical', 'insufficient_data')),
    evaluated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, indicator_id, region_code, subcategory, window_name)
);

CREATE TABLE alerts (
    id            bigserial PRIMARY KEY,
    plan_id       text NOT NULL,
    indicator_id  text NOT NULL,
    region_code   text NOT NULL,
    subcategory   text NOT NULL,
    window_name   text NOT NULL,
    status        text NOT NULL CHECK (status IN ('firing', 'resolved')),
    severity      text NOT NULL CHECK (severity IN ('warning', 'critical')),  -- the highest reached while open
    opened_at     timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at   timestamptz,
    ok_since      timestamptz,            -- hysteresis: back at target since; resolves after the hold period
    acknowledged_at timestamptz,
    acknowledged_by text,
    value         double precision,
    low           double precision,
    high          double precision,
    tested        bigint,
    failed        bigint,
    target        double precision
);
-- At most one firing alert per key; a resolved one within the cool-down is reopened instead of a new one.
CREATE UNIQUE INDEX alerts_one_firing ON alerts (plan_id, indicator_id, region_code, subcategory, window_name)
    WHERE status = 'firing';
CREATE INDEX alerts_key_recent ON alerts (plan_id, indicator_id, region_code, subcategory, window_name,
    resolved_at DESC);

CREATE TABLE alert_events (
    id        bigserial PRIMARY KEY,
    alert_id  bigint NOT NULL REFERENCES alerts (id),
    at        timestamptz NOT NULL DEFAULT now(),
    kind      text NOT NULL CHECK (kind IN ('opened', 'escalated', 'reopened', 'resolved', 'acknowledged',
                                            'silenced')),
    severity  text,
    value     double precision,
    details   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, at);

CREATE TABLE silences (
    id           bigserial PRIMARY KEY,
    plan_id      text,                    -- NULL = any
    indicator_id text,
    region_code  text,                    -- a prefix rule: 421000 silences the city and its counties
    until        timestamptz NOT NULL,
    reason       text NOT NULL DEFAULT '',
    created_by   text NOT NULL DEFAULT current_user,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notification_outbox (
    id              bigserial PRIMARY KEY,
    alert_id        bigint NOT NULL REFERENCES alerts (id),
    event_id        bigint NOT NULL REFERENCES alert_events (id),
    channel         text NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE delivered_at IS NULL;
