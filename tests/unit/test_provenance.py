"""The sender rules of qsmon.provenance: what a token may write, and which revision it may send."""

from __future__ import annotations

from qsmon.provenance import (
    Authority,
    Sender,
    Stored,
    WriteScope,
    refusals,
    revision_refusal,
    sender_from_headers,
    write_refusal,
)
from tests.factories import result

LAB_A, LAB_B = Sender("token:1", Authority.LAB), Sender("token:2", Authority.LAB)
ADMIN, IMPORT = Sender("token:3", Authority.ADMIN), Sender("import:clerk:a.xlsx")


class TestWriteScope:
    def test_a_token_writes_inside_its_regions_only(self) -> None:
        scope = WriteScope(regions=("421000",))
        assert write_refusal(scope, result("S", region="421083")) is None
        assert "outside" in str(write_refusal(scope, result("S", region="420100")))

    def test_lab_source_and_category_must_be_the_tokens(self) -> None:
        scope = WriteScope(lab="实验室A", source="lims", categories=("food",))
        assert write_refusal(scope, result("S", lab="实验室A", source="lims")) is None
        assert "lab" in str(write_refusal(scope, result("S", lab="实验室B", source="lims")))
        assert "source" in str(write_refusal(scope, result("S", lab="实验室A", source="other")))
        assert "category" in str(
            write_refusal(scope, result("S", lab="实验室A", source="lims", category="agricultural"))
        )

    def test_a_token_without_limits_writes_anything(self) -> None:
        assert write_refusal(WriteScope(), result("S", region="650100", category="manufactured")) is None


class TestRevisionRule:
    def test_only_the_creator_or_an_admin_revises_and_only_with_the_next_revision(self) -> None:
        stored = Stored(1, LAB_A.id)
        assert revision_refusal(stored, 2, LAB_A) is None
        assert revision_refusal(stored, 2, ADMIN) is None
        assert "another sender" in str(revision_refusal(stored, 2, LAB_B))
        assert "not the next" in str(revision_refusal(stored, 1000, LAB_A))
        assert "not the next" in str(revision_refusal(stored, 1000, ADMIN))

    def test_a_sample_starts_at_the_first_revision_and_is_created_once(self) -> None:
        assert revision_refusal(None, 1, LAB_B) is None
        assert "not stored" in str(revision_refusal(None, 2, LAB_B))
        assert "exists already" in str(revision_refusal(Stored(1, LAB_A.id), 1, LAB_B))

    def test_internal_senders_and_records_without_one_keep_the_older_rule(self) -> None:
        assert revision_refusal(Stored(1, LAB_A.id), 5, IMPORT) is None
        assert revision_refusal(None, 2, None) is None

    def test_a_sample_stored_before_senders_were_recorded_is_revised_by_an_admin_only(self) -> None:
        assert revision_refusal(Stored(1, None), 2, LAB_A) is not None
        assert revision_refusal(Stored(1, None), 2, ADMIN) is None

    def test_a_batch_may_hold_consecutive_revisions_and_a_refused_one_does_not_advance(self) -> None:
        records = [("S", 1, LAB_A), ("S", 2, LAB_B), ("S", 2, LAB_A), ("S", 3, LAB_A), ("S", 5, LAB_A)]
        assert set(refusals({}, records)) == {1, 4}


class TestPrincipal:
    def test_a_labs_replacement_token_revises_what_the_old_one_sent(self) -> None:
        old, new = Sender("token:1", Authority.LAB, "lab:实验室A"), Sender("token:9", Authority.LAB, "lab:实验室A")
        assert revision_refusal(Stored(1, old.principal), 2, new) is None
        assert revision_refusal(Stored(1, old.principal), 2, LAB_B) is not None


class TestHeaders:
    def test_the_sender_travels_in_headers_and_an_unknown_authority_reads_as_a_lab(self) -> None:
        assert sender_from_headers(ADMIN.headers()) == ADMIN
        lab = Sender("token:1", Authority.LAB, "lab:实验室A")
        assert sender_from_headers(lab.headers()) == lab
        assert sender_from_headers(None) is None
        forged = [("qsmon-sender", b"token:9"), ("qsmon-authority", b"root")]
        assert sender_from_headers(forged) == Sender("token:9", Authority.LAB)
