"""Logging for the long-running processes: one format, and no library that prints secrets."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# These log every request's full URL at INFO/DEBUG; robot URLs carry their keys in the query string.
_URL_LOGGERS = ("httpx", "httpcore", "urllib3")


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=FORMAT)
    for name in _URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
