"""The panels' SQL, with Grafana's PostgreSQL macros ($__timeFrom(), $__timeTo(), $__timeFilter) and variables.

Rate panels join the rollups to ``plan_indicators`` through the indicator filter's SQL function (indicators.filter),
so a panel shows exactly what the alert engine evaluates. Days are local calendar days in ``settings.timezone``,
fixed when the dashboards are built; "today" is the end of the chosen range, never the database's clock. Words come
from the label table (``label(kind, code)``, synced from indicators.labels).
"""

from __future__ import annotations

from indicators.counting import array_filter_sql, in_totals_sql, rate_sql
from indicators.problem_types import UNCLASSIFIED
from qsmon.settings import get_settings
from qsmon.vocab import SamplingType

RISK_MONITORING = SamplingType.RISK_MONITORING.value

# What Grafana's role qsmon_grafana may read: exactly the tables these panels read (and the SQL functions they call
# read). Its SQL counterpart is the GRANTs in migrations 009 and 010; a test checks that both agree and that every
# panel runs as that role (migrations 009, 010, 011).
READER_TABLES = frozenset(
    {
        "rollup_daily",
        "rollup_monthly",
        "failure_current",
        "failed_item_monthly",
        "failed_firm_yearly",
        "plan_indicators",
        "regions",
        "alerts",
        "alert_events",
        "indicator_evaluations",
        "labels",
        "plans",
        "cases",
        "case_steps",
        "month_closes",
        "month_reported_figures",
        "problem_type_terms",
        "rollup_daily_made",
        "rollup_monthly_made",
        "pace_forecasts",
    }
)

ZONE = get_settings().timezone
FIRST_DAY = f"($__timeFrom()::timestamptz AT TIME ZONE '{ZONE}')::date"
LAST_DAY = f"($__timeTo()::timestamptz AT TIME ZONE '{ZONE}')::date"
TODAY = LAST_DAY
# The chosen range: whole months from the monthly rollup, the partial months' days from the daily one.
RANGE = (FIRST_DAY, LAST_DAY, "true")
RANGE_ROWS = f"rollup_rows({FIRST_DAY}, {LAST_DAY})"  # panels on every result, not on an indicator

_DIMENSIONS = ("category", "subcategory", "sampling_type", "stage", "grade")
_SUMS = (
    "sum(rows.tested) AS tested, sum(rows.passed) AS passed, sum(rows.failed) AS failed,"
    " sum(rows.score_sum) AS score_sum, sum(rows.score_count) AS score_count"
)


def indicator_rows(ranges: tuple[tuple[str, str, str], ...], keep: str, which: str = "") -> str:
    """The rows each indicator counts, within the chosen region, over the day ``ranges`` (first, last, whole months).

    Each indicator reads its counting source (plan_indicators.counting_source, decided by qsmon.plans.counting):
    the rollups by place of sampling, shared by every indicator using them and summed over everything but ``keep``
    (``day`` or ``region_code``) first, so the join to the filter arrays sees a few hundred rows; their twins by
    place of manufacture, read only when an indicator of the plan (``which`` narrows them, e.g. to the chosen
    indicator) counts by it; or the current verdicts (counted_rows), one indicator at a time.
    """
    columns = ", ".join(f"rows.{c}" for c in (keep, *_DIMENSIONS))
    rollups = " UNION ALL ".join(f"SELECT * FROM rollup_rows({a}, {b}, {whole})" for a, b, whole in ranges)
    made = " UNION ALL ".join(f"SELECT * FROM rollup_rows_made({a}, {b}, {whole})" for a, b, whole in ranges)
    counted = " UNION ALL ".join(
        f"SELECT * FROM counted_rows({a}, {b}, '{ZONE}', q.counting_date, q.place, q.sampling_levels)"
        for a, b, _ in ranges
    )
    needed = f"q.plan_id = '$plan'{which}"
    return f"""
FROM plan_indicators f
JOIN (
  SELECT 'rollups' AS source, NULL::text AS plan_id, NULL::text AS indicator_id, {columns}, {_SUMS}
  FROM ({rollups}) AS rows
  WHERE rows.region_code LIKE region_pattern('$region')
  GROUP BY {columns}
  UNION ALL
  SELECT 'made_rollups', NULL, NULL, {columns}, {_SUMS}
  FROM ({made}) AS rows
  WHERE rows.region_code LIKE region_pattern('$region')
    AND EXISTS (SELECT 1 FROM plan_indicators q WHERE {needed} AND q.counting_source = 'made_rollups')
  GROUP BY {columns}
  UNION ALL
  SELECT 'current', q.plan_id, q.indicator_id, {columns}, {_SUMS}
  FROM plan_indicators q CROSS JOIN LATERAL ({counted}) AS rows
  WHERE q.counting_source = 'current' AND {needed} AND rows.region_code LIKE region_pattern('$region')
  GROUP BY q.plan_id, q.indicator_id, {columns}
) r ON {array_filter_sql("f", "r")} AND r.source = f.counting_source
  AND (r.source <> 'current' OR (r.plan_id, r.indicator_id) = (f.plan_id, f.indicator_id))
"""


