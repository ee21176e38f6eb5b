-- Where history retention has cut: result history sampled before `cut` may be gone (drop_chunks drops whole
-- chunks older than it). `qsmon rollups rebuild` reads it, so a rebuild never reaches back past the cut whatever
-- the retention setting of the shell that runs it (one without it rebuilt from 1900 and deleted the failure rows
-- of the dropped months). qsmon.storage.retention writes and reads it.
CREATE TABLE history_cut (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    cut      timestamptz NOT NULL
);
