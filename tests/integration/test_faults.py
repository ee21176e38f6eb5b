"""Crashes and outages while results stream in: nothing lost, nothing counted twice."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest

from producers.kafka_sink import ResultSink
from producers.simulator import Simulator, SimulatorOptions
from qsmon.schema import InspectionResult
from qsmon.settings import Settings
from qsmon.storage import connect
from qsmon.topics import end_offset_total, ensure_topics
from streams.rebuild import differences
from tests.truth import expected_counts, stored_counts
from tests.workers import WorkerProcess, stack, stored_offset_total, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Trickle(threading.Thread):
    """Produces events at a steady rate in the background, as a live feed would."""

    def __init__(self, settings: Settings, events: Sequence[InspectionResult], per_second: int) -> None:
        super().__init__(daemon=True)
        self.settings, self.events, self.per_second = settings, events, per_second
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with ResultSink(self.settings, client_id="fault-trickle") as sink:
                started = time.monotonic()
                for n, event in enumerate(self.events):
                    sink.send(event)
                    if n % 500 == 0:
                        time.sleep(max(0.0, n / self.per_second - (time.monotonic() - started)))
        except BaseException as exc:  # surfaced by the test after join
            self.error = exc


def simulated(count: int, seed: int) -> list[InspectionResult]:
    options = SimulatorOptions(
        seed=seed, first_day=date(2026, 8, 1), last_day=date(2026, 10, 31), duplicate_rate=0.05, correction_rate=0.02
    )
    return list(Simulator(options).events(count))


def stored(settings: Settings) -> int:
    with connect(settings.dsn) as conn:
        return stored_offset_total(conn, settings)


@pytest.fixture
def stack_control() -> Iterator[None]:
    yield
    # Whatever the test did, leave every service running for the next one.
    stack("start", "postgres")
    stack("start", "kafka")


class TestFaults:
    def test_ten_sigkills_mid_stream_lose_and_double_count_nothing(self, settings: Settings, tmp_path: Path) -> None:
        ensure_topics(settings)
        events = simulated(100_000, seed=21)
        # Slower than the worker stores (~10k/s per worker): the feed lasts ~100 s, past the ten kill cycles
        # (each ~8 s: start, join the group, store), so every kill lands while results are still arriving.
        trickle = Trickle(settings, events, per_second=1000)
        trickle.start()
        rng = random.Random(5)
        progress_at_kill = [0]
        for _ in range(10):
            # Kill only once this worker has joined the group and stored something (joining waits out the killed
            # member's session), then at a random moment: between batches, or in the middle of one.
            worker = WorkerProcess(settings, tmp_path / "worker.log")
            try:
                wait_until(lambda: stored(settings) > progress_at_kill[-1], 60, "the restarted worker to store a batch")
                time.sleep(rng.uniform(0.0, 1.5))
            finally:  # a failed wait must not leave a worker running past the test
                worker.kill()
            progress_at_kill.append(stored(settings))
        progress_at_kill.pop(0)
        trickle.join(timeout=120)
        assert trickle.error is None, trickle.error
        total = end_offset_total(settings)

        final = WorkerProcess(settings, tmp_path / "worker.log")
        try:
            wait_until(lambda: stored(settings) == total, 180, "the last worker to catch up")
        finally:
            assert final.terminate() == 0
        # Every worker stored something before its kill (waited for above), and the last kill still left work.
        assert progress_at_kill[-1] < total, progress_at_kill
        with connect(settings.dsn) as db:
            assert stored_counts(db) == expected_counts(events)
            assert differences(db) == []

    def test_database_down_for_30s_mid_run_pauses_the_worker_and_loses_nothing(
        self, settings: Settings, tmp_path: Path, stack_control: None
    ) -> None:
        ensure_topics(settings)
        events = simulated(30_000, seed=22)
        trickle = Trickle(settings, events, per_second=1000)
        trickle.start()
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        try:
            wait_until(lambda: stored(settings) > 2000, 60, "the worker to store a first part")
            stack("stop", "postgres")
            time.sleep(30)
            assert worker.proc.poll() is None, "the worker must wait for the database, not exit"
            stack("start", "postgres")
            trickle.join(timeout=120)
            assert trickle.error is None, trickle.error
            total = end_offset_total(settings)
            wait_until(lambda: stored(settings) == total, 120, "the worker to catch up after the outage")
        finally:
            code = worker.terminate()
        assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
        log = (tmp_path / "worker.log").read_text()
        assert "database write failed" in log  # it did pause and retry
        with connect(settings.dsn) as db:
            assert stored_counts(db) == expected_counts(events)
            assert differences(db) == []

    def test_a_broker_restart_mid_run_resumes_where_it_stopped(
        self, settings: Settings, tmp_path: Path, stack_control: None
    ) -> None:
        ensure_topics(settings)
        first, second = simulated(20_000, seed=23), simulated(20_000, seed=24)
        with ResultSink(settings) as sink:
            sink.send_all(first)
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        try:
            wait_until(lambda: stored(settings) > 5000, 60, "the worker to store a first part")
            stack("stop", "kafka")
            time.sleep(5)
            stack("start", "kafka")
            with ResultSink(settings) as sink:
                sink.send_all(second)
            total = end_offset_total(settings)
            wait_until(lambda: stored(settings) == total, 180, "the worker to resume after the broker restart")
        finally:
            code = worker.terminate()
        assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
        with connect(settings.dsn) as db:
            assert stored_counts(db) == expected_counts(first + second)
            assert differences(db) == []
