"""A department's status is computed again only when what it depends on changed (routing/reports.py): every
welcome carries each department's status, and a new cluster leader welcomes thousands of clients within
seconds. The same inputs give the very same status; any change of them gives a fresh one."""

from __future__ import annotations

import datetime as dt

from signaling_server.routing import Router, SkillLevel
from tests.routing.conftest import TOKYO


def test_the_same_inputs_give_the_same_status_object(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    first = router.department_status("kosodate")
    clock.advance(0.25)  # within the same second
    assert router.department_status("kosodate") is first


def test_a_caller_an_officer_or_a_handled_call_gives_a_fresh_status(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    empty = router.department_status("kosodate")
    router.join("c1", "kosodate")
    waiting = router.department_status("kosodate")
    assert waiting is not empty and (empty.waiting, waiting.waiting) == (0, 1)
    router.officer_online("o1", {"kosodate": SkillLevel.PRIMARY})  # rung at once: capacity and free change
    ringing = router.department_status("kosodate")
    assert ringing is not waiting and ringing.ewt_s != waiting.ewt_s
    router.accept("o1", "c1")
    clock.advance(600)
    router.call_finished("c1")  # a handled call: the estimate's mean handle time moves
    after = router.department_status("kosodate")
    assert after is not ringing


def test_the_closing_second_gives_a_fresh_status(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    clock.set_local(dt.datetime(2026, 11, 25, 17, 14, 59, 500_000, tzinfo=TOKYO))
    assert router.department_status("kosodate").open
    clock.advance(0.5)  # 17:15:00, the default closing time
    closed = router.department_status("kosodate")
    assert not closed.open and closed.refusal == "closed"
