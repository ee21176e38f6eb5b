"""The HTTP ingest API, served by uvicorn on a real port, in front of the real Kafka."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from qsmon import clock
from qsmon.auth import LOOKUP_CONNECTIONS
from qsmon.settings import Settings
from qsmon.storage import connect
from qsmon.tokens import Scope, TokenVerifier, create_token, revoke_token
from qsmon.topics import end_offset_total
from tests.factories import result
from tests.proxy import CuttableProxy
from tests.workers import serve_ingest, stack, wait_until

pytestmark = pytest.mark.integration
TOKEN = "lab-system-token-1"


def serve(settings: Settings, **overrides: Any) -> Iterator[tuple[str, Settings]]:
    yield from serve_ingest(settings, tokens=("other-token", TOKEN), **overrides)


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[str, Settings]]:
    yield from serve(settings, ingest_max_body_bytes=20_000)


@pytest.fixture
def big_api(settings: Settings) -> Iterator[tuple[str, Settings]]:
    """The production limits (8 MB bodies), short read deadlines."""
    yield from serve(settings, ingest_header_timeout_s=2.0, ingest_body_timeout_s=3.0)


def post(
    url: str,
    body: bytes,
    *,
    token: str | None = TOKEN,
    ndjson: bool = False,
    authorization: str | None = None,
    content_type: str | None = None,
) -> httpx.Response:
    headers = {"content-type": content_type or ("application/x-ndjson" if ndjson else "application/json")}
    if authorization is not None:
        headers["authorization"] = authorization
    elif token is not None:
        headers["authorization"] = f"Bearer {token}"
    return httpx.post(f"{url}/v1/results", content=body, headers=headers, timeout=30)


class TestIngest:
    def test_one_result_is_accepted_once_kafka_has_it(self, api: tuple[str, Settings]) -> None:
        url, settings = api
        response = post(url, result("API-1").to_json())
        assert (response.status_code, response.json()) == (202, {"accepted": 1})
        assert end_offset_total(settings) == 1

    def test_an_ndjson_batch_is_accepted_whole(self, api: tuple[str, Settings]) -> None:
        url, settings = api
        body = b"\n".join(result(f"API-{i}").to_json() for i in range(3)) + b"\n"
        response = post(url, body, ndjson=True)
        assert (response.status_code, response.json()) == (202, {"accepted": 3})
        assert end_offset_total(settings) == 3

    def test_one_bad_record_rejects_the_batch_with_per_record_errors(self, api: tuple[str, Settings]) -> None:
        url, settings = api
        body = b"\n".join(
            [
                result("API-1").to_json(),
                b'{"sample_id": "API-2", "verdict": "maybe"}',
                result("API-3").to_json(),
                b"{oops",
            ]
        )
        response = post(url, body, ndjson=True)
        assert response.status_code == 422
        assert response.json()["error_count"] == 2
        errors = response.json()["errors"]
        assert [(e["line"], e["sample_id"]) for e in errors] == [(2, "API-2"), (4, None)]
        assert "not JSON" in errors[1]["error"]
        assert end_offset_total(settings) == 0  # all or nothing

    @pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic bGFiOmxhYg==", TOKEN])
    def test_without_a_valid_token_the_answer_is_401(
        self, api: tuple[str, Settings], authorization: str | None
    ) -> None:
        url, settings = api
        response = post(url, result("API-1").to_json(), token=None, authorization=authorization)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert end_offset_total(settings) == 0

    def test_a_body_past_the_limit_is_413(self, api: tuple[str, Settings]) -> None:
        url, _ = api
        body = b"\n".join(result(f"API-{i}").to_json() for i in range(100))
        assert post(url, body, ndjson=True).status_code == 413

    def test_a_body_that_is_not_json_is_400(self, api: tuple[str, Settings]) -> None:
        url, _ = api
        assert post(url, b"sample_id=1&verdict=pass").status_code == 400
        assert post(url, b"").status_code == 400

    def test_the_openapi_description_is_served(self, api: tuple[str, Settings]) -> None:
        url, _ = api
        spec = httpx.get(f"{url}/openapi.json", timeout=10).json()
        assert set(spec["paths"]["/v1/results"]["post"]["responses"]) >= {
            "202",
            "400",
            "401",
            "413",
            "415",
            "422",
            "503",
        }

    def test_metrics_count_requests_by_status(self, api: tuple[str, Settings]) -> None:
        url, _ = api
        post(url, result("API-1").to_json())
        post(url, result("API-1").to_json(), token=None)
        metrics = httpx.get(f"{url}/metrics/", timeout=10).text
        assert 'qsmon_ingest_requests_total{status="202"} 1.0' in metrics
        assert 'qsmon_ingest_requests_total{status="401"} 1.0' in metrics


class TestOneClientCannotKnockItOver:
    def test_another_content_type_is_415(self, api: tuple[str, Settings]) -> None:
        url, settings = api
        assert post(url, result("API-1").to_json(), content_type="text/plain").status_code == 415
        bare = httpx.post(
            f"{url}/v1/results",
            content=result("API-1").to_json(),
            headers={"authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert bare.status_code == 415
        assert end_offset_total(settings) == 0

    def test_a_result_from_the_future_is_422(self, api: tuple[str, Settings]) -> None:
        url, settings = api
        response = post(url, result("API-F", at=clock.now() + timedelta(days=3)).to_json())
        assert response.status_code == 422
        assert "future" in response.json()["errors"][0]["error"]
        assert end_offset_total(settings) == 0

    def test_errors_are_listed_up_to_100_then_counted(self, api: tuple[str, Settings]) -> None:
        url, _ = api
        response = post(url, b'{"a": 1}\n' * 150, ndjson=True)
        assert response.status_code == 422
        body = response.json()
        assert (body["error_count"], len(body["errors"])) == (150, 100)
        assert body["errors"][-1]["line"] == 100

    def test_8mb_of_bad_ndjson_is_a_small_422_while_health_checks_answer(self, big_api: tuple[str, Settings]) -> None:
        url, settings = big_api
        bodies = {
            "millions of tiny lines": b"1\n" * (4 * 1024 * 1024),  # 4.19 M lines, the request
            "one 7 MB line of failed items": result("API-X", verdict="fail")
            .to_json()
            .replace(b'"failed_items":[', b'"failed_items":[' + b'{"item":1},' * 600_000),
            "20,000 large invalid records": b"\n".join(
                result(f"API-{i}").to_json().replace(b'"pass"', b'"maybe"') + b" " * 80 for i in range(20_000)
            ),
        }
        answers: dict[str, httpx.Response] = {}
        for name, body in bodies.items():
            assert len(body) <= settings.ingest_max_body_bytes, name
            sender = threading.Thread(target=lambda n=name, b=body: answers.update({n: post(url, b, ndjson=True)}))
            sender.start()
            slowest = 0.0
            while sender.is_alive():
                started = time.monotonic()
                assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
                slowest = max(slowest, time.monotonic() - started)
                time.sleep(0.05)
            sender.join()
            assert answers[name].status_code == 422, name
            assert len(answers[name].content) < 100_000, name
            assert slowest < 1.0, (name, slowest)
        assert end_offset_total(settings) == 0

    def test_a_client_that_sends_a_byte_a_second_is_cut_off(self, big_api: tuple[str, Settings]) -> None:
        url, _ = big_api
        host, port = url.removeprefix("http://").split(":")
        for request in (
            b"POST /v1/results HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # headers that never end
            b"POST /v1/results HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 500\r\n\r\n{",
        ):
            with socket.create_connection((host, int(port)), timeout=10) as conn:
                conn.sendall(request)
                started = time.monotonic()
                closed = False
                while time.monotonic() - started < 15:
                    try:
                        conn.sendall(b"a")
                        conn.settimeout(1.0)
                        if conn.recv(1024) == b"":
                            closed = True
                            break
                    except TimeoutError:
                        continue
                    except OSError:
                        closed = True
                        break
                assert closed, request
                assert time.monotonic() - started < 6  # 2 s for headers, 3 s for a body

    @pytest.mark.slow
    def test_with_kafka_down_the_answer_is_503_within_5_seconds(self, api: tuple[str, Settings]) -> None:
        url, _ = api
        assert post(url, result("API-K0").to_json()).status_code == 202  # the producer knows the topic
        stack("stop", "kafka")
        try:
            started = time.monotonic()
            response = post(url, result("API-K1").to_json())
            elapsed = time.monotonic() - started
        finally:
            stack("start", "kafka")
        assert response.status_code == 503
        assert elapsed < 5.0  # the 4 s acknowledgement timeout, and the answer


class TestFuzzing:
    # schemathesis runs from its own environment (`uv tool run`, the Makefile's uv): grafana-client's niquests
    # installs urllib3-future over urllib3, which breaks the requests transport schemathesis uses.
    SCHEMATHESIS = "schemathesis==4.32.5"

    def test_schemathesis_finds_no_server_error(self, api: tuple[str, Settings], tmp_path: Path) -> None:
        """Generated requests, valid and invalid, from the OpenAPI description: never a 5xx."""
        url, _ = api
        # `uv run` names itself in UV; a plain `python3` there is the project's venv, which has no uv module.
        uv = os.environ.get("UV") or shutil.which("uv")
        assert uv, "uv not found: run the tests through `make test` (uv run pytest)"
        run = subprocess.run(
            [
                uv,
                "tool",
                "run",
                "--from",
                self.SCHEMATHESIS,
                "st",
                "run",
                f"{url}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--max-examples",
                "500",
                "--seed",
                "20",
                "--workers",
                "1",
                "--generation-database",
                "none",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        generated = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
        assert generated, run.stdout[-2000:]
        assert int(generated[1]) == int(generated[2]) >= 500


class TestScopedTokens:
    @pytest.fixture
    def named_api(self, settings: Settings, unique_name: Callable[[str], str]) -> Iterator[tuple[str, Settings, str]]:
        """The API with its database sessions named for this test alone, so they can be counted."""
        name = unique_name("auth")
        dsn = f"{settings.dsn}&application_name={name}"
        for served in serve(settings.model_copy(update={"database_url": SecretStr(dsn)})):
            yield (*served, name)

    def test_an_ingest_token_is_accepted_and_a_read_token_is_not(self, api: tuple[str, Settings]) -> None:
        url, settings = api
        with connect(settings.dsn) as conn:
            _, ingest = create_token(conn, "lab system", {Scope.INGEST})
            _, read = create_token(conn, "dashboard", {Scope.READ})
        assert post(url, result("SCOPED-1").to_json(), token=ingest).status_code == 202
        assert post(url, result("SCOPED-2").to_json(), token=read).status_code == 401

    def test_a_flood_of_guessed_tokens_shares_a_few_connections(self, named_api: tuple[str, Settings, str]) -> None:
        """Each guess is looked up, and each lookup once opened a connection of its own: a flood could take every
        connection the database allows. Now they share LOOKUP_CONNECTIONS; the answers stay 401."""
        url, settings, name = named_api
        peak, flooding, watching = 0, threading.Event(), threading.Event()

        def watch() -> None:
            nonlocal peak
            with connect(settings.dsn, autocommit=True) as db:
                watching.set()
                while True:  # once more after the flood: the pool keeps its connections a while
                    still_flooding = flooding.is_set()
                    row = db.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid()",
                        (name,),
                    ).fetchone()
                    peak = max(peak, row[0] if row else 0)
                    if not still_flooding:
                        return
                    time.sleep(0.01)

        guesses = [f"qsm_{secrets.token_urlsafe(32)}" for _ in range(300)]
        flooding.set()
        watcher = threading.Thread(target=watch)
        watcher.start()
        assert watching.wait(10)
        try:
            with ThreadPoolExecutor(32) as clients:
                answers = list(clients.map(lambda guess: post(url, b"{}", token=guess).status_code, guesses))
        finally:
            flooding.clear()
            watcher.join()
        # Refused (401) when looked up; 503 when more lookups waited than the queue holds, never 202.
        assert 401 in answers
        assert set(answers) <= {401, 503}
        assert 1 <= peak <= LOOKUP_CONNECTIONS
        with connect(settings.dsn) as conn:  # and a real token still gets through afterwards
            _, ingest = create_token(conn, "lab system", {Scope.INGEST})
        assert post(url, result("SCOPED-3").to_json(), token=ingest).status_code == 202

    def test_a_lab_in_use_gets_through_a_flood_of_guesses(
        self, api: tuple[str, Settings], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Guesses queue for their own connections; a token the database confirmed before is re-checked on
        another, so however many strangers guess, the lab's requests are accepted."""
        monkeypatch.setattr("qsmon.tokens.CACHE_SECONDS", 0.0)  # every request re-checks the lab's token
        url, settings = api
        with connect(settings.dsn) as conn:
            _, lab = create_token(conn, "lab system", {Scope.INGEST})
        assert post(url, result("SCOPED-10").to_json(), token=lab).status_code == 202
        guesses = [f"qsm_{secrets.token_urlsafe(32)}" for _ in range(600)]
        with ThreadPoolExecutor(48) as clients:
            flood = clients.map(lambda guess: post(url, b"{}", token=guess).status_code, guesses)
            labs = [post(url, result(f"SCOPED-1{n}").to_json(), token=lab).status_code for n in range(1, 21)]
            answers = list(flood)
        assert labs == [202] * 20
        # Every guess refused: 401, or 503 once the guesses' queue is full (how soon depends on the machine's load).
        assert set(answers) <= {401, 503}
        assert len(answers) == 600

    def test_guesses_never_push_a_token_in_use_out_of_the_cache(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("qsmon.tokens.MAX_CACHED", 3)
        with connect(settings.dsn) as conn:
            _, lab = create_token(conn, "lab system", {Scope.INGEST})
        verifier = TokenVerifier(lambda: connect(settings.dsn))
        assert verifier.verify(f"Bearer {lab}") is not None
        for _ in range(10):
            assert verifier.verify(f"Bearer qsm_{secrets.token_urlsafe(32)}") is None
        known, token = verifier.cached(f"Bearer {lab}")
        assert known
        assert token is not None

    def test_while_the_database_cannot_be_asked_a_scoped_token_gets_503_unless_it_was_confirmed_lately(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A 401 would tell a lab system its token is wrong; the truth is that nobody could check it now."""
        monkeypatch.setattr("qsmon.tokens.CACHE_SECONDS", 0.0)  # every request asks the database
        proxy = CuttableProxy.to_database(settings)
        try:
            with connect(settings.dsn) as conn:
                known_token, known = create_token(conn, "lab system", {Scope.INGEST})
                _, unseen = create_token(conn, "second lab", {Scope.INGEST})
            for url, _ in serve(proxy.reaching(settings)):

                def answer(sample_id: str, token: str, url: str = url) -> httpx.Response:
                    return post(url, result(sample_id).to_json(), token=token)

                assert answer("SCOPED-4", known).status_code == 202
                proxy.cut()
                assert answer("SCOPED-5", known).status_code == 202  # confirmed lately: GRACE_SECONDS
                refused = answer("SCOPED-6", unseen)
                assert refused.status_code == 503
                assert refused.headers["retry-after"] == "5"
                with connect(settings.dsn) as conn:  # revoked behind the cut: works on through the grace
                    revoke_token(conn, known_token.id)
                assert answer("SCOPED-7", known).status_code == 202
                monkeypatch.setattr("qsmon.tokens.GRACE_SECONDS", 0.0)  # and not past it
                assert answer("SCOPED-8", known).status_code == 503
                proxy.restore()
                wait_until(
                    lambda: answer("SCOPED-9", unseen).status_code == 202,
                    15,
                    "a scoped token accepted once the database is back",
                )
                assert answer("SCOPED-9", known).status_code == 401
        finally:
            proxy.close()
