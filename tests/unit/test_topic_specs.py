"""The topics `qsmon init` creates, on one broker and on a replicated cluster (qsmon.topics)."""

from __future__ import annotations

from qsmon.settings import Settings
from qsmon.topics import min_insync, topic_specs


class TestReplication:
    def test_min_insync_is_two_of_three_and_all_of_fewer(self) -> None:
        assert [min_insync(n) for n in (1, 2, 3, 5)] == [1, 2, 2, 2]

    def test_every_topic_of_a_replicated_cluster_needs_two_in_sync_replicas(self) -> None:
        specs = topic_specs(Settings(kafka_replication_factor=3))
        assert {s.configs["min.insync.replicas"] for s in specs} == {"2"}

    def test_one_broker_needs_only_itself(self) -> None:
        assert {s.configs["min.insync.replicas"] for s in topic_specs(Settings())} == {"1"}
