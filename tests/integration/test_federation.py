"""Provinces feeding the nation on the real stack: two qsmon instances (two schemas, two read APIs on free ports)
close a month; `qsmon federate` pulls both into a third, whose national figure is the sum of their frozen figures;
a late correction in one province shows as 上报后更正 nationally, its reported figure unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from alerts.service import sync_reference_data
from federation.config import Instance
from federation.exceptions import FederationError
from federation.national import national_overview
from federation.pull import pull_instance
from indicators.counting import rate
from qsmon import clock
from qsmon.plans import presets
from qsmon.settings import Settings
from qsmon.storage import apply_migrations, connect
from qsmon.tokens import Scope, create_token
from reports.months import close_month
from tests.factories import result
from tests.workers import ROOT, DirectWriter, free_port

pytestmark = pytest.mark.integration

PLAN = """\
id: national-food
title: 食品安全抽检合格率
issuer: 测试
jurisdiction: {{name: {name}, region_code: "{code}"}}
period: {{start: 2020-01-01, end: 2030-12-31}}
indicators:
  - id: food-pass
    name: 食品评价性抽检合格率
    source: 食品评价性抽检合格率保持在98%以上
    measure: pass_rate
    filter: {{categories: [food], sampling_types: [evaluative]}}
    target: {{op: ">=", value: 98}}
    windows: [rolling_30d]
    min_samples: 10
