"""The 达标预测 panel: the alert service's latest year-end forecasts (migration 060, written by alerts.pace), for the
chosen plan and region: what the rest of the year needs, the projected year end, its 80 % interval, the probability."""

from __future__ import annotations

FORECAST_TABLE = "pace_forecasts"

FORECAST = """
SELECT p.name AS "指标", CASE WHEN f.subcategory = '' THEN '全部' ELSE f.subcategory END AS "细类",
       label('op', p.op) || ' ' || p.target AS "目标", f.so_far AS "本年值", f.tested AS "本年已检",
       f.planned_text AS "全年计划量", round(f.budget_left::numeric, 1) AS "剩余不合格额度",
       CASE WHEN f.outcome = 'open' THEN f.needed END AS "其余批次需达", f.projected AS "预计年底",
       f.low AS "80%区间下限", f.high AS "80%区间上限", round((100 * f.probability)::numeric, 1) AS "达标概率(%)",
       CASE f.outcome WHEN 'met' THEN '已确定达标' WHEN 'lost' THEN '已无法达标' ELSE '待定' END AS "结论",
       f.as_of AS "截至"
FROM pace_forecasts f JOIN plan_indicators p USING (plan_id, indicator_id)
WHERE f.plan_id = '$plan' AND f.region_code = '$region'
ORDER BY p.position, f.subcategory
"""
