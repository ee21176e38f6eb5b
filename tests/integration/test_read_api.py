"""The read API (#18) on the real stack: its figures equal the dashboards' panels and the monthly report on the same
data; scopes, formats, pagination, caching headers, validation and rate limits; a schema-driven fuzz run."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import openpyxl
import pytest

from alerts.engine import AlertEngine
from alerts.service import sync_reference_data
from dashboards.macros import expand
from dashboards.queries import OVERVIEW_TILES, REGIONS
from indicators.windows import shift_month
from notify.routing import ChannelsConfig
from producers.simulator import Simulator, SimulatorOptions
from qsmon import clock
from qsmon.plans import presets
from qsmon.settings import Settings
from qsmon.storage import apply_migrations, connect
from qsmon.tokens import Scope, create_token, revoke_token
from readapi.pagination import decode, encode
from reports.data import gather
from streams.records import SourceRecord, classify
from streams.store import ResultStore
from tests.workers import free_port, reader_dsn

pytestmark = pytest.mark.integration

NOW = clock.now()
TODAY = clock.today("Asia/Shanghai")
PLAN = "jingzhou-2023"


@pytest.fixture(scope="module")
def loaded(stack: Settings) -> Iterator[Settings]:
    """A schema with a year of simulated 荆州市 results, their evaluations and cases; shared by the module."""
    schema = f"api_{NOW:%H%M%S}"
    with connect(stack.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    dsn = f"{stack.dsn}?options={quote(f'-c search_path={schema},public')}"
    with connect(dsn) as conn:
        apply_migrations(conn)
        sync_reference_data(conn, presets().values())
    events = list(
        Simulator(
            SimulatorOptions(
                seed=11,
                first_day=TODAY - timedelta(days=365),
                last_day=TODAY,
                duplicate_rate=0.02,
                correction_rate=0.01,
            )
        ).events(12_000)
    )
    # Failures are announced a week after they are reported, as bureaus publish them: only those reach the public.
    events = [
        e.model_copy(update={"announcement_date": e.reported_at.date() + timedelta(days=7)})
        if e.verdict == "fail" and e.reported_at.date() + timedelta(days=7) < TODAY
        else e
        for e in events
    ]
    store = ResultStore(dsn, group="api", topic="api")
    records = [SourceRecord(0, i, e.key, e.to_json()) for i, e in enumerate(events)]
    for start in range(0, len(records), 4000):
        batch = records[start : start + 4000]
        store.write(classify(batch, clock.now() + timedelta(days=1))[0], batch)
    store.close()
    settings = stack.model_copy(update={"database_url": type(stack.database_url)(dsn)})
    in_force = presets()[PLAN].model_copy(update={"in_force_until": date(2099, 12, 31)})
    engine = AlertEngine(settings, {PLAN: in_force}, ChannelsConfig())
    engine.sweep()
    engine.close()
    yield settings
    with connect(stack.dsn, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The read API on a free loopback port, in a thread, as `qsmon serve api` runs it: its base URL."""
    import uvicorn

    from readapi.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def api(loaded: Settings) -> Iterator[str]:
    with serving(loaded) as base:
        yield base


def _token(settings: Settings, *scopes: Scope, rate: int = 100_000) -> str:
    with connect(settings.dsn) as conn:
        return create_token(conn, f"test-{'-'.join(scopes)}", set(scopes), rate)[1]


@pytest.fixture(scope="module")
def read_token(loaded: Settings) -> str:
    return _token(loaded, Scope.READ)


def get(base: str, path: str, token: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{base}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)


LAST_MONTH_END = TODAY.replace(day=1) - timedelta(days=1)
LAST_MONTH = LAST_MONTH_END.replace(day=1)


