-- Follow-up cases that never lose a step (issue #32). Steps are written with their case, in the transaction that
-- opens it (qsmon.case_steps); a step's notices are facts kept with the step, so that outbox retention
-- (QSMON_RETENTION_OUTBOX_DAYS), which deletes delivered rows and with them their idempotency keys, cannot make
-- the sweep send them again. Cleared when the step's due date moves (a new deadline, a new notice).
ALTER TABLE case_steps
    ADD COLUMN soon_noticed_at    timestamptz,   -- the "due soon" notice was queued
    ADD COLUMN overdue_noticed_at timestamptz;   -- the "overdue" notice was queued

-- Notices queued before this migration: their outbox rows say so, while retention has not deleted them yet.
UPDATE case_steps s SET
    soon_noticed_at = (SELECT min(o.created_at) FROM notification_outbox o WHERE o.case_id = s.case_id
                       AND o.payload->>'step' = s.step AND o.payload->>'state' = 'due_soon'),
    overdue_noticed_at = (SELECT min(o.created_at) FROM notification_outbox o WHERE o.case_id = s.case_id
                          AND o.payload->>'step' = s.step AND o.payload->>'state' = 'overdue');