_CHOSEN_INDICATOR = " AND q.indicator_id = '$indicator'"


HITS = "sum(measure_hits(f.measure, r.passed, r.failed, CASE WHEN r.grade = ANY(f.grades) THEN r.tested ELSE 0 END))"

# An indicator's value: indicators.evaluate.measured's SQL twin (the rate from indicators.counting).
VALUE = (
    "CASE WHEN f.measure = 'mean_score' THEN sum(r.score_sum) / nullif(sum(r.score_count), 0)"
    f" ELSE {rate_sql(HITS, 'sum(r.tested)')} END"
)

# One tile per indicator: the chosen window where the indicator has it, else its shortest window.
OVERVIEW_TILES = """
SELECT DISTINCT ON (p.position) p.name AS "指标", label('window', e.window_name) AS "窗口", e.value AS "当前值",
       e.target AS "目标", label('state', e.state) AS "状态", e.tested AS "样本", e.failed AS "不合格", e.low AS "下限", e.high AS "上限", e.first_day AS "起",
       e.last_day AS "止", counting_text(p.counting_date, p.place, p.sampling_levels) AS "统计口径"
FROM indicator_evaluations e JOIN plan_indicators p USING (plan_id, indicator_id)
WHERE e.plan_id = '$plan' AND e.region_code = '$region' AND e.subcategory = ''
ORDER BY p.position, (e.window_name = '$window') DESC,
  array_position(ARRAY['rolling_30d', 'month_to_date', 'rolling_90d', 'quarter_to_date', 'year_to_date',
                       'plan_period'], e.window_name)
"""

# plan_status() is Plan.status's SQL twin; "today" is the range's end, as everywhere on the dashboards.
OVERVIEW_PLAN = f"""
SELECT title AS "规划", period_start AS "规划期起", period_end AS "规划期止", in_force_until AS "延续执行至",
  label('plan_status', plan_status(period_start, period_end, in_force_until, {TODAY})) AS "状态"
FROM plans WHERE plan_id = '$plan'
"""

# Closed months (qsmon months close): each indicator's figure as reported upward and as it stands now. Each row
# reads only its own source: the other rollups' ranges are empty, and counted_rows() skips every scan when asked
# for no basis ('none').
_MONTH_LAST = "(m.month + interval '1 month' - interval '1 day')::date"
OVERVIEW_REPORTED_MONTHS = f"""
SELECT to_char(m.month, 'YYYY-MM') AS "月份", f.name AS "指标", m.value AS "上报值", now.value AS "现值",
  now.value - m.value AS "变化", m.samples AS "上报样本", now.samples AS "现样本", m.failed AS "上报不合格",
  now.failed AS "现不合格"
FROM month_reported_figures m JOIN plan_indicators f USING (plan_id, indicator_id)
CROSS JOIN LATERAL (
  SELECT sum(r.tested) AS samples, sum(r.failed) AS failed, {VALUE} AS value
  FROM (SELECT * FROM rollup_rows(m.month, CASE WHEN f.counting_source = 'rollups' THEN {_MONTH_LAST}
                                                 ELSE m.month - 1 END)
        UNION ALL
        SELECT * FROM rollup_rows_made(m.month, CASE WHEN f.counting_source = 'made_rollups' THEN {_MONTH_LAST}
                                                      ELSE m.month - 1 END)
        UNION ALL
        SELECT * FROM counted_rows(m.month, {_MONTH_LAST}, '{ZONE}',
                                   CASE WHEN f.counting_source = 'current' THEN f.counting_date ELSE 'none' END,
                                   f.place, f.sampling_levels)) r
  WHERE {array_filter_sql("f", "r")} AND r.region_code LIKE region_pattern(m.region_code)
) now
WHERE m.plan_id = '$plan' AND m.region_code = '$region'
ORDER BY m.month DESC, f.position
"""

