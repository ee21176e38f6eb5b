-- Offsets say which log they count (issue #21): "<Kafka cluster id>/<topic id>". A topic deleted and recreated,
-- or a move to a new cluster, changes it; the worker then refuses the partition instead of skipping the new
-- log's records as if they were redeliveries (streams.offsets). NULL: written before this migration, adopted by
-- the next batch stored.
ALTER TABLE stream_offsets ADD COLUMN log_identity text;
