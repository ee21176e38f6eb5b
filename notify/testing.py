"""Real HTTP receivers on loopback ports, for trying channels, the demo and tests.

A webhook receiver records every message with its headers, and can go down and come back on the same port
(`stop`/`start`), which is how the delivery tests take a receiver away for minutes. A stuck receiver takes each
request and answers a header line now and then, never finishing: what a hung robot gateway does.
"""

from __future__ import annotations

import socket
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


class StuckReceiver:
    """Takes the request, then sends a header line every ``every_s`` and never finishes the answer: each read of
    the client's is quick, the whole answer never comes."""

    def __init__(self, every_s: float = 0.5) -> None:
        self.every_s = every_s
        self.requests = 0
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/hook"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                continue
            self.requests += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self._stop.wait(self.every_s):
                    conn.sendall(b"X-Wait: 1\r\n")
            except OSError:
                pass

    def stop(self) -> None:
        self._stop.set()
        self._server.close()
