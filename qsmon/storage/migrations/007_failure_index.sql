-- The dashboards' "latest failed samples" reads the newest current failures: an index in that order makes it
-- independent of how much history there is.
CREATE INDEX sample_current_failures ON sample_current (sampled_at DESC) WHERE verdict = 'fail';