class TestFiguresAgree:
    def test_rates_by_county_equal_the_regions_panel(self, loaded: Settings, api: str, read_token: str) -> None:
        first, last = TODAY - timedelta(days=29), TODAY
        answer = get(
            api,
            "/v1/rates",
            read_token,
            **{
                "from": first.isoformat(),
                "to": last.isoformat(),
                "group_by": "region",
                "region": "421000",
                "category": "agricultural",
                "sampling_type": "routine_monitoring",
            },
        )
        assert answer.status_code == 200, answer.text
        api_counts = {i["key"]: i["tested"] for i in answer.json()["items"]}
        sql = expand(
            REGIONS,
            {"plan": PLAN, "indicator": "agricultural-routine-pass", "region": "421000"},
            _midnight(first),
            _midnight(last + timedelta(days=1)) - timedelta(microseconds=1),
        )
        with connect(reader_dsn(loaded.dsn)) as reader:
            panel = {code: int(samples) for _, code, samples, *_ in reader.execute(sql.encode()).fetchall()}
        assert api_counts == panel
        assert sum(panel.values()) > 100

    def test_monthly_rates_equal_the_monthly_report(self, loaded: Settings, api: str, read_token: str) -> None:
        answer = get(
            api,
            "/v1/rates",
            read_token,
            **{
                "from": LAST_MONTH.isoformat(),
                "to": LAST_MONTH_END.isoformat(),
                "group_by": "subcategory",
                "region": "421000",
                "category": "agricultural",
            },
        )
        with connect(loaded.dsn) as conn:
            report = gather(conn, presets()[PLAN], LAST_MONTH.year, LAST_MONTH.month, timezone=loaded.timezone)
        expected = {
            r.subcategory: (r.tested, r.passed, r.failed)
            for r in report.categories
            if r.category.value == "agricultural"
        }
        assert {i["key"]: (i["tested"], i["passed"], i["failed"]) for i in answer.json()["items"]} == expected
        assert expected

    def test_the_series_equals_the_reports_trend(self, loaded: Settings, api: str, read_token: str) -> None:
        first = date(*shift_month(LAST_MONTH.year, LAST_MONTH.month, -5), 1)
        answer = get(
            api,
            "/v1/evaluations/series",
            read_token,
            plan=PLAN,
            indicator="food-evaluative-pass",
            **{"from": first.isoformat(), "to": LAST_MONTH_END.isoformat()},
        )
        assert answer.status_code == 200, answer.text
        series = {i["month"]: (i["samples"], i["value"]) for i in answer.json()["items"]}
        with connect(loaded.dsn) as conn:
            report = gather(conn, presets()[PLAN], LAST_MONTH.year, LAST_MONTH.month, timezone=loaded.timezone)
        trend = dict(
            zip([f"{y}-{m:02d}-01" for y, m in report.trend_months], report.trends["food-evaluative-pass"], strict=True)
        )
        assert len(series) == 6
        for month, (samples, value) in series.items():
            assert (samples, value) == (trend[month].samples, pytest.approx(trend[month].value) if value else None)

    def test_current_evaluations_equal_the_overview(self, loaded: Settings, api: str, read_token: str) -> None:
        answer = get(api, "/v1/evaluations", read_token, plan=PLAN, region="421000", window="rolling_30d")
        items = {i["indicator_id"]: (i["value"], i["samples"]) for i in answer.json()["items"] if not i["subcategory"]}
        sql = expand(
            OVERVIEW_TILES,
            {"plan": PLAN, "region": "421000", "window": "rolling_30d"},
            _midnight(TODAY - timedelta(days=29)),
            _midnight(TODAY),
        )
        with connect(reader_dsn(loaded.dsn)) as reader:
            tiles = reader.execute(sql.encode()).fetchall()
        names = {i.name: i.id for i in presets()[PLAN].indicators}
        for name, window, value, _target, _state, samples, *_ in tiles:
            if window == "近30天":
                assert items[names[name]] == (value, samples)
        assert items


def _midnight(day: date) -> Any:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.combine(day, datetime.min.time(), ZoneInfo("Asia/Shanghai"))


