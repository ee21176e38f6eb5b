"""A real HTTP webhook receiver on a loopback port, for trying channels and for tests.

It records every message with its headers, and can go down and come back on the same port (`stop`/`start`),
which is how the delivery tests take a receiver away for minutes.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


class WebhookReceiver:
    def __init__(self, port: int = 0, reply: bytes = b"", *, status: int = 200, echo_path: bool = False) -> None:
        self.received: list[Any] = []  # JSON bodies: objects, or lists for Alertmanager
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.reply = reply  # robots answer JSON such as {"errcode": 0}
        self.status = status
        self.echo_path = echo_path  # a careless receiver that repeats the URL (and its key) in its answer
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    receiver.received.append(orjson.loads(body))
                    receiver.headers.append(dict(self.headers))
                    receiver.paths.append(self.path)
                reply = receiver.reply + (f" {self.path}".encode() if receiver.echo_path else b"")
                self.send_response(receiver.status)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Go down: the port refuses connections until start()."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def alerts(self, plan: str | None = None) -> list[Any]:
        """Every alert change received, from the grouped messages (``alerts``) in arrival order."""
        with self._lock:
            return [a for m in self.received for a in m.get("alerts", []) if plan is None or a["plan"] == plan]

    def transitions(self, plan: str | None = None) -> list[str]:
        return [a["transition"] for a in self.alerts(plan)]