OVERVIEW_FIRING = """
SELECT a.id AS "编号", p.name AS "指标", g.name AS "地区", label('window', a.window_name) AS "窗口",
       label('state', a.severity) AS "级别",
       a.value AS "当前值", a.target AS "目标", a.opened_at AS "开启时间"
FROM alerts a JOIN plan_indicators p USING (plan_id, indicator_id) LEFT JOIN regions g ON g.code = a.region_code
WHERE a.plan_id = '$plan' AND a.status = 'firing' AND a.region_code LIKE region_pattern('$region')
ORDER BY a.severity DESC, a.opened_at DESC
LIMIT 100
"""

OVERVIEW_FIRING_COUNT = """
SELECT count(*) AS "告警中" FROM alerts
WHERE plan_id = '$plan' AND status = 'firing' AND region_code LIKE region_pattern('$region')
"""

# This year to today, and last year to the same day, each as whole months plus the current month's days.
_THIS_YEAR = f"date_trunc('year', {TODAY})::date"
_LAST_YEAR_TODAY = f"({TODAY} - interval '1 year')::date"
OVERVIEW_YEAR_ON_YEAR = f"""
SELECT f.name AS "指标",
  {
    rate_sql(
        f"sum(measure_hits(f.measure, r.passed, r.failed, 0)) FILTER (WHERE r.day >= {_THIS_YEAR})",
        f"sum(r.tested) FILTER (WHERE r.day >= {_THIS_YEAR})",
    )
} AS "本年累计",
  {
    rate_sql(
        f"sum(measure_hits(f.measure, r.passed, r.failed, 0)) FILTER (WHERE r.day < {_THIS_YEAR})",
        f"sum(r.tested) FILTER (WHERE r.day < {_THIS_YEAR})",
    )
} AS "去年同期"
{
    indicator_rows(
        ((f"date_trunc('year', {_LAST_YEAR_TODAY})::date", _LAST_YEAR_TODAY, "true"), (_THIS_YEAR, TODAY, "true")),
        keep="day",
    )
}
WHERE f.plan_id = '$plan' AND f.measure IN ('pass_rate', 'fail_rate', 'problem_rate')
GROUP BY f.name, f.position ORDER BY f.position
"""

# Month buckets, and so rows from the monthly rollup, only beyond this many days: a monthly row inside a week
# bucket would be counted in the wrong week.
_WEEKS_UP_TO_DAYS = 370
_TREND_RANGE = (FIRST_DAY, LAST_DAY, f"{LAST_DAY} - {FIRST_DAY} > {_WEEKS_UP_TO_DAYS}")

# Buckets chosen for the range: days up to 62 days, weeks up to a year, months beyond (read from whole months of
# the monthly rollup). Every bucket is listed (generate_series), so a bucket without samples is NULL, which Grafana
# draws as a gap, never as zero.
TREND = f"""
WITH width AS (
  SELECT {FIRST_DAY} AS first, {LAST_DAY} AS last,
    CASE WHEN {LAST_DAY} - {FIRST_DAY} <= 62 THEN interval '1 day'
         WHEN {LAST_DAY} - {FIRST_DAY} <= {_WEEKS_UP_TO_DAYS} THEN interval '1 week' ELSE interval '1 month' END AS w
), buckets AS (
  SELECT generate_series(CASE WHEN w = interval '1 week' THEN date_trunc('week', first)
                              WHEN w = interval '1 month' THEN date_trunc('month', first) ELSE first END,
                         last, w)::date AS b, w FROM width
), counts AS (
  SELECT CASE WHEN w.w = interval '1 week' THEN date_trunc('week', r.day)::date
              WHEN w.w = interval '1 month' THEN date_trunc('month', r.day)::date ELSE r.day END AS b,
         max(f.measure) AS measure, max(f.target) AS target, sum(r.tested) AS n, {HITS} AS x,
         sum(r.score_sum) AS s, sum(r.score_count) AS sn
  {indicator_rows((_TREND_RANGE,), keep="day", which=_CHOSEN_INDICATOR)}
  CROSS JOIN width w
  WHERE f.plan_id = '$plan' AND f.indicator_id = '$indicator'
  GROUP BY 1
)
SELECT (b.b::timestamp AT TIME ZONE '{ZONE}') AS time,
  CASE WHEN c.measure = 'mean_score' THEN c.s / nullif(c.sn, 0) ELSE {rate_sql("c.x", "c.n")} END AS "值",
  (SELECT target FROM plan_indicators WHERE plan_id = '$plan' AND indicator_id = '$indicator') AS "目标",
  CASE WHEN c.measure <> 'mean_score' THEN wilson_low(c.x, c.n) END AS "区间下限",
  CASE WHEN c.measure <> 'mean_score' THEN wilson_high(c.x, c.n) END AS "区间上限"
FROM buckets b LEFT JOIN counts c ON c.b = b.b
ORDER BY 1
"""

