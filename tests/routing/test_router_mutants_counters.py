"""Pinned where ``./run-mutation routing`` found plausible one-line bugs no test noticed: the day's counters
after rings run out, a refusal's text, an opening at the very minute asked, a held call given up after a
restart, and the interpreter pool's refusals and statistics."""

from __future__ import annotations

import datetime as dt

import pytest

from signaling_server.routing import JoinRefused, OfficerState, Router, SkillLevel
from signaling_server.routing.hours import Calendar
from signaling_server.routing.interpreters import InterpreterPool
from signaling_server.routing.interpreters_decisions import InterpreterState, PoolError
from signaling_server.routing.snapshot import QueueSnapshot

from .conftest import TOKYO, FakeClock, make_department

P = SkillLevel.PRIMARY
S = InterpreterState


def test_rings_that_run_out_are_counted_and_a_second_one_sends_the_officer_away(clock: FakeClock) -> None:
    router = Router([make_department("kosodate", ring_timeout_s=20)], clock=clock, max_unanswered=2)
    router.officer_online("o1", {"kosodate": P})  # idle longest: rung first
    clock.advance(1)
    router.officer_online("o2", {"kosodate": P})
    router.join("c1", "kosodate")
    clock.advance(20)
    router.tick()  # o1's ring runs out: c1 rings o2, o1 is available again, idle from now
    info = router.officer_info("o1")
    assert (info["state"], info["idle_since"], info["unanswered"]) == ("available", clock(), 1)
    assert router.officer_info("o2")["ringing_call"] == "c1"
    for _ in range(3):  # o2 runs out, then o1 (its second: away), then o2 (its second: away)
        clock.advance(20)
        router.tick()
    for officer_id in ("o1", "o2"):
        assert (router.officer_state(officer_id), router.officer_reason(officer_id)) == (
            OfficerState.AWAY, "no_answer",
        )  # fmt: skip
    stats = router.stats()
    o1, o2 = stats["officers"]["o1"], stats["officers"]["o2"]
    assert (o1["missed"], o1["auto_away"], o2["missed"], o2["auto_away"]) == (2, 1, 2, 1)
    assert stats["departments"]["kosodate"]["ring_timeouts"] == 4
    router.set_available("o1")
    for _ in range(2):
        clock.advance(20)
        router.tick()
    o1 = router.stats()["officers"]["o1"]
    assert (o1["missed"], o1["auto_away"]) == (4, 2)


def test_a_refusal_names_the_department_the_reason_and_the_next_opening() -> None:
    opens = dt.datetime(2026, 11, 26, 8, 30, tzinfo=TOKYO)
    refused = JoinRefused("closed", "kosodate", opens)
    assert str(refused) == (
        "department 'kosodate' refused the caller: closed (next opening 2026-11-26T08:30:00+09:00)"
    )
    assert (refused.reason, refused.department, refused.next_open) == ("closed", "kosodate", opens)
    assert str(JoinRefused("queue_full", "nenkin")) == "department 'nenkin' refused the caller: queue_full"
    with pytest.raises(ValueError, match="unknown join refusal reason 'bored'"):
        JoinRefused("bored", "kosodate")


def test_the_next_opening_may_be_the_very_minute_asked() -> None:
    calendar = Calendar(make_department("kosodate").hours, TOKYO)
    at_opening = dt.datetime(2026, 11, 25, 8, 30, tzinfo=TOKYO)
    assert calendar.next_open(at_opening) == at_opening
    assert calendar.next_open(at_opening + dt.timedelta(minutes=1)) == at_opening + dt.timedelta(days=1)


def test_a_held_call_whose_officer_never_returns_goes_back_to_the_queue(clock: FakeClock) -> None:
    deps = [make_department("kosodate")]
    router = Router(deps, clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("a", "kosodate")
    router.accept("o1", "a")
    fresh = Router(deps, clock=clock)
    fresh.restore(QueueSnapshot.from_json(router.snapshot()))
    assert fresh.call_info("a")["state"] == "held"
    clock.advance(120)  # rejoin_grace_s
    fresh.tick()
    (caller,) = fresh.snapshot()["callers"]
    assert (caller["queued"], caller["officer"], caller["officer_department"]) == (True, None, None)
    assert fresh.call_info("a")["state"] == "queued"


@pytest.fixture
def pool(clock: FakeClock) -> InterpreterPool:
    return InterpreterPool(clock=clock, ring_timeout_s=20, wrap_up_s=30, default_session_s=600)


def test_an_interpreter_is_made_available_only_from_away_or_wrap_up(pool: InterpreterPool) -> None:
    with pytest.raises(PoolError, match="interpreter maria is not signed in"):
        pool.set_available("maria")
    pool.online("maria", ["tl"])
    assert pool.set_available("maria") == []  # available already: nothing changes
    pool.set_away("maria", "break")
    assert [d.state for d in pool.set_available("maria")] == [S.AVAILABLE]
    pool.request("c1", "tl")
    with pytest.raises(PoolError, match="interpreter maria is ringing: cannot be available"):
        pool.set_available("maria")


def test_only_the_call_ringing_for_an_interpreter_may_be_declined(pool: InterpreterPool) -> None:
    pool.online("maria", ["tl"])
    with pytest.raises(PoolError, match="call c1 is not ringing for interpreter maria"):
        pool.decline("maria", "c1")  # nothing rings
    pool.request("c1", "tl")
    pool.request("c2", "tl")
    with pytest.raises(PoolError, match="call c2 is not ringing for interpreter maria"):
        pool.decline("maria", "c2")  # ringing, but for c1
    assert pool.ringing("maria") == "c1"


def test_the_pools_statistics_per_language(pool: InterpreterPool, clock: FakeClock) -> None:
    for name in ("maria", "jose", "ana"):
        pool.online(name, ["tl"])
    pool.online("minh", ["vi"])
    waits = (0, 7, 30)
    for i, wait in enumerate(waits):  # three joined after 0, 7 and 30 s
        call_id = f"c{i}"
        pool.request(call_id, "tl")
        clock.advance(wait)
        (offered,) = [n for n in ("maria", "jose", "ana") if pool.ringing(n) == call_id]
        pool.accept(offered, call_id)
    pool.request("c3", "tl")  # nobody free: waiting
    pool.request("v1", "vi")  # ringing minh
    clock.advance(10)
    tl = pool.stats()["languages"]["tl"]
    assert (tl["requested"], tl["joined"], tl["waiting"], tl["ringing"], tl["in_call"]) == (4, 3, 1, 0, 3)
    assert tl["wait_p50_s"] == 7.0  # the middle of 0, 7 and 30
    assert tl["minutes"] == round((47 + 40 + 10) / 60, 2) == 1.62
    vi = pool.stats()["languages"]["vi"]
    assert (vi["waiting"], vi["ringing"], vi["in_call"]) == (0, 1, 0)
    clock.advance(0.25)
    pool.request("v2", "vi")
    pool.accept("minh", "v1")
    assert pool.stats()["languages"]["vi"]["wait_p50_s"] == 10.2  # 10.25 s, to a tenth
