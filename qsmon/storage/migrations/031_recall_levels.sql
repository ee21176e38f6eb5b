-- Recall levels (召回级别, 《食品召回管理办法》): recorded with a case's risk-control step (level_1, level_2, level_3
-- or none, as qsmon/case_deadlines.yaml names them: no CHECK, the levels are a site's data). A level adds the steps
-- recall_start and recall_complete to the case, with their deadlines (qsmon.case_rules.RecallLevel).
ALTER TABLE case_steps ADD COLUMN recall_level text;