class TestAccess:
    def test_no_token_is_401_and_problem_json(self, api: str) -> None:
        answer = httpx.get(f"{api}/v1/plans", timeout=10)
        assert answer.status_code == 401
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.headers["www-authenticate"] == "Bearer"

    def test_a_public_token_sees_aggregates_and_published_failures_only(self, loaded: Settings, api: str) -> None:
        public = _token(loaded, Scope.PUBLIC)
        assert get(api, "/v1/plans", public).status_code == 200
        assert get(api, "/v1/alerts", public).status_code == 403
        assert get(api, "/v1/cases", public).status_code == 403
        failures = get(
            api, "/v1/failures", public, **{"from": (TODAY - timedelta(days=60)).isoformat(), "to": TODAY.isoformat()}
        ).json()["items"]
        assert failures
        assert all("sample_id" not in f and "sampling_type" not in f for f in failures)
        assert set(failures[0]) <= {
            "manufacturer",
            "manufacturer_address",
            "sampled_unit",
            "sampled_unit_address",
            "product",
            "spec",
            "brand",
            "batch",
            "failed_items",
            "subcategory",
            "announcement_no",
            "announcement_date",
            "task_source",
            "lab",
            "remark",
        }

    def test_an_ingest_token_cannot_read_and_a_revoked_one_nothing(self, loaded: Settings, api: str) -> None:
        ingest = _token(loaded, Scope.INGEST)
        assert get(api, "/v1/rates", ingest, **{"from": "2026-01-01", "to": "2026-01-31"}).status_code == 403
        with connect(loaded.dsn) as conn:
            token, revoked = create_token(conn, "revoked", {Scope.READ})
            revoke_token(conn, token.id)
        assert get(api, "/v1/plans", revoked).status_code == 401

    def test_a_token_past_its_burst_gets_429_with_retry_after(self, loaded: Settings, api: str) -> None:
        slow = _token(loaded, Scope.PUBLIC, rate=12)  # a burst of 10 s of it: 2 requests, not the minute's 12
        answers = [get(api, "/v1/plans", slow).status_code for _ in range(3)]
        assert answers == [200, 200, 429]
        limited = get(api, "/v1/plans", slow)
        assert int(limited.headers["retry-after"]) >= 1


