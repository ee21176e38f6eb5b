-- Event schema v2 (issue #16): the void outcome (异议成立, 不予判定: the sample leaves every denominator) and the
-- announcement's own facts: sampling level, task source, announcement number and date, re-test status.
ALTER TABLE inspection_results DROP CONSTRAINT inspection_results_verdict_check;
ALTER TABLE inspection_results ADD CONSTRAINT inspection_results_verdict_check
    CHECK (verdict IN ('pass', 'fail', 'void'));
ALTER TABLE inspection_results ADD COLUMN sampling_level text, ADD COLUMN task_source text,
    ADD COLUMN announcement_no text, ADD COLUMN announcement_date date, ADD COLUMN retest_status text;
ALTER TABLE sample_current ADD COLUMN sampling_level text;
