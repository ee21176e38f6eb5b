"""Closing connections that send too slowly (slowloris): uvicorn has keep-alive timeouts, no read deadlines.

A request's headers must arrive within ``header_timeout`` of the connection (or of the first byte after an idle
keep-alive), and its body within ``body_timeout`` of the headers; otherwise the connection is closed. A client
that sends one byte a minute holds a connection for seconds, not forever.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("qsmon.ingest")


class DeadlineH11Protocol(H11Protocol):
    header_timeout: float = 10.0
    body_timeout: float = 60.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_body = False
        self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_request()

    def _follow_request(self) -> None:
        state = self.conn.their_state
        if state is h11.IDLE:  # (the rest of) a request's headers are awaited
            if self._deadline is None and self.conn.trailing_data[0]:
                self._arm(self.header_timeout)
        elif state is h11.SEND_BODY:
            if not self._reading_body:
                self._reading_body = True
                self._arm(self.body_timeout)
        else:  # the whole request is in (or the connection is done): the application's time is not limited here
            self._reading_body = False
            self._disarm()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            phase = "body" if self._reading_body else "headers"
            log.warning("closed a connection from %s: its request %s came too slowly", self.client, phase)
            self.transport.close()


def deadline_protocol(header_timeout: float, body_timeout: float) -> type[H11Protocol]:
    """An HTTP protocol class for ``uvicorn.Config(http=...)`` with these read deadlines."""
    attributes: dict[str, Any] = {"header_timeout": header_timeout, "body_timeout": body_timeout}
    return type("ConfiguredDeadlineH11Protocol", (DeadlineH11Protocol,), attributes)
