"""The read API's per-token limits: a burst below the minute's quota, a cap on requests under way, bounded cursors."""

from __future__ import annotations

import base64
import json
import time
from datetime import date

import anyio
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
        async def scenario() -> list[bool]:
            cap = ConcurrencyCap(2, wait_s=0.05)
            other = Token(8, "统计", frozenset({Scope.READ}), 600)
            entered = [await cap.enter(TOKEN), await cap.enter(TOKEN), await cap.enter(TOKEN)]
            entered.append(await cap.enter(other))  # another token is not held up
            cap.leave(TOKEN)
            entered.append(await cap.enter(TOKEN))  # a slot freed: the next one goes
            return entered

        assert anyio.run(scenario) == [True, True, False, True, True]

    def test_a_request_over_the_cap_waits_for_a_slot_before_it_is_refused(self) -> None:
        async def scenario() -> tuple[bool, float]:
            cap = ConcurrencyCap(1, wait_s=2.0)
            await cap.enter(TOKEN)
            started = time.monotonic()
            async with anyio.create_task_group() as tg:
                tg.start_soon(_leave_after, cap, 0.2)
                entered = await cap.enter(TOKEN)
            return entered, time.monotonic() - started

        entered, waited = anyio.run(scenario)
        assert entered
        assert 0.15 < waited < 1.5


async def _leave_after(cap: ConcurrencyCap, seconds: float) -> None:
    await anyio.sleep(seconds)
    cap.leave(TOKEN)


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

    @pytest.mark.parametrize(
        ("first", "last"), [(date(1999, 12, 31), date(2000, 1, 2)), (date(9999, 12, 31), date(9999, 12, 31))]
    )
    def test_a_period_outside_2000_to_2100_is_a_422(self, first: date, last: date) -> None:
        with pytest.raises(HTTPException) as refused:
            period(first, last)
        assert refused.value.status_code == 422
