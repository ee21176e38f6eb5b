"""``qsmon worker``: metrics endpoint plus the faust worker, with faust's own signal handling."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, start_http_server

from qsmon.logs import configure_logging
from qsmon.settings import Settings

log = logging.getLogger("qsmon.worker")


def start_metrics_server(registry: CollectorRegistry, host: str, first_port: int, attempts: int = 4) -> int:
    """Serve /metrics on the first free port from ``first_port``: several local workers each get one."""
    for port in range(first_port, first_port + attempts):
        try:
            start_http_server(port, addr=host, registry=registry)
        except OSError:
            continue
        return port
    raise OSError(f"no free metrics port in {first_port}..{first_port + attempts - 1}")


def run_worker(settings: Settings, *, loglevel: str = "WARNING") -> None:
    import faust

    from streams.app import create_app

    configure_logging(loglevel)
    registry = CollectorRegistry()
    app = create_app(settings, registry)
    port = start_metrics_server(registry, settings.metrics_host, settings.worker_metrics_port)
    log.warning("qsmon worker: group=%s topic=%s metrics=:%d", settings.worker_group, settings.results_topic, port)
    faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
