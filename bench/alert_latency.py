"""Alert latency: ``python -m bench.alert_latency [--trials N] [--group-wait S] [--write-docs]``.

From producing the result that breaches a target to the webhook receiving the message, through the real path:
Kafka → `qsmon worker` → change feed → `qsmon alerts run` (evaluate, record, outbox, NOTIFY) → grouped delivery
→ webhook. Each trial sends one failing acceptance result of a new subcategory to a `== 100 %` indicator broken
down by subcategory, so each trial opens exactly one new alert; the channel waits `group_wait` for more of the
same incident before it sends, so the goal is p99 under group_wait + 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta

from bench.docs import replace_section
from bench.e2e import CACHE, ROOT, drop, isolated
from notify.testing import WebhookReceiver
from producers.kafka_sink import ResultSink
from qsmon import clock
from qsmon.schema import FailedItem, InspectionResult
from qsmon.settings import Settings
from qsmon.topics import ensure_topics
from qsmon.vocab import Category, SamplingType, Verdict

PLAN = """\
id: bench-latency
title: 告警时延基准
issuer: qsmon bench
jurisdiction: {name: 荆州市, region_code: "421000"}
period: {start: 2020-01-01, end: 2030-12-31}
indicators:
  - id: acceptance-pass
    name: 工程竣工验收合格率
    source: 竣工验收合格率100%
    measure: pass_rate
    filter: {categories: [engineering], sampling_types: [acceptance]}
    target: {op: "==", value: 100}
    windows: [rolling_30d]
    min_samples: 1
    severity: critical
    breakdown: [subcategory]
"""


def breach(trial: int) -> InspectionResult:
    now = clock.now()
    return InspectionResult(
        sample_id=f"LAT-{trial}-{int(now.timestamp())}",
        sampled_at=now - timedelta(hours=2),
        reported_at=now,
        category=Category.ENGINEERING,
        subcategory=f"工程-{trial:03d}",
        sampling_type=SamplingType.ACCEPTANCE,
        region_code="421083",
        verdict=Verdict.FAIL,
        failed_items=(FailedItem(item="混凝土强度"),),
        source="bench",
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--group-wait", type=float, default=2.0, help="the channel's group_wait_s")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    base = Settings()
    settings = isolated(base, "alerts")
    ensure_topics(settings)
    work = CACHE / "alert-latency"
    (work / "plans").mkdir(parents=True, exist_ok=True)
    (work / "plans" / "bench-latency.yaml").write_text(PLAN, encoding="utf-8")
    receiver = WebhookReceiver()
    arrivals: dict[str, float] = {}
    (work / "channels.yaml").write_text(
        f"channels:\n  - {{name: hook, type: webhook, url: '{receiver.url}', group_wait_s: {args.group_wait},"
        " group_interval_s: 0}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "QSMON_DATABASE_URL": settings.dsn,
        "QSMON_RESULTS_TOPIC": settings.results_topic,
        "QSMON_DLQ_TOPIC": settings.dlq_topic,
        "QSMON_CHANGES_TOPIC": settings.changes_topic,
        "QSMON_WORKER_GROUP": settings.worker_group,
        "QSMON_WORKER_METRICS_PORT": "19511",
        "QSMON_PLANS_DIR": str(work / "plans"),
        "QSMON_ACTIVE_PLANS": '["bench-latency"]',
        "QSMON_CHANNELS_FILE": str(work / "channels.yaml"),
        "QSMON_ALERTS_GROUP": settings.worker_group + "-a",
        "QSMON_ALERTS_METRICS_PORT": "19512",
        "QSMON_ALERTS_SWEEP_SECONDS": "3600",
    }
    log = (CACHE / "alert-latency.log").open("ab")
    procs = [
        subprocess.Popen([sys.executable, "-m", "cli", *cmd], env=env, stdout=log, stderr=log, cwd=ROOT)
        for cmd in (["worker"], ["alerts", "run"])
    ]
    latencies: list[float] = []
    try:
        time.sleep(8)  # both joined their groups
        with ResultSink(settings, client_id="bench-alerts") as sink:
            for trial in range(args.trials):
                event = breach(trial)
                wanted = event.subcategory
                sent = time.monotonic()
                sink.deliver([event])
                deadline = sent + 30
                while time.monotonic() < deadline:
                    messages = [a for a in receiver.alerts() if a.get("subcategory") == wanted]
                    if messages:
                        arrivals[str(wanted)] = time.monotonic()
                        latencies.append(arrivals[str(wanted)] - sent)
                        break
                    time.sleep(0.005)
                time.sleep(0.2)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
        receiver.stop()
        drop(settings, base)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    text = (
        "<!-- bench:alerts:start -->\n"
        f"Command: `python -m bench.alert_latency --trials {args.trials} --group-wait {args.group_wait:g}`, run"
        f" {clock.now():%Y-%m-%d}: {len(latencies)} of {args.trials} breaches notified; produce → webhook received,"
        f" group_wait {args.group_wait:g} s included: p50 **{p50 * 1000:,.0f} ms**, p99 **{p99 * 1000:,.0f} ms**,"
        f" max {max(latencies) * 1000:,.0f} ms, mean {statistics.mean(latencies) * 1000:,.0f} ms; p99 minus"
        f" group_wait **{(p99 - args.group_wait) * 1000:,.0f} ms** (goal: under 1,000 ms).\n"
        "<!-- bench:alerts:end -->"
    )
    print(text)
    if args.write_docs:
        replace_section("alerts", text)


if __name__ == "__main__":
    main()
