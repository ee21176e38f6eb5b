"""The read API: other systems take the figures as data, with scoped tokens."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import typer

from cli.demo.console import step
from qsmon import clock
from qsmon.settings import Settings

PORT = 18490


def _token(scope: str, name: str) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "cli", "tokens", "create", "--name", name, "--scope", scope],
        check=True,
        capture_output=True,
        text=True,
    )
    return created.stdout.strip().rsplit(" ", 1)[-1]


def demo_read_api(settings: Settings) -> None:
    import httpx

    step("Read API (qsmon serve api, qsmon tokens create): the figures as JSON, CSV or xlsx for scoped tokens")
    read, public = _token("read", "演示·省局统计系统"), _token("public", "演示·信息公开页面")
    typer.echo("   $ qsmon tokens create --name 演示·省局统计系统 --scope read   (printed once; stored as SHA-256)")
    env = {**os.environ, "QSMON_API_PORT": str(PORT), "QSMON_PLANS_DIR": str(settings.plans_dir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "api"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{PORT}"
    try:
        for _ in range(150):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        today = clock.today(settings.timezone)
        last = today.replace(day=1) - timedelta(days=1)
        params = {
            "from": last.replace(day=1).isoformat(),
            "to": last.isoformat(),
            "group_by": "region",
            "region": "421000",
            "format": "csv",
        }
        answer = httpx.get(f"{base}/v1/rates", params=params, headers={"Authorization": f"Bearer {read}"}, timeout=30)
        typer.echo(
            f"   GET /v1/rates?…&group_by=region&format=csv -> {answer.status_code}"
            f" {answer.headers['content-type']}, ETag {answer.headers['etag'][:12]}…"
        )
        for line in answer.content.decode("utf-8-sig").splitlines()[:4]:
            typer.echo(f"     {line}")
        again = httpx.get(
            f"{base}/v1/rates",
            params=params,
            timeout=30,
            headers={"Authorization": f"Bearer {read}", "If-None-Match": answer.headers["etag"]},
        )
        typer.echo(f"   the same with If-None-Match                 -> {again.status_code}")
        denied = httpx.get(f"{base}/v1/alerts", headers={"Authorization": f"Bearer {public}"}, timeout=30)
        typer.echo(
            f"   GET /v1/alerts with a public token          -> {denied.status_code} {denied.headers['content-type']}"
        )
        wrong = httpx.get(
            f"{base}/v1/rates",
            params=params | {"region": "999999"},
            headers={"Authorization": f"Bearer {read}"},
            timeout=30,
        )
        typer.echo(f"   an unknown region                           -> {wrong.status_code}: {wrong.json()['detail']}")
    finally:
        server.terminate()
        server.wait(timeout=30)
