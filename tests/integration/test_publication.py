"""What the public sees is published (issue #31): only announced failures with no 复检 pending, and no rate cell
small enough to name a firm; the SQL twin of the rule agrees with qsmon.publication."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from alerts.service import sync_reference_data
from qsmon import clock
from qsmon.plans import presets
from qsmon.publication import ANNOUNCED_SQL, failure_published
from qsmon.settings import Settings
from qsmon.storage import connect
from qsmon.tokens import Scope, create_token
from tests.factories import result
from tests.integration.test_read_api import get, serving
from tests.workers import DirectWriter

pytestmark = pytest.mark.integration
TODAY = clock.today("Asia/Shanghai")
SAMPLED = datetime.combine(TODAY - timedelta(days=20), datetime.min.time(), UTC) + timedelta(hours=2)
WINDOW = {"from": (TODAY - timedelta(days=30)).isoformat(), "to": TODAY.isoformat()}


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[str, str, str]]:
    """The read API over four failures in 洪湖市 (one published) and eight passes: base URL, public and read
    tokens."""
    announced = TODAY - timedelta(days=1)
    writer = DirectWriter(settings)
    try:
        writer.store_results(
            [
                result(
                    "PUB-1",
                    verdict="fail",
                    at=SAMPLED,
                    region="421083",
                    manufacturer="公告企业",
                    announcement_date=announced,
                ),
                result("PUB-2", verdict="fail", at=SAMPLED, region="421083", manufacturer="未公告企业"),
                result(
                    "PUB-3",
                    verdict="fail",
                    at=SAMPLED,
                    region="421083",
                    manufacturer="明日公告企业",
                    announcement_date=TODAY + timedelta(days=1),
                ),
                result(
                    "PUB-4",
                    verdict="fail",
                    at=SAMPLED,
                    region="421083",
                    manufacturer="复检中企业",
                    announcement_date=announced,
                    retest_status="pending",
                ),
                *(result(f"OK-{i}", at=SAMPLED, region="421083") for i in range(4)),  # 洪湖市: 8 batches
                *(result(f"ONE-{i}", at=SAMPLED, region="421002") for i in range(1)),  # 沙市区: 1 batch
            ]
        )
    finally:
        writer.close()
    with connect(settings.dsn) as conn:
        sync_reference_data(conn, presets().values())  # the regions table the county grouping joins
        public = create_token(conn, "信息公开", {Scope.PUBLIC}, 100_000)[1]
        read = create_token(conn, "统计", {Scope.READ}, 100_000)[1]
    with serving(settings) as base:
        yield base, public, read


class TestPublication:
    def test_public_failures_are_only_the_announced_ones_without_a_pending_retest(
        self, api: tuple[str, str, str]
    ) -> None:
        base, public, read = api
        shown = get(base, "/v1/failures", public, **WINDOW).json()["items"]
        assert [f["manufacturer"] for f in shown] == ["公告企业"]
        everything = get(base, "/v1/failures", read, **WINDOW).json()["items"]
        assert sorted(f["sample_id"] for f in everything) == ["PUB-1", "PUB-2", "PUB-3", "PUB-4"]

    def test_public_rate_cells_under_the_minimum_are_suppressed_and_say_so(self, api: tuple[str, str, str]) -> None:
        base, public, read = api
        params = WINDOW | {"group_by": "region", "region": "421000"}
        answer = get(base, "/v1/rates", public, **params).json()
        cells = {i["key"]: i for i in answer["items"]}
        assert (answer["suppressed"], answer["min_batches"]) == (1, 5), answer
        assert cells["421002"]["tested"] is None
        assert cells["421002"]["pass_rate"] is None
        assert cells["421002"]["note"] == "少于5批次,不公布"
        assert (cells["421083"]["tested"], cells["421083"]["failed"]) == (8, 4)
        as_csv = get(base, "/v1/rates", public, format="csv", **params).content.decode("utf-8-sig")
        assert "少于5批次,不公布" in as_csv
        full = {i["key"]: i for i in get(base, "/v1/rates", read, **params).json()["items"]}
        assert full["421002"]["tested"] == 1


def test_the_sql_rule_agrees_with_the_python_rule(db: psycopg.Connection) -> None:
    days = [None, TODAY - timedelta(days=1), TODAY, TODAY + timedelta(days=1)]
    statuses = [None, "pending", "upheld", "overturned"]
    for day, status in itertools.product(days, statuses):
        row = db.execute(
            f"SELECT {ANNOUNCED_SQL} FROM (SELECT %(day)s::date AS announcement_date,"
            " %(status)s::text AS retest_status) r",
            {"day": day, "status": status, "today": TODAY},
        ).fetchone()
        assert row is not None
        assert bool(row[0]) is failure_published(day, status, TODAY), (day, status)
