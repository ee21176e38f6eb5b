"""Every result traceable to who sent it (issue #31): tokens issued to senders with regions, the revision rule at the
ingest API and in the worker, and the history naming the sender of API, import and simulator records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from producers.kafka_sink import ResultSink
from producers.simulate import send_history
from producers.simulator import SimulatorOptions
from qsmon.provenance import WriteScope
from qsmon.schema import InspectionResult
from qsmon.settings import Settings
from qsmon.storage import connect
from qsmon.tokens import Scope, Token, create_token
from qsmon.topics import end_offset_total
from tests.factories import result
from tests.workers import DirectWriter, WorkerProcess, read_all, run_cli, serve_ingest, stored_offset_total, wait_until

pytestmark = pytest.mark.integration
HONGHU, SHASHI, JINGZHOU = "421083", "421002", "421000"


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[str, Settings]]:
    yield from serve_ingest(settings, tokens=("configured-token-0001",))


def post(url: str, token: str, *results: InspectionResult) -> httpx.Response:
    body = b"\n".join(r.to_json() for r in results)
    return httpx.post(
        f"{url}/v1/results",
        content=body,
        timeout=30,
        headers={"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"},
    )


def current(db: psycopg.Connection, sample_id: str) -> tuple[int, str, str, str | None, str | None] | None:
    row = db.execute(
        "SELECT revision, verdict, region_code, sender, created_by FROM sample_current WHERE sample_id = %s",
        (sample_id,),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3], row[4])


class TestProvenance:
    def test_a_lab_writes_only_its_own_samples_inside_its_regions(
        self, api: tuple[str, Settings], db: psycopg.Connection, tmp_path: Path
    ) -> None:
        url, settings = api
        with connect(settings.dsn) as conn:
            lab_a, secret_a = create_token(
                conn, "实验室A", {Scope.INGEST}, write_scope=WriteScope(lab="实验室A", regions=(HONGHU,))
            )
            lab_b, secret_b = create_token(
                conn, "实验室B", {Scope.INGEST}, write_scope=WriteScope(lab="实验室B", regions=(JINGZHOU,))
            )
            bureau, secret_admin = create_token(conn, "荆州市局", {Scope.ADMIN})

        def mine(token: Token, sample_id: str, **fields: Any) -> InspectionResult:
            return result(sample_id, lab=token.write_scope.lab, **{"region": HONGHU, **fields})

        assert post(url, secret_a, mine(lab_a, "P-1", verdict="fail")).status_code == 202
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        try:
            wait_until(lambda: current(db, "P-1") is not None, 90, "lab A's sample to be stored")
            sent = end_offset_total(settings)

            # Lab B cannot revise, void, jump to the last revision or move lab A's sample; nothing reaches Kafka.
            for forged in (
                mine(lab_b, "P-1", revision=2, verdict="pass"),
                mine(lab_b, "P-1", revision=2, verdict="void"),
                mine(lab_b, "P-1", revision=1000, verdict="void"),
                mine(lab_b, "P-1", revision=2, verdict="pass", region=SHASHI),
            ):
                refused = post(url, secret_b, forged)
                assert refused.status_code == 403, refused.text
                assert (
                    "another sender" in refused.json()["errors"][0]["error"]
                    or "next" in refused.json()["errors"][0]["error"]
                )
            # Lab A may not skip revisions either, nor claim to be lab B, nor write outside 洪湖市.
            assert post(url, secret_a, mine(lab_a, "P-1", revision=5)).status_code == 403
            assert post(url, secret_a, result("P-2", lab="实验室B", region=HONGHU)).status_code == 403
            outside = post(url, secret_a, mine(lab_a, "P-3", region=SHASHI))
            assert outside.status_code == 403
            assert "outside this token's regions" in outside.json()["errors"][0]["error"]
            assert end_offset_total(settings) == sent

            # Past the API (a request racing the check): the worker holds the same rule and dead-letters it.
            with ResultSink(settings, sender=lab_b.sender) as sink:
                sink.send(mine(lab_b, "P-1", revision=2, verdict="void"))
            dead = read_all(settings, settings.dlq_topic, expected=1)
            assert len(dead) == 1
            assert "another sender" in dict(dead[0].headers)["qsmon.error.reason"].decode()
            assert dict(dead[0].headers)["qsmon-sender"] == f"token:{lab_b.id}".encode()

            # Lab A's next revision lands; then the bureau's admin token corrects it with the next one.
            assert post(url, secret_a, mine(lab_a, "P-1", revision=2, verdict="pass")).status_code == 202
            wait_until(lambda: (current(db, "P-1") or (0,))[0] == 2, 60, "lab A's revision 2")
            assert current(db, "P-1") == (2, "pass", HONGHU, f"token:{lab_a.id}", "lab:实验室A")
            admin_fix = result("P-1", revision=3, verdict="fail", region=HONGHU, lab="实验室A")
            assert post(url, secret_admin, admin_fix).status_code == 202
            wait_until(lambda: (current(db, "P-1") or (0,))[0] == 3, 60, "the bureau's revision 3")
            assert current(db, "P-1") == (3, "fail", HONGHU, f"token:{bureau.id}", "lab:实验室A")
            # Lab A's replacement token (a rotation) revises what the old one sent: the sample is its lab's.
            with connect(settings.dsn) as conn:
                lab_a2, secret_a2 = create_token(
                    conn, "实验室A(新)", {Scope.INGEST}, write_scope=WriteScope(lab="实验室A", regions=(HONGHU,))
                )
            assert post(url, secret_a2, mine(lab_a2, "P-1", revision=4, verdict="pass")).status_code == 202
            wait_until(lambda: (current(db, "P-1") or (0,))[0] == 4, 60, "the replacement token's revision 4")

            # An import job and the simulator carry their senders too.
            rows = tmp_path / "lab.ndjson"
            rows.write_bytes(result("IMP-1", region=HONGHU).to_json() + b"\n")
            imported = run_cli(settings, "import", str(rows), "--format", "ndjson")
            assert imported.returncode == 0, imported.stderr
            simulated = send_history(
                settings, SimulatorOptions(seed=3, first_day=date(2026, 9, 1), last_day=date(2026, 9, 2)), 5
            )
            assert simulated.sent == 5
            total = end_offset_total(settings)
            wait_until(lambda: stored_offset_total(db, settings) == total, 60, "the import and simulator records")
        finally:
            assert worker.terminate() == 0, (tmp_path / "worker.log").read_text()

        history = run_cli(settings, "results", "history", "P-1", "--json")
        assert history.returncode == 0, history.stderr
        revisions = json.loads(history.stdout)["revisions"]
        assert [(r["revision"], r["sender"], r["token_name"]) for r in revisions] == [
            (1, f"token:{lab_a.id}", "实验室A"),
            (2, f"token:{lab_a.id}", "实验室A"),
            (3, f"token:{bureau.id}", "荆州市局"),
            (4, f"token:{lab_a2.id}", "实验室A(新)"),
        ]
        text = run_cli(settings, "results", "history", "P-1").stdout
        assert f"sender=token:{lab_b.id}" not in text
        assert "(实验室A)" in text
        assert "(荆州市局)" in text

        import_sender = db.execute("SELECT sender FROM inspection_results WHERE sample_id = 'IMP-1'").fetchone()
        assert import_sender is not None
        assert import_sender[0].startswith("import:")
        assert import_sender[0].endswith(":lab.ndjson")
        simulator_senders = {
            s
            for (s,) in db.execute(
                "SELECT DISTINCT sender FROM inspection_results WHERE sample_id NOT IN ('P-1', 'IMP-1')"
            )
        }
        assert len(simulator_senders) == 1
        assert next(iter(simulator_senders)).startswith("simulator:")

    def test_a_configured_token_sends_as_itself_and_cannot_revise_others(
        self, api: tuple[str, Settings], db: psycopg.Connection
    ) -> None:
        url, settings = api
        writer = DirectWriter(settings)
        try:
            # Stored by a writer that records no sender: not the configured token's sample.
            writer.store_results([result("Q-2")])
        finally:
            writer.close()
        refused = post(url, "configured-token-0001", result("Q-2", revision=2, verdict="void"))
        assert refused.status_code == 403
        assert post(url, "configured-token-0001", result("Q-3")).status_code == 202
        assert "another sender" in refused.json()["errors"][0]["error"]
