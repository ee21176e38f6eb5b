"""Logging for the long-running processes: one format (text, or JSON for a log pipeline), and no library that
prints secrets."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# These log every request's full URL at INFO/DEBUG; robot URLs carry their keys in the query string.
_URL_LOGGERS = ("httpx", "httpcore", "urllib3")

# Client libraries that log every failed reconnect: psycopg's pool ~1 line a second per pool while PostgreSQL is
# down, aiokafka and kafka-python one per attempt while the broker is. Once a minute is enough to see the outage.
RETRYING_LOGGERS = ("psycopg.pool", "aiokafka", "kafka")
REPEAT_INTERVAL_S = 60.0


class RepeatLimiter(logging.Filter):
    """Lets the first record of a kind through (same logger, same message template), then at most one a
    ``interval_s``, which says how many like it were held back in between. Records of other loggers pass."""

    def __init__(
        self,
        prefixes: tuple[str, ...] = RETRYING_LOGGERS,
        interval_s: float = REPEAT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._prefixes = prefixes
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()  # the pool logs from its worker threads
        self._kinds: dict[tuple[str, str], tuple[float, int]] = {}  # kind -> (last let through, held since)

    def _limited(self, name: str) -> bool:
        return any(name == prefix or name.startswith(prefix + ".") for prefix in self._prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not self._limited(record.name):
            return True
        kind = (record.name, str(record.msg))
        now = self._clock()
        with self._lock:
            last, held = self._kinds.get(kind, (float("-inf"), 0))
            if now - last < self._interval_s:
                self._kinds[kind] = (last, held + 1)
                return False
            self._kinds[kind] = (now, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like it in the last {now - last:.0f} s)"
        return True


def configure_logging(level: str, log_format: Literal["text", "json"] = "text") -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(FORMAT, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})
        )
    else:
        handler.setFormatter(logging.Formatter(FORMAT))
    # Replace only a handler of ours (configured twice in one process); others (a test's capture) stay.
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "qsmon", False)]:
        root.removeHandler(old)
    handler.qsmon = True  # type: ignore[attr-defined]
    handler.addFilter(RepeatLimiter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
