-- When the record was produced to Kafka (its timestamp), next to when it was stored: the audit trail of
-- delivery delays, and the end-to-end latency the benchmarks measure. stored_at now reads the clock at insert
-- (not the transaction start), so it lies as close to the commit as a column can.
ALTER TABLE inspection_results ADD COLUMN produced_at timestamptz;
ALTER TABLE inspection_results ALTER COLUMN stored_at SET DEFAULT clock_timestamp();
