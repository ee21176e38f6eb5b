"""Logging for the long-running processes: one format (text, or JSON for a log pipeline), and no library that
prints secrets."""

from __future__ import annotations

import logging
from typing import Literal

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# These log every request's full URL at INFO/DEBUG; robot URLs carry their keys in the query string.
_URL_LOGGERS = ("httpx", "httpcore", "urllib3")


def configure_logging(level: str, log_format: Literal["text", "json"] = "text") -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter(FORMAT, rename_fields={"asctime": "time", "levelname": "level",
                                                                  "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter(FORMAT))
    # Replace only a handler of ours (configured twice in one process); others (a test's capture) stay.
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "qsmon", False)]:
        root.removeHandler(old)
    handler.qsmon = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
