-- History that retention dropped before migration 022 left no record of its cut. When the rollups hold days well
-- before the oldest result history kept (or none is kept at all), history was dropped up to there: recorded, so a
-- rollup rebuild does not reach back past it (qsmon.storage.retention.earliest_rebuild_day).
INSERT INTO history_cut (cut)
SELECT coalesce(min(sampled_at), now()) FROM inspection_results
HAVING coalesce(min(sampled_at), now()) > (SELECT min(day) FROM rollup_daily) + interval '2 days'
ON CONFLICT (only_row) DO NOTHING;
