-- Escalation (督办, issue #32): a step still not done this many working days after its due date is notified once to
-- the channels that ask for escalations (plans: [cases-escalation], e.g. the city's 分管 leader). The day is
-- computed with the working-day calendar when the deadline is written (qsmon.case_steps), like soon_on; the
-- notice, once queued, is kept with the step (escalated_at) and cleared only if the due date moves.
ALTER TABLE case_steps
    ADD COLUMN escalate_on  date,
    ADD COLUMN escalated_at timestamptz;
