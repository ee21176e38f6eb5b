"""`qsmon dashboards push` against a loopback stand-in for Grafana's HTTP API (no Grafana runs here).

It checks what grafana-client sends: the folder is created when missing and every dashboard is posted to
/api/dashboards/db with overwrite, into that folder, with the bearer token.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dashboards.build import BUILDERS
from dashboards.push import FOLDER_UID, push


class GrafanaStandIn:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any] | None, str]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                stand_in.requests.append(("GET", self.path, None, self.headers.get("authorization", "")))
                self._answer(404, {"message": "folder not found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                stand_in.requests.append(("POST", self.path, body, self.headers.get("authorization", "")))
                self._answer(200, {"status": "success", "uid": body.get("uid") or body.get("dashboard", {}).get("uid")})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def test_push_creates_the_folder_and_every_dashboard() -> None:
    grafana = GrafanaStandIn()
    try:
        pushed = push(grafana.url, "glsa_test_token")
    finally:
        grafana.server.shutdown()
    assert sorted(pushed) == sorted(f"qsmon-{name}" for name in BUILDERS)
    methods = [(m, p) for m, p, _, _ in grafana.requests]
    assert methods[0] == ("GET", f"/api/folders/{FOLDER_UID}")
    assert methods[1] == ("POST", "/api/folders")
    saved = [body for m, p, body, _ in grafana.requests if p == "/api/dashboards/db"]
    assert len(saved) == len(BUILDERS)
    assert all(b is not None and b["overwrite"] and b["folderUid"] == FOLDER_UID for b in saved)
    assert all(auth == "Bearer glsa_test_token" for _, _, _, auth in grafana.requests)
