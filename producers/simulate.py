"""Running the simulator against Kafka: a fixed count spread over past days, or a live rate."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from producers.kafka_sink import ResultSink, local_sender
from producers.simulator import Simulator, SimulatorOptions
from qsmon.settings import Settings


@dataclass(frozen=True, slots=True)
class SimulationReport:
    sent: int
    seconds: float


def send_history(
    settings: Settings, options: SimulatorOptions, count: int, *, progress: Callable[[int], None] | None = None
) -> SimulationReport:
    """``count`` results over ``options.first_day..last_day``, as fast as Kafka takes them."""
    started = time.monotonic()
    with ResultSink(settings, client_id="qsmon-simulator", sender=local_sender("simulator")) as sink:
        for n, result in enumerate(Simulator(options).events(count), 1):
            sink.send(result)
            if progress and n % 10_000 == 0:
                progress(10_000)
        sink.flush()
        sent = sink.sent
    return SimulationReport(sent, time.monotonic() - started)


def send_live(
    settings: Settings, options: SimulatorOptions, rate: float, duration_s: float, max_count: int | None = None
) -> SimulationReport:
    """Results sampled in the last days and reported now, at ``rate`` per second for ``duration_s``."""
    simulator = Simulator(options)
    started = time.monotonic()
    sent = 0
    with ResultSink(settings, client_id="qsmon-simulator", sender=local_sender("simulator")) as sink:
        while time.monotonic() - started < duration_s and (max_count is None or sent < max_count):
            due = int((time.monotonic() - started) * rate) + 1
            while sent < due and (max_count is None or sent < max_count):
                sink.send(simulator.live_event())
                sent += 1
            time.sleep(min(0.05, 1 / max(rate, 1)))
        sink.flush()
    return SimulationReport(sent, time.monotonic() - started)
