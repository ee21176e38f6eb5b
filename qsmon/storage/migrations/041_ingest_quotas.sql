-- Records a minute each ingest token may send (issue #31): NULL takes QSMON_INGEST_RECORDS_PER_MINUTE. Python
-- counterpart: qsmon.tokens.Token.records_per_minute, producers.ingest_quota.
ALTER TABLE api_tokens ADD COLUMN records_per_minute integer CHECK (records_per_minute > 0);
