-- Provinces feeding the nation (issue #34): what `qsmon federate pull` read from other qsmon instances through their
-- read APIs, stored by instance. Python counterpart: federation.store. Each pull replaces an instance's rows for
-- the months it read, so pulling again is idempotent.

-- A closed month's frozen figures as the instance reported them (month_reported_figures there), and the figure as
-- it stands there now when a late correction moved it (上报后更正); current_* are NULL while it has not moved.
CREATE TABLE federated_figures (
    instance        text             NOT NULL,
    month           date             NOT NULL CHECK (extract(day FROM month) = 1),
    plan_id         text             NOT NULL,
    indicator_id    text             NOT NULL,
    indicator_name  text             NOT NULL,
    measure         text             NOT NULL,
    region_code     text             NOT NULL,
    jurisdiction    boolean          NOT NULL,  -- the figure of the plan's whole jurisdiction, not one region of it
    samples         bigint           NOT NULL CHECK (samples >= 0),
    failed          bigint           NOT NULL CHECK (failed >= 0),
    value           double precision,
    current_samples bigint,
    current_failed  bigint,
    current_value   double precision,
    closed_at       timestamptz      NOT NULL,  -- when the instance closed the month (a re-close replaces it)
    pulled_at       timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (instance, month, plan_id, indicator_id, region_code)
);

-- The failures an instance publishes for a month (its public read API's 不合格产品信息 columns, which carry no
-- sample id: two rows may read the same), in the order it lists them.
CREATE TABLE federated_failures (
    instance  text        NOT NULL,
    month     date        NOT NULL CHECK (extract(day FROM month) = 1),
    nth       integer     NOT NULL,
    row       jsonb       NOT NULL,
    pulled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance, month, nth)
);

-- No grant to qsmon_grafana: no panel reads them (dashboards.queries.READER_TABLES is exactly what panels read).