class TestHttp:
    def test_csv_and_xlsx_open_with_chinese_headers(self, api: str, read_token: str) -> None:
        params = {
            "from": LAST_MONTH.isoformat(),
            "to": LAST_MONTH_END.isoformat(),
            "group_by": "region",
            "region": "421000",
        }
        as_csv = get(api, "/v1/rates", read_token, format="csv", **params)
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert as_csv.content.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
        assert rows[0] == ["地区代码", "地区", "批次", "合格", "不合格", "合格率", "不合格率"]
        assert len(rows) > 3
        as_xlsx = httpx.get(
            f"{api}/v1/rates",
            params=params,
            timeout=30,
            headers={
                "Authorization": f"Bearer {read_token}",
                "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            },
        )
        sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
        assert sheet is not None
        assert next(sheet.iter_rows(values_only=True))[:3] == ("地区代码", "地区", "批次")

    def test_etag_answers_304_when_unchanged(self, api: str, read_token: str) -> None:
        first = get(api, "/v1/plans", read_token)
        etag = first.headers["etag"]
        assert "max-age" in first.headers["cache-control"]
        again = httpx.get(
            f"{api}/v1/plans", timeout=10, headers={"Authorization": f"Bearer {read_token}", "If-None-Match": etag}
        )
        assert again.status_code == 304
        assert again.content == b""

    def test_cursor_pages_give_every_row_once(self, api: str, read_token: str) -> None:
        params = {"from": (TODAY - timedelta(days=120)).isoformat(), "to": TODAY.isoformat()}
        whole = get(api, "/v1/failures", read_token, limit=1000, **params).json()["items"]
        assert 20 < len(whole) < 1000
        paged: list[str] = []
        cursor = None
        while True:
            page = get(api, "/v1/failures", read_token, limit=7, **params, **({"cursor": cursor} if cursor else {}))
            body = page.json()
            paged.extend(i["sample_id"] for i in body["items"])
            cursor = body["next_cursor"]
            if not cursor:
                break
            assert 'rel="next"' in page.headers["link"]
        assert paged == [i["sample_id"] for i in whole]

    @pytest.mark.parametrize(
        ("params", "words"),
        [
            ({"from": "2026-01-01", "to": "2026-01-31", "region": "999999"}, "unknown region"),
            ({"from": "2026-02-01", "to": "2026-01-31"}, "inverted"),
            ({"from": "2026-01-01", "to": "2026-01-31", "group_by": "year"}, "group_by"),
        ],
    )
    def test_invalid_parameters_are_a_clear_422(
        self, api: str, read_token: str, params: dict[str, str], words: str
    ) -> None:
        answer = get(api, "/v1/rates", read_token, **params)
        assert answer.status_code == 422
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert words in answer.text

    def test_a_page_past_the_maximum_and_a_foreign_cursor_are_refused(self, api: str, read_token: str) -> None:
        assert get(api, "/v1/alerts", read_token, limit=1001).status_code == 422
        assert get(api, "/v1/alerts", read_token, cursor="bm90LWEtY3Vyc29y").status_code == 400
        window = {"from": "2026-01-01", "to": "2026-01-31"}
        forged_ids: list[list[Any]] = [["x"], [None], [True], [{"a": 1}]]  # edited by hand: 400, never a 500
        for forged in forged_ids:
            assert get(api, "/v1/alerts", read_token, cursor=encode(forged)).status_code == 400
        forged_keys: list[list[Any]] = [["2026-13-01", "a"], [1, "a"], ["2026-01-01", 5]]
        for forged in forged_keys:
            assert get(api, "/v1/failures", read_token, cursor=encode(forged), **window).status_code == 400

    @pytest.mark.parametrize(
        ("params", "words"),
        [
            ({"from": "2024-01-01", "to": "2026-01-31", "group_by": "day"}, "longer than 370 days"),
            ({"from": "2026-01-01", "to": "2026-01-31", "group_by": "region"}, "needs a region"),
            ({"from": "2026-01-01", "to": "2026-01-31", "category": "spaceships"}, "category"),
        ],
    )
    def test_expensive_or_meaningless_requests_are_refused(
        self, api: str, read_token: str, params: dict[str, str], words: str
    ) -> None:
        answer = get(api, "/v1/rates", read_token, **params)
        assert answer.status_code == 422
        assert words in answer.text

    def test_cursors_out_of_bounds_are_a_400_not_a_500(self, loaded: Settings, api: str, read_token: str) -> None:
        public = _token(loaded, Scope.PUBLIC)
        window = {"from": "2026-01-01", "to": "2026-01-31"}

        def forge(key: list[Any]) -> str:  # as an attacker writes it: orjson would not even encode 2**63
            return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()

        for forged in ([-1], [2**63], [10**30], [100_001]):
            assert get(api, "/v1/failures", public, cursor=forge(forged), **window).status_code == 400, forged
        for forged in ([-1], [2**63], [10**30]):
            assert get(api, "/v1/alerts", read_token, cursor=forge(forged)).status_code == 400, forged
        for day in ("9999-12-31", "0001-01-01", "1999-12-31"):
            assert get(api, "/v1/failures", read_token, cursor=encode([day, "a"]), **window).status_code == 400

    @pytest.mark.parametrize("path", ["/v1/rates", "/v1/failures", "/v1/evaluations/series"])
    @pytest.mark.parametrize(
        ("first", "last"),
        [
            ("9999-12-31", "9999-12-31"),
            ("1999-12-31", "2000-01-31"),
            ("2100-12-01", "2101-01-01"),
            ("0001-01-01", "0001-01-02"),
        ],
    )
    def test_dates_outside_2000_to_2100_are_a_422(
        self, api: str, read_token: str, path: str, first: str, last: str
    ) -> None:
        params = {"from": first, "to": last, "plan": PLAN, "indicator": "food-evaluative-pass"}
        answer = get(api, path, read_token, **params)
        assert answer.status_code == 422, answer.text
        assert "outside the years" in answer.text

    def test_a_nul_in_text_or_cursor_is_a_4xx_not_a_500(self, api: str, read_token: str) -> None:
        window = {"from": "2026-01-01", "to": "2026-01-31"}
        assert get(api, "/v1/rates", read_token, subcategory="蔬\x00菜", **window).status_code == 422
        assert get(api, "/v1/evaluations", read_token, plan="jingzhou\x00").status_code == 422
        assert get(api, "/v1/failures", read_token, cursor=encode(["2026-01-01", "a\x00"]), **window).status_code == 400


def test_a_database_that_is_away_is_a_503_in_seconds(loaded: Settings) -> None:
    """The read API pointed at a database that does not answer: a problem+json 503 with Retry-After, quickly."""
    away = loaded.model_copy(update={"database_url": type(loaded.database_url)("postgresql://qsmon@127.0.0.1:1/qsmon")})
    with serving(away) as base:
        started = time.monotonic()
        answer = httpx.get(f"{base}/v1/plans", headers={"Authorization": "Bearer qsm_" + "a" * 43}, timeout=30)
        assert time.monotonic() - started < 15
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["retry-after"] == "5"


class TestPublicLimits:
    def test_a_public_tokens_cursor_carries_no_sample_id(self, loaded: Settings, api: str) -> None:
        public = _token(loaded, Scope.PUBLIC)
        params = {"from": (TODAY - timedelta(days=120)).isoformat(), "to": TODAY.isoformat(), "limit": 5}
        first = get(api, "/v1/failures", public, **params).json()
        assert decode(first["next_cursor"], (int,)) == [5]  # a position, nothing else
        second = get(api, "/v1/failures", public, cursor=first["next_cursor"], **params).json()["items"]
        whole = get(api, "/v1/failures", public, **(params | {"limit": 10})).json()["items"]
        assert first["items"] + second == whole

    def test_risk_monitoring_needs_a_read_token(self, loaded: Settings, api: str, read_token: str) -> None:
        public = _token(loaded, Scope.PUBLIC)
        params = {"from": LAST_MONTH.isoformat(), "to": LAST_MONTH_END.isoformat(), "sampling_type": "risk_monitoring"}
        assert get(api, "/v1/rates", public, **params).status_code == 403
        assert get(api, "/v1/rates", read_token, **params).status_code == 200


class TestCompleteness:
    def test_each_month_says_whether_its_data_is_complete_and_its_last_day(self, loaded: Settings, api: str) -> None:
        public = _token(loaded, Scope.PUBLIC)
        answer = get(
            api,
            "/v1/completeness",
            public,
            **{"from": f"{LAST_MONTH:%Y-%m}", "to": f"{TODAY:%Y-%m}", "region": "421000"},
        )
        assert answer.status_code == 200, answer.text
        last_month, this_month = answer.json()["items"]
        assert (last_month["incomplete"], last_month["note"]) == (False, None)  # simulated through the month
        assert last_month["last_day"] == f"{LAST_MONTH_END:%Y-%m-%d}"
        assert (this_month["incomplete"], this_month["reasons"]) == (True, ["in_progress"])
        assert this_month["note"].startswith(f"数据完整性：{TODAY.year}年{TODAY.month}月本月尚未结束")
        assert "tested" not in this_month  # counts are for read tokens
        assert "批次" not in this_month["note"]
        read_token = _token(loaded, Scope.READ)
        (counted,) = get(
            api, "/v1/completeness", read_token, **{"from": f"{LAST_MONTH:%Y-%m}", "to": f"{LAST_MONTH:%Y-%m}"}
        ).json()["items"]
        assert counted["tested"] > 0
        for fmt in ("csv", "xlsx"):
            assert (
                get(
                    api, "/v1/completeness", public, **{"from": f"{TODAY:%Y-%m}", "to": f"{TODAY:%Y-%m}", "format": fmt}
                ).status_code
                == 200
            )

    def test_an_inverted_or_too_long_span_is_a_422(self, api: str, read_token: str) -> None:
        assert get(api, "/v1/completeness", read_token, **{"from": "2020-12", "to": "2020-01"}).status_code == 422
        assert get(api, "/v1/completeness", read_token, **{"from": "2018-01", "to": "2020-12"}).status_code == 422


class TestFuzzing:
    SCHEMATHESIS = "schemathesis==4.32.5"

    def test_schemathesis_finds_no_server_error(self, api: str, read_token: str, tmp_path: Path) -> None:
        """Generated requests, valid and invalid, from the OpenAPI description: never a 5xx, always the declared
        status codes and content types."""
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
                f"{api}/openapi.json",
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance",
                "--header",
                f"Authorization: Bearer {read_token}",
                "--max-examples",
                "60",
                "--seed",
                "18",
                "--workers",
                "1",
                "--generation-database",
                "none",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        generated = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
        assert generated, run.stdout[-2000:]
        assert int(generated[1]) == int(generated[2]) >= 200