"""
TODAY = clock.today("Asia/Shanghai")
LAST_MONTH = (TODAY.replace(day=1) - timedelta(days=1)).replace(day=1)


@dataclass
class Province:
    name: str
    settings: Settings
    url: str
    token: str


def sampled(day: int) -> datetime:
    return datetime(LAST_MONTH.year, LAST_MONTH.month, day, 2, 0, tzinfo=UTC)


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The read API on a free loopback port, in a thread, as `qsmon serve api` runs it."""
    import uvicorn

    from readapi.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def schemas(stack: Settings, unique_name: Callable[[str], str]) -> Iterator[Callable[[str], Settings]]:
    """Makes migrated schemas (an instance each), dropped afterwards."""
    made: list[str] = []

    def make(role: str) -> Settings:
        schema = unique_name(f"fed_{role}")
        with connect(stack.dsn, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        made.append(schema)
        dsn = f"{stack.dsn}{'&' if '?' in stack.dsn else '?'}options={quote(f'-c search_path={schema},public')}"
        settings = stack.model_copy(
            update={"database_url": type(stack.database_url)(dsn), "worker_group": unique_name(f"g_{role}")}
        )
        with connect(settings.dsn) as conn:
            apply_migrations(conn)
        return settings

    yield make
    with connect(stack.dsn, autocommit=True) as admin:
        for schema in made:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def provinces(schemas: Callable[[str], Settings], tmp_path: Path) -> Iterator[dict[str, Province]]:
    """湖北 (110 samples, 10 failed) and 湖南 (200, 5 failed) last month, the month closed; each serving its API."""
    specs = {"hubei": ("湖北省", "420000", "421083", 110, 10), "hunan": ("湖南省", "430000", "430102", 200, 5)}
    with serving_all(schemas, tmp_path, specs) as running:
        yield running


@contextmanager
def serving_all(
    schemas: Callable[[str], Settings], tmp_path: Path, specs: dict[str, tuple[str, str, str, int, int]]
) -> Iterator[dict[str, Province]]:
    provinces: dict[str, Province] = {}
    with ExitStack() as stack:
        for key, (name, code, county, samples, failed) in specs.items():
            plans_dir = tmp_path / key
            plans_dir.mkdir()
            (plans_dir / "national-food.yaml").write_text(PLAN.format(name=name, code=code), encoding="utf-8")
            settings = schemas(key).model_copy(update={"plans_dir": plans_dir})
            plans = presets(plans_dir)
            with connect(settings.dsn) as conn:
                sync_reference_data(conn, plans.values())
            writer = DirectWriter(settings)
            writer.store_results(
                [
                    result(  # announced on the 28th: the public sees announced failures only (qsmon.publication)
                        f"{key}-{i}",
                        verdict="fail" if i < failed else "pass",
                        at=sampled(1 + i % 27),
                        region=county,
                        announcement_date=sampled(28).date(),
                    )
                    for i in range(samples)
                ]
            )
            writer.close()
            with connect(settings.dsn) as conn:
                close_month(
                    conn,
                    plans.values(),
                    LAST_MONTH.year,
                    LAST_MONTH.month,
                    closed_by=f"{name}局",
                    timezone=settings.timezone,
                )
                token = create_token(conn, "national", {Scope.PUBLIC})[1]
            provinces[key] = Province(key, settings, stack.enter_context(serving(settings)), token)
        yield provinces


def frozen(settings: Settings) -> tuple[int, int]:
    """The province's frozen figure for its whole jurisdiction: (samples, failed)."""
    with connect(settings.dsn) as conn:
        row = conn.execute(
            "SELECT samples, failed FROM month_reported_figures WHERE month = %s"
            " AND plan_id = 'national-food' AND region_code LIKE '%%0000'",
            (LAST_MONTH,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def instances_file(tmp_path: Path, provinces: dict[str, Province]) -> Path:
    path = tmp_path / "instances.yaml"
    path.write_text(
        "instances:\n"
        + "".join(
            f"  - {{name: {p.name}, url: '{p.url}', token_env: QSMON_FEDERATION_TOKEN_{p.name.upper()}}}\n"
            for p in provinces.values()
        ),
        encoding="utf-8",
    )
    return path


def federate(nation: Settings, instances: Path, provinces: dict[str, Province], *args: str) -> str:
    """`qsmon federate ARGS` as an operator runs it, against the national schema."""
    env = {
        **os.environ,
        "QSMON_DATABASE_URL": nation.dsn,
        "QSMON_FEDERATION_INSTANCES_FILE": str(instances),
        **{f"QSMON_FEDERATION_TOKEN_{p.name.upper()}": p.token for p in provinces.values()},
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli", "federate", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class TestNationalOverview:
    def test_the_national_figure_is_the_sum_of_the_provinces_frozen_figures_and_a_late_correction_shows(
        self, provinces: dict[str, Province], schemas: Callable[[str], Settings], tmp_path: Path
    ) -> None:
        nation = schemas("nation")
        instances = instances_file(tmp_path, provinces)
        month = LAST_MONTH.strftime("%Y-%m")
        out = federate(nation, instances, provinces, "pull")
        assert "hubei: 1 month(s)" in out
        assert "hunan: 1 month(s)" in out
        federate(nation, instances, provinces, "pull")  # again: idempotent

        hubei, hunan = frozen(provinces["hubei"].settings), frozen(provinces["hunan"].settings)
        assert (hubei, hunan) == ((110, 10), (200, 5))
        report = json.loads(federate(nation, instances, provinces, "report", month, "--json"))
        # The shipped plans are reported too (荆州's, for 湖北's county); the shared plan is the national one.
        [figure] = [f for f in report["figures"] if f["plan_id"] == "national-food"]
        assert (figure["samples"], figure["failed"]) == (hubei[0] + hunan[0], hubei[1] + hunan[1])
        assert figure["value"] == rate(310 - 15, 310)
        assert sorted((i["instance"], i["region_code"]) for i in figure["instances"]) == [
            ("hubei", "420000"),
            ("hunan", "430000"),
        ]
        assert figure["corrected"] is None
        assert report["published_failures"] == {"hubei": 10, "hunan": 5}

        # A late correction in 湖北: a failed sample retested as passing after the month was reported.
        writer = DirectWriter(provinces["hubei"].settings)
        writer.offset = 1000
        writer.store_results([result("hubei-0", revision=2, verdict="pass", at=sampled(1), region="421083")])
        writer.close()
        federate(nation, instances, provinces, "pull")
        with connect(nation.dsn) as conn:
            [national] = [f for f in national_overview(conn, LAST_MONTH) if f.plan_id == "national-food"]
        assert national.corrected
        assert (national.reported.samples, national.reported.failed) == (310, 15)  # as reported, unchanged
        assert (national.current.samples, national.current.failed) == (310, 14)
        assert [p.instance for p in national.parts if p.current is not None] == ["hubei"]
        text = federate(nation, instances, provinces, "report", month)
        assert "上报后更正" in text
        assert "食品评价性抽检合格率:上报 310 批次 95.16% → 现 310 批次 95.48%(hubei 更正)" in text

    def test_an_instance_that_refuses_the_token_is_a_clear_error_and_nothing_of_it_is_stored(
        self, provinces: dict[str, Province], schemas: Callable[[str], Settings], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        nation = schemas("nation")
        hubei = provinces["hubei"]
        monkeypatch.setenv("QSMON_FEDERATION_TOKEN_HUBEI", "qsm_" + "x" * 43)
        with connect(nation.dsn) as conn:
            with pytest.raises(FederationError, match="refused"):
                pull_instance(conn, Instance(name="hubei", url=hubei.url, token_env="QSMON_FEDERATION_TOKEN_HUBEI"))
            assert conn.execute("SELECT count(*) FROM federated_figures").fetchone() == (0,)

    def test_the_months_route_needs_a_token_and_hides_nothing_of_the_frozen_figures(
        self, provinces: dict[str, Province]
    ) -> None:
        hunan = provinces["hunan"]
        assert httpx.get(f"{hunan.url}/v1/months", timeout=30).status_code == 401
        answer = httpx.get(f"{hunan.url}/v1/months", headers={"Authorization": f"Bearer {hunan.token}"}, timeout=30)
        assert answer.status_code == 200
        with connect(hunan.settings.dsn) as conn:
            stored = conn.execute("SELECT count(*) FROM month_reported_figures").fetchone()
        assert stored is not None
        assert len(answer.json()["items"]) == stored[0]
        assert {i["month"] for i in answer.json()["items"]} == {LAST_MONTH.strftime("%Y-%m")}
