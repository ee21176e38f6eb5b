"""The rules that decide whether stored offsets still count the broker's log (streams.offsets)."""

from __future__ import annotations

from streams.offsets import LogState, StoredOffset, identity_refusal, refusals

LOG = LogState("cluster-a/topic-1", start={0: 0, 1: 0, 2: 500}, end={0: 100, 1: 40, 2: 900})


def test_offsets_of_the_same_log_within_its_end_are_sound() -> None:
    stored = {0: StoredOffset(100, "cluster-a/topic-1"), 1: StoredOffset(12, "cluster-a/topic-1")}
    assert refusals(stored, LOG, [0, 1, 2]) == {}


def test_offsets_from_before_identities_were_kept_are_adopted() -> None:
    assert refusals({0: StoredOffset(50, None)}, LOG, [0]) == {}
    assert identity_refusal(0, StoredOffset(50, None), "anything") is None


def test_another_log_is_refused_with_the_repair_command() -> None:
    reasons = refusals({1: StoredOffset(30, "cluster-a/topic-0")}, LOG, [0, 1])
    assert list(reasons) == [1]
    assert "topic-0" in reasons[1]
    assert "topic-1" in reasons[1]
    assert "qsmon offsets reset --partition 1 --to earliest" in reasons[1]


def test_an_offset_past_the_log_end_is_refused_even_with_the_same_identity() -> None:
    reasons = refusals({1: StoredOffset(41, "cluster-a/topic-1")}, LOG, [1])
    assert "lies past the log's end 40" in reasons[1]


def test_only_the_partitions_asked_about_are_judged() -> None:
    stored = {0: StoredOffset(1, "other/log"), 1: StoredOffset(1, "other/log")}
    assert list(refusals(stored, LOG, [1])) == [1]


def test_the_first_jump_in_a_partition_s_offsets_is_found_wherever_it_is() -> None:
    from streams.store import first_gap

    assert first_gap(0, {0, 1, 2}) is None
    assert first_gap(3, {0, 1, 2, 3, 4}) is None  # redelivered records below the stored offset are not a jump
    assert first_gap(0, {5, 6}) == (0, 5)  # the batch starts past the stored offset
    assert first_gap(0, {0, 1, 2, 7, 8}) == (3, 7)  # records fetched before and after a seek, in one batch
