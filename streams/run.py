"""``qsmon worker``: health and metrics endpoint plus the faust worker, with faust's own signal handling."""

from __future__ import annotations

import gc
import logging
import sys

from prometheus_client import CollectorRegistry

from qsmon.health import Health, serve
from qsmon.logs import configure_logging
from qsmon.settings import Settings

log = logging.getLogger("qsmon.worker")

GC_THRESHOLDS = (50_000, 20, 20)  # allocations before a young collection (default 700), then the older ones
# How long the validating thread may keep the GIL from the write thread (default 5 ms). Each of the write's round
# trips to PostgreSQL ends with the write thread waiting for the GIL while the next batch is validated: at 5 ms a
# wait, the small statements of a batch took 10-20x their time (docs/benchmarks.md, step 8).
SWITCH_INTERVAL_S = 0.0005


def tune_interpreter() -> None:
    """Every batch allocates ~10 objects per record, so the collector ran its full passes often, each walking
    everything loaded at startup (faust, aiokafka, pydantic's schemas) that is never garbage. Frozen, and with
    young collections rarer, it walks only the batch's objects (docs/benchmarks.md: profile). The GIL changes hands
    sooner, so the write thread is not kept waiting after each round trip."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def serve_on_free_port(
    registry: CollectorRegistry, health: Health, host: str, first_port: int, attempts: int = 4
) -> int:
    """Serve /metrics, /healthz, /readyz on the first free port from ``first_port``: several local workers each
    get one (in containers every replica has the same port)."""
    for port in range(first_port, first_port + attempts):
        try:
            serve(registry, health, host, port)
        except OSError:
            continue
        return port
    raise OSError(f"no free metrics port in {first_port}..{first_port + attempts - 1}")


def run_worker(settings: Settings, *, loglevel: str = "WARNING") -> None:
    import faust

    from qsmon.storage import check_schema, connect
    from streams.app import create_app

    configure_logging(loglevel, settings.log_format)
    with connect(settings.dsn, application_name="qsmon-worker:start") as conn:
        check_schema(conn)  # an upgrade out of order stops here, before a batch is written to a schema unknown
    registry = CollectorRegistry()
    health = Health()
    app = create_app(settings, registry, health)
    port = serve_on_free_port(registry, health, settings.metrics_host, settings.worker_metrics_port)
    tune_interpreter()
    log.warning("qsmon worker: group=%s topic=%s metrics=:%d", settings.worker_group, settings.results_topic, port)
    # Our handlers (text or JSON, qsmon.logs) stay: faust would install its own format otherwise.
    faust.Worker(app, loglevel=loglevel, quiet=True, override_logging=False).execute_from_commandline()