REGIONS = f"""
SELECT g.name AS "地区", r.region_code AS "代码", sum(r.tested) AS "样本", {VALUE} AS "当前值", max(f.target) AS "目标",
  CASE WHEN max(f.op) IN ('<', '<=') THEN {VALUE} - max(f.target) ELSE max(f.target) - {VALUE} END AS "差距"
{indicator_rows((RANGE,), keep="region_code", which=_CHOSEN_INDICATOR)}
JOIN regions g ON g.parent = '$region' AND r.region_code LIKE region_pattern(g.code)
WHERE f.plan_id = '$plan' AND f.indicator_id = '$indicator'
GROUP BY g.name, r.region_code, f.measure, f.grades
ORDER BY "差距" DESC NULLS LAST
"""

# Failed items by month and failing firms by year, with the days of partial periods from failure_current.
_FAILURE_FILTER = """region_code LIKE region_pattern('$region') AND ('$category' = 'all' OR category = '$category')"""

FAILED_ITEMS = f"""
SELECT item AS "不合格项目", sum(failures) AS "批次"
FROM failed_item_counts({FIRST_DAY}, {LAST_DAY})
WHERE {_FAILURE_FILTER}
GROUP BY 1 HAVING sum(failures) > 0 ORDER BY 2 DESC, 1 LIMIT 15
"""

# Failed items (项次) by the problem type bulletins group them in; problem_type() is the twin of
# indicators.problem_types.problem_type, and an item no type claims shows as 未归类 for an analyst to classify.
FAILED_PROBLEM_TYPES = f"""
SELECT coalesce(problem_type(category, item), '{UNCLASSIFIED}') AS "问题类型", sum(failures) AS "项次",
  {rate_sql("sum(failures)", "sum(sum(failures)) OVER ()")} AS "占比"
FROM (  -- each distinct item typed once, not once per region and month
  SELECT category, item, sum(failures) AS failures
  FROM failed_item_counts({FIRST_DAY}, {LAST_DAY})
  WHERE {_FAILURE_FILTER}
  GROUP BY category, item
) items
GROUP BY 1 HAVING sum(failures) > 0 ORDER BY 2 DESC, 1
"""


# Batches and failures by 环节 (results in totals: indicators.counting.in_totals) and by sampling type, where risk
# monitoring is a line of its own, as problem samples (问题发现率); surveys have no batches to fail.
def _by_dimension(column: str, title: str, which: str) -> str:
    return f"""
SELECT CASE WHEN r.{column} = '' THEN '未注明' ELSE label('{column}', r.{column}) END AS "{title}",
  sum(r.tested) AS "批次", sum(r.failed) AS "不合格/问题样品", {rate_sql("sum(r.failed)", "sum(r.tested)")} AS "比率"
FROM {RANGE_ROWS} r
WHERE r.region_code LIKE region_pattern('$region') AND {which}
  AND ('$category' = 'all' OR r.category = '$category')
GROUP BY r.{column} HAVING sum(r.tested) > 0 ORDER BY 2 DESC
"""


FAILED_BY_STAGE = _by_dimension("stage", "抽检环节", in_totals_sql("r.sampling_type"))
FAILED_BY_SAMPLING_TYPE = _by_dimension(
    "sampling_type", "抽检类型", f"({in_totals_sql('r.sampling_type')} OR r.sampling_type = '{RISK_MONITORING}')"
)

FAILED_SUBCATEGORIES = f"""
SELECT r.subcategory AS "细类", sum(r.failed) AS "不合格", {rate_sql("sum(r.failed)", "sum(r.tested)")} AS "不合格率"
FROM {RANGE_ROWS} r
WHERE r.region_code LIKE region_pattern('$region') AND {in_totals_sql("r.sampling_type")}
  AND ('$category' = 'all' OR r.category = '$category')
GROUP BY 1 HAVING sum(r.failed) > 0 ORDER BY 2 DESC LIMIT 15
"""

