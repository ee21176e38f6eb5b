"""The keepalive timing of a bounded session (qsmon.storage.sessions)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from qsmon.storage.sessions import keepalive_timing


class TestKeepaliveTiming:
    @given(st.floats(min_value=5, max_value=600))
    def test_three_unanswered_probes_end_the_session_within_the_bound(self, bound: float) -> None:
        idle, interval = keepalive_timing(bound)
        assert idle >= 1
        assert interval >= 1
        assert idle + 3 * interval <= bound

    def test_the_default_lease_probes_after_5s_then_every_1s(self) -> None:
        assert keepalive_timing(10.0) == (5, 1)
