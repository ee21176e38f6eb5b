-- Inspection results: the full history of every revision, the current verdict of each sample,
-- and exact daily rollups. Works on TimescaleDB's Apache-2 edition (no continuous aggregates):
-- the stream worker maintains the rollups in the same transaction that stores the results.

CREATE EXTENSION IF NOT EXISTS timescaledb;

-- Every revision ever received, for audit. Partitioned by sampling time (1-month chunks).
CREATE TABLE inspection_results (
    sample_id      text        NOT NULL,
    revision       integer     NOT NULL,
    sampled_at     timestamptz NOT NULL,
    reported_at    timestamptz NOT NULL,
    category       text        NOT NULL,
    subcategory    text        NOT NULL DEFAULT '',
    sampling_type  text        NOT NULL,
    stage          text        NOT NULL DEFAULT '',
    region_code    text        NOT NULL,
    verdict        text        NOT NULL CHECK (verdict IN ('pass', 'fail')),
    grade          text        NOT NULL DEFAULT '',
    score          double precision,
    product        text,
    brand          text,
    spec           text,
    batch          text,
    manufacturer   text,
    sampled_unit   text,
    lab            text,
    source         text        NOT NULL,
    failed_items   jsonb       NOT NULL DEFAULT '[]',
    kafka_partition integer,
    kafka_offset    bigint,
    stored_at      timestamptz NOT NULL DEFAULT now(),
    -- A hypertable's unique keys must contain the partitioning column.
    PRIMARY KEY (sample_id, revision, sampled_at)
);
SELECT create_hypertable('inspection_results', by_range('sampled_at', INTERVAL '1 month'));
CREATE INDEX inspection_results_failed ON inspection_results (sampled_at DESC) WHERE verdict = 'fail';

-- The final verdict of each sample: its highest revision. The rollups count exactly these rows.
CREATE TABLE sample_current (
    sample_id     text PRIMARY KEY,
    revision      integer     NOT NULL,
    sampled_at    timestamptz NOT NULL,
    day           date        NOT NULL,   -- local day (Asia/Shanghai) of sampled_at
    category      text        NOT NULL,
    subcategory   text        NOT NULL,
    sampling_type text        NOT NULL,
    stage         text        NOT NULL,
    region_code   text        NOT NULL,
    verdict       text        NOT NULL,
    grade         text        NOT NULL,
    score         double precision,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sample_current_day ON sample_current (day);

-- Counts of current verdicts by local day and every dimension a plan filter can name.
-- score_sum is numeric so that moving a corrected score out and in again stays exact.
CREATE TABLE rollup_daily (
    day           date   NOT NULL,
    category      text   NOT NULL,
    subcategory   text   NOT NULL,
    sampling_type text   NOT NULL,
    stage         text   NOT NULL,
    region_code   text   NOT NULL,
    grade         text   NOT NULL,
    tested        bigint NOT NULL,
    passed        bigint NOT NULL,
    failed        bigint NOT NULL,
    score_sum     numeric NOT NULL DEFAULT 0,
    score_count   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, category, subcategory, sampling_type, stage, region_code, grade)
);
CREATE INDEX rollup_daily_category_day ON rollup_daily (category, day);

-- The next Kafka offset to apply per partition, written in the same transaction as the batch:
-- the database, not the consumer group, is the source of truth for what has been stored.
CREATE TABLE stream_offsets (
    consumer_group text    NOT NULL,
    topic          text    NOT NULL,
    partition      integer NOT NULL,
    next_offset    bigint  NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);