REPEAT_OFFENDERS = f"""
SELECT firm AS "企业/单位", sum(failures) AS "不合格批次",
  string_agg(product, '、' ORDER BY product) FILTER (WHERE product <> '') AS "样品"
FROM (
  SELECT firm, product, sum(failures) AS failures
  FROM failed_firm_counts({FIRST_DAY}, {LAST_DAY})
  WHERE {_FAILURE_FILTER}
  GROUP BY 1, 2 HAVING sum(failures) > 0
) by_product
GROUP BY 1 HAVING sum(failures) >= 2 ORDER BY 2 DESC, 1 LIMIT 50
"""

# The newest 100 current failures (index failure_current_sampled_at), whatever the range.
LATEST_FAILURES = f"""
SELECT c.sampled_at AS "抽样时间", c.sample_id AS "抽样单编号", c.product AS "样品", g.name AS "地区",
  c.manufacturer AS "标称生产企业", c.sampled_unit AS "被抽样单位", c.lab AS "检验机构",
  (SELECT string_agg(i->>'item' || coalesce(' ' || (i->>'measured'), '') || coalesce('(' || (i->>'limit') || ')', ''), ';')
     FROM jsonb_array_elements(c.failed_items) i) AS "不合格项目"
FROM (
  SELECT * FROM failure_current
  WHERE $__timeFilter(sampled_at) AND {_FAILURE_FILTER} AND {in_totals_sql()}
  ORDER BY sampled_at DESC LIMIT 100
) c
LEFT JOIN regions g ON g.code = c.region_code
ORDER BY c.sampled_at DESC
"""

ALERT_HISTORY = """
SELECT e.at AS "时间", label('transition', e.kind) AS "事件", p.name AS "指标", g.name AS "地区",
  label('window', a.window_name) AS "窗口", label('state', e.severity) AS "级别", e.value AS "值",
  e.details->>'by' AS "确认人"
FROM alert_events e JOIN alerts a ON a.id = e.alert_id
JOIN plan_indicators p ON p.plan_id = a.plan_id AND p.indicator_id = a.indicator_id
LEFT JOIN regions g ON g.code = a.region_code
WHERE a.plan_id = '$plan' AND $__timeFilter(e.at)
ORDER BY e.at DESC LIMIT 200
"""

# Who is on what: an acknowledgement holds (no reminders) until the alert's state or severity changes
# (alerts.reminders.ack_holds; the SQL below is its twin, tests/integration/test_acknowledge.py).
ALERTS_ACKNOWLEDGED = """
SELECT a.id AS "编号", p.name AS "指标", g.name AS "地区", label('window', a.window_name) AS "窗口",
  label('state', a.severity) AS "级别", a.acknowledged_by AS "确认人", a.acknowledged_at AS "确认时间",
  CASE WHEN a.acknowledged_at >= c.changed_at THEN '已确认,暂停提醒' WHEN a.acknowledged_at IS NOT NULL
       THEN '确认后有变化' ELSE '未确认' END AS "状态"
FROM alerts a JOIN plan_indicators p USING (plan_id, indicator_id) LEFT JOIN regions g ON g.code = a.region_code
CROSS JOIN LATERAL (SELECT max(ev.at) AS changed_at FROM alert_events ev WHERE ev.alert_id = a.id
                    AND ev.kind IN ('opened', 'reopened', 'escalated')) c
WHERE a.plan_id = '$plan' AND a.status = 'firing'
ORDER BY a.acknowledged_at IS NOT NULL, a.severity DESC, a.opened_at DESC
LIMIT 100
"""

ALERTS_OPENED = """
SELECT date_trunc('day', e.at) AS time, count(*) FILTER (WHERE e.kind IN ('opened', 'reopened')) AS "开启",
  count(*) FILTER (WHERE e.kind = 'resolved') AS "解决"
FROM alert_events e JOIN alerts a ON a.id = e.alert_id
WHERE a.plan_id = '$plan' AND $__timeFilter(e.at)
GROUP BY 1 ORDER BY 1
"""

TIME_TO_RESOLVE = """
SELECT p.name AS "指标", count(*) AS "已解决", avg(extract(epoch FROM a.resolved_at - a.opened_at)) / 3600 AS "平均解决时长(小时)",
  max(extract(epoch FROM a.resolved_at - a.opened_at)) / 3600 AS "最长(小时)"
FROM alerts a JOIN plan_indicators p USING (plan_id, indicator_id)
WHERE a.plan_id = '$plan' AND a.status = 'resolved' AND $__timeFilter(a.resolved_at)
GROUP BY p.name ORDER BY 3 DESC
"""

