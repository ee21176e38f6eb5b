"""The read API's per-token limits: a burst below the minute's quota, a cap on requests under way, bounded cursors."""

from __future__ import annotations

import base64
import json
from datetime import date

import pytest
from fastapi import HTTPException

from qsmon.tokens import Scope, Token
from readapi.context import ConcurrencyCap, RateLimiter, period
from readapi.pagination import decode

TOKEN = Token(7, "信息公开", frozenset({Scope.PUBLIC}), 600)


def forged(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


class TestRateLimiter:
    def test_a_burst_is_ten_seconds_of_the_rate_not_the_whole_minute(self) -> None:
        limiter = RateLimiter(burst_seconds=10)
        answers = [limiter.retry_after(TOKEN) for _ in range(101)]
        assert answers[:100] == [0] * 100  # 600 a minute: 100 at once
        assert answers[100] >= 1


class TestConcurrencyCap:
    def test_a_token_gets_its_share_of_requests_under_way_and_no_more(self) -> None:
        cap = ConcurrencyCap(2)
        other = Token(8, "统计", frozenset({Scope.READ}), 600)
        assert [cap.enter(TOKEN), cap.enter(TOKEN), cap.enter(TOKEN)] == [True, True, False]
        assert cap.enter(other)  # another token is not held up
        cap.leave(TOKEN)
        assert cap.enter(TOKEN)


class TestBounds:
    @pytest.mark.parametrize("key", [[-1], [2**63], [10**30], [True], [1.5]])
    def test_a_cursor_number_out_of_bounds_is_a_400(self, key: list[object]) -> None:
        with pytest.raises(HTTPException) as refused:
            decode(forged(key), (int,))
        assert refused.value.status_code == 400

    def test_a_cursor_day_outside_2000_to_2100_is_a_400(self) -> None:
        assert decode(forged(["2026-01-31", "A"]), (date, str)) == [date(2026, 1, 31), "A"]
        with pytest.raises(HTTPException):
            decode(forged(["9999-12-31", "A"]), (date, str))

    @pytest.mark.parametrize(("first", "last"), [(date(1999, 12, 31), date(2000, 1, 2)),
                                                 (date(9999, 12, 31), date(9999, 12, 31))])
    def test_a_period_outside_2000_to_2100_is_a_422(self, first: date, last: date) -> None:
        with pytest.raises(HTTPException) as refused:
            period(first, last)
        assert refused.value.status_code == 422
