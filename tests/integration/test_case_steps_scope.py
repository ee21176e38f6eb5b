"""The case-step endpoint (issue #31): a token records steps of cases in its regions only, a case elsewhere is
answered as one that does not exist, the texts follow the results' rule, and requests share a small pool."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import psycopg
import pytest

from cases.api import POOL_SIZE, router
from cases.store import find_case
from qsmon import clock
from qsmon.provenance import WriteScope
from qsmon.settings import Settings
from qsmon.storage import connect
from qsmon.tokens import Scope, create_token
from tests.factories import result
from tests.integration.test_cases import run_sweep
from tests.workers import DirectWriter, serve_ingest

pytestmark = pytest.mark.integration


@pytest.fixture
def served(settings: Settings, db: psycopg.Connection) -> Iterator[tuple[str, int, str, str]]:
    """A case in 洪湖市 (421083): the base URL, the case id, a 荆州市 lab's token and a 沙市区 lab's."""
    writer = DirectWriter(settings)
    try:
        writer.store_results(
            [result("CS-1", verdict="fail", at=clock.now() - timedelta(days=12), region="421083", product="小白菜")]
        )
    finally:
        writer.close()
    run_sweep(db, settings)
    case = find_case(db, "CS-1")
    with connect(settings.dsn) as conn:
        city = create_token(conn, "荆州市检验所", {Scope.INGEST}, write_scope=WriteScope(regions=("421000",)))[1]
        other = create_token(conn, "沙市区检验所", {Scope.INGEST}, write_scope=WriteScope(regions=("421002",)))[1]
    for base, _ in serve_ingest(settings, tokens=("case-token-0123456789",), routers=[router]):
        yield base, case.id, city, other


def post(base: str, token: str, case_id: int, **body: object) -> httpx.Response:
    payload = {"step": "risk_control", "done_on": clock.today("Asia/Shanghai").isoformat(), "done_by": "张三"}
    return httpx.post(
        f"{base}/v1/cases/{case_id}/steps",
        json=payload | body,
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
    )


class TestCaseStepScope:
    def test_a_case_outside_the_tokens_regions_is_answered_as_no_such_case(
        self, served: tuple[str, int, str, str], db: psycopg.Connection
    ) -> None:
        base, case_id, _, other = served
        foreign = post(base, other, case_id, step="serve_conclusion")
        missing = post(base, other, 999_999, step="serve_conclusion")
        assert (
            (foreign.status_code, foreign.json())
            == (missing.status_code, missing.json())
            == (404, {"detail": "no such case"})
        )
        # a step the case does not have tells nothing either: the region is checked first
        assert post(base, other, case_id, step="no_such_step").json() == missing.json()
        row = db.execute(
            "SELECT count(*) FROM case_steps WHERE case_id = %s AND done_on IS NOT NULL", (case_id,)
        ).fetchone()
        assert row == (0,)

    def test_a_token_of_the_cases_region_records_it_and_is_named(
        self, served: tuple[str, int, str, str], db: psycopg.Connection
    ) -> None:
        base, case_id, city, _ = served
        answer = post(base, city, case_id)
        assert answer.status_code == 200, answer.text
        via = db.execute(
            "SELECT recorded_via FROM case_steps WHERE case_id = %s AND step = 'risk_control'", (case_id,)
        ).fetchone()
        assert via is not None
        assert via[0].startswith("api:token:")

    @pytest.mark.parametrize(
        "body",
        [{"done_by": "张三\n李四"}, {"done_by": "\u202e四李"}, {"note": "已下架\x00"}, {"attachment": "文号\u200b"}],
    )
    def test_done_by_and_note_follow_the_results_text_rule(
        self, served: tuple[str, int, str, str], body: dict[str, str]
    ) -> None:
        base, case_id, city, _ = served
        answer = post(base, city, case_id, **body)
        assert answer.status_code == 422, answer.text

    def test_requests_share_a_pool_of_connections(
        self, served: tuple[str, int, str, str], db: psycopg.Connection
    ) -> None:
        base, case_id, city, _ = served
        peak = 0
        with ThreadPoolExecutor(40) as pool:
            answers = [pool.submit(post, base, city, case_id) for _ in range(60)]
            while not all(a.done() for a in answers):
                row = db.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'qsmon-cases-api'"
                    " AND datname = current_database()"
                ).fetchone()
                peak = max(peak, int(row[0]) if row else 0)
        assert {a.result().status_code for a in answers} == {200}  # the same step, the same day: recorded once
        assert 1 <= peak <= POOL_SIZE