# Pipeline health (Prometheus).
PROM_THROUGHPUT = "sum by (verdict) (rate(qsmon_results_processed_total[1m]))"
# Lag as the broker and the database see it (the alert service exports it): still there when a worker is not.
PROM_LAG = "sum(max by (partition) (qsmon_pipeline_lag_records))"
PROM_REFUSED = "max by (partition) (qsmon_pipeline_partition_refused)"
PROM_OUTBOX_AGE = "max(qsmon_outbox_oldest_pending_seconds)"
PROM_INVALID = "sum by (reason) (rate(qsmon_results_invalid_total[5m]))"
PROM_BATCH_P99 = "histogram_quantile(0.99, sum by (le) (rate(qsmon_batch_seconds_bucket[5m])))"
PROM_NOTIFY_FAILURES = "sum by (channel) (increase(qsmon_notification_failures_total[15m]))"

# Follow-up cases (核查处置): where each step stands on the last day of the range. case_step_state() is
# cases.deadlines.step_state's SQL twin; the due dates were computed by the case sweep from the official calendar.
_STEP_STATE = f"case_step_state(s.done_on, s.due_on, s.soon_on, {TODAY})"
_CASE_REGION = "c.region_code LIKE region_pattern('$region')"  # the bureau and, for a city, its counties

CASES_TILES = f"""
SELECT count(DISTINCT c.id) FILTER (WHERE c.status = 'open') AS "办理中",
  count(*) FILTER (WHERE c.status = 'open' AND {_STEP_STATE} = 'due_soon') AS "即将到期(项)",
  count(*) FILTER (WHERE c.status = 'open' AND {_STEP_STATE} = 'overdue') AS "已超期(项)",
  count(DISTINCT c.id) FILTER (WHERE c.closed_on BETWEEN {FIRST_DAY} AND {TODAY}) AS "本期办结"
FROM cases c LEFT JOIN case_steps s ON s.case_id = c.id
WHERE {_CASE_REGION}
"""

CASES_BY_COUNTY = f"""
SELECT g.name AS "地区", s.name AS "步骤", count(*) FILTER (WHERE {_STEP_STATE} = 'open') AS "办理中",
  count(*) FILTER (WHERE {_STEP_STATE} = 'due_soon') AS "即将到期",
  count(*) FILTER (WHERE {_STEP_STATE} = 'overdue') AS "已超期"
FROM cases c JOIN case_steps s ON s.case_id = c.id LEFT JOIN regions g ON g.code = c.region_code
WHERE c.status = 'open' AND s.done_on IS NULL AND s.due_on IS NOT NULL AND {_CASE_REGION}
GROUP BY g.name, s.position, s.name
ORDER BY 5 DESC, 4 DESC, g.name, s.position
"""

CASES_OLDEST = f"""
SELECT c.opened_on AS "立案日", c.sample_id AS "抽样编号", g.name AS "地区", c.product AS "样品",
  c.firm AS "企业/单位", s.name AS "步骤", s.due_on AS "期限", label('step_state', {_STEP_STATE}) AS "状态",
  greatest({TODAY} - s.due_on, 0) AS "超期天数", s.basis AS "依据"
FROM cases c JOIN case_steps s ON s.case_id = c.id LEFT JOIN regions g ON g.code = c.region_code
WHERE c.status = 'open' AND {_STEP_STATE} IN ('overdue', 'due_soon') AND {_CASE_REGION}
ORDER BY s.due_on, c.opened_on LIMIT 200
"""

CASES_TIME_TO_CLOSE = f"""
SELECT label('category', c.category) AS "类别", count(*) AS "办结",
  avg(c.closed_on - c.opened_on) AS "平均用时(天)", max(c.closed_on - c.opened_on) AS "最长(天)",
  {
    rate_sql(
        f"count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM case_steps s WHERE s.case_id = c.id"
        f" AND {_STEP_STATE} = 'done_late'))",
        "count(*)",
    )
} AS "按时办结率(%)"
FROM cases c
WHERE c.status = 'closed' AND c.closed_on BETWEEN {FIRST_DAY} AND {TODAY} AND {_CASE_REGION}
GROUP BY c.category ORDER BY 2 DESC
"""
