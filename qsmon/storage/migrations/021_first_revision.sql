-- A sample's revisions count up from qsmon.schema.FIRST_REVISION (1). The worker's batch statement relies on it
-- (streams.batch_sql: a first revision replaces nothing, so only later ones look up the sample's current row, its
-- failure and its case), so the database holds every stored revision to it. tests/integration/test_rules_agree.py
-- checks the constraint against the Python constant.
ALTER TABLE sample_current ADD CONSTRAINT sample_current_first_revision CHECK (revision >= 1);
ALTER TABLE inspection_results ADD CONSTRAINT inspection_results_first_revision CHECK (revision >= 1);
