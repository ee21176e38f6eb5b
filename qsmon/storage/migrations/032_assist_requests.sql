-- 协查 (issue #32): a failure made outside the sampling bureau's region is reported to the manufacturer's bureau.
-- The worker keeps the place of manufacture with the case it opens; the case's 协查 steps (assist_sent,
-- assist_reply) are written with it when that place lies outside the case's region (qsmon.case_steps), and the
-- case sweep queues the one 协查 notice to the channels of the manufacturer's region, once: assist_noticed_at.
-- Cases opened before this migration keep a NULL place: no 协查 is started for them retroactively.
ALTER TABLE cases
    ADD COLUMN manufacturer_region_code text,
    ADD COLUMN assist_noticed_at timestamptz;
