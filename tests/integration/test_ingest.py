"""The HTTP ingest API, served by uvicorn on a real port, in front of the real Kafka."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from producers.ingest_api import create_app
from qsmon.settings import Settings
from qsmon.topics import end_offset_total, ensure_topics
from tests.factories import result
from tests.workers import free_port

pytestmark = pytest.mark.integration
TOKEN = "lab-system-token-1"


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[str, Settings]]:
    configured = settings.model_copy(update={
        "ingest_tokens": (SecretStr("other-token"), SecretStr(TOKEN)), "ingest_max_body_bytes": 20_000})
    ensure_topics(configured)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(configured), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", configured
    server.should_exit = True
    thread.join(timeout=20)


def post(url: str, body: bytes, *, token: str | None = TOKEN, ndjson: bool = False,
         authorization: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/x-ndjson" if ndjson else "application/json"}
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
        body = b"\n".join([result("API-1").to_json(), b'{"sample_id": "API-2", "verdict": "maybe"}',
                           result("API-3").to_json(), b"{oops"])
        response = post(url, body, ndjson=True)
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert [(e["line"], e["sample_id"]) for e in errors] == [(2, "API-2"), (4, None)]
        assert "not JSON" in errors[1]["error"]
        assert end_offset_total(settings) == 0  # all or nothing

    @pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic bGFiOmxhYg==", TOKEN])
    def test_without_a_valid_token_the_answer_is_401(self, api: tuple[str, Settings],
                                                     authorization: str | None) -> None:
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
        assert set(spec["paths"]["/v1/results"]["post"]["responses"]) >= {"202", "400", "401", "413", "422"}

    def test_metrics_count_requests_by_status(self, api: tuple[str, Settings]) -> None:
        url, _ = api
        post(url, result("API-1").to_json())
        post(url, result("API-1").to_json(), token=None)
        metrics = httpx.get(f"{url}/metrics/", timeout=10).text
        assert 'qsmon_ingest_requests_total{status="202"} 1.0' in metrics
        assert 'qsmon_ingest_requests_total{status="401"} 1.0' in metrics
