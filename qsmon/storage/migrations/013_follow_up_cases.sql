-- Follow-up of failed samples (核查处置, issue #17). The worker opens a case for every final `fail` of a category
-- with deadlines (qsmon/case_deadlines.yaml), in the batch's transaction, and marks it overturned when a later
-- revision is not a fail; the case sweep (cases.sweep) writes each step's due dates, computed in Python with the
-- official working-day calendar; people record steps (qsmon cases record, POST /v1/cases/{id}/steps, imports).
CREATE TABLE cases (
    id           bigserial PRIMARY KEY,
    sample_id    text NOT NULL UNIQUE,
    revision     integer NOT NULL,       -- the latest revision seen (a fail, or the one that overturned it)
    category     text NOT NULL,
    region_code  text NOT NULL,          -- the bureau responsible: where the sample was taken
    product      text,
    firm         text,
    opened_on    date NOT NULL,          -- local day the failing conclusion was reported (received)
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'overturned')),
    closed_on    date,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_by_status ON cases (status, region_code, opened_on);

CREATE TABLE case_steps (
    case_id      bigint NOT NULL REFERENCES cases (id),
    step         text NOT NULL,
    position     integer NOT NULL,
    name         text NOT NULL,
    basis        text NOT NULL,          -- the article the deadline comes from
    due_on       date,                   -- NULL while the step it counts from is not done
    soon_on      date,                   -- due soon from this day on
    provisional  boolean NOT NULL DEFAULT false,  -- past the working-day calendar's last year
    done_on      date,
    done_by      text,
    note         text NOT NULL DEFAULT '',
    attachment   text,
    recorded_at  timestamptz,
    recorded_via text,                   -- cli, api or import
    PRIMARY KEY (case_id, step)
);
CREATE INDEX case_steps_pending ON case_steps (due_on) WHERE done_on IS NULL;

-- Where a step stands on a day: the twin of cases.deadlines.step_state (tests/integration/test_cases.py).
CREATE FUNCTION case_step_state(done_on date, due_on date, soon_on date, today date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN done_on IS NOT NULL THEN CASE WHEN due_on IS NULL OR done_on <= due_on THEN 'done_on_time'
                                           ELSE 'done_late' END
        WHEN due_on IS NULL THEN 'waiting'
        WHEN today > due_on THEN 'overdue'
        WHEN soon_on IS NOT NULL AND today >= soon_on THEN 'due_soon'
        ELSE 'open'
    END
$$;

-- Notices of case steps (due soon, overdue) and the daily digest go through the same outbox as alert changes.
ALTER TABLE notification_outbox ALTER COLUMN alert_id DROP NOT NULL, ALTER COLUMN event_id DROP NOT NULL,
    ADD COLUMN case_id bigint REFERENCES cases (id),
    ADD CONSTRAINT notification_outbox_subject CHECK (alert_id IS NOT NULL OR case_id IS NOT NULL
                                                      OR payload->>'kind' = 'case_digest');

GRANT SELECT ON cases, case_steps TO qsmon_grafana;
GRANT EXECUTE ON FUNCTION case_step_state(date, date, date, date) TO qsmon_grafana;
