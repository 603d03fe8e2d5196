"""More of what ``./run-mutation routing`` found unchecked after the first round of tests: a wrap-up's
generation never reused, a hold after a release, counters of a case moving on twice, a claim read back,
and the interpreter pool's places, restored sessions and requests, and a ring for someone else."""

from __future__ import annotations

import pytest

from signaling_server.routing import AppointmentClaim, OfficerState, Router, RouterError, SkillLevel
from signaling_server.routing.interpreters import InterpreterPool
from signaling_server.routing.interpreters_decisions import PoolError
from signaling_server.routing.interpreters_snapshot import WaitingRequest
from signaling_server.routing.offers import WRAP_HOLD_MAX_S

from .conftest import FakeClock, make_department

P = SkillLevel.PRIMARY


def test_an_old_held_wrap_ups_timer_never_ends_a_later_wrap_up(clock: FakeClock) -> None:
    router = Router([make_department("kosodate", wrap_up_s=900)], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    router.call_finished("c1")
    router.hold_wrap_up("o1", True)  # its timer: 900 s + the hold's limit from now
    router.hold_wrap_up("o1", False)
    router.set_available("o1")
    router.join("c2", "kosodate")
    router.accept("o1", "c2")
    clock.advance(700)
    router.call_finished("c2")  # a new wrap-up of 900 s, spanning the first hold's limit (1,500 s on)
    ends = clock() + 900
    clock.now = ends - 1
    router.tick()  # the first hold's old timer has fired meanwhile: it must not end this one
    assert router.officer_state("o1") is OfficerState.WRAP_UP
    clock.now = ends
    router.tick()
    assert router.officer_state("o1") is OfficerState.AVAILABLE


def test_a_hold_after_a_release_stands_still_again(clock: FakeClock) -> None:
    router = Router([make_department("kosodate", wrap_up_s=15)], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    router.call_finished("c1")
    router.hold_wrap_up("o1", True)
    router.hold_wrap_up("o1", False)
    clock.advance(5)  # 10 s left
    router.hold_wrap_up("o1", True)
    assert router.next_deadline() == clock() + 10 + WRAP_HOLD_MAX_S
    router.hold_wrap_up("o1", False)
    assert router.next_deadline() == clock() + 10


def test_a_case_moving_on_counts_as_offered_and_transferred_in_each_time(clock: FakeClock) -> None:
    deps = [
        make_department("nenkin"),
        make_department("kaigo"),
        make_department("okuyami", kind="one_stop", one_stop_departments=["nenkin", "kaigo"]),
    ]
    router = Router(deps, clock=clock)
    router.officer_online("desk", {"okuyami": P})
    router.officer_online("n", {"nenkin": P})
    for call_id in ("c1", "c2"):
        router.join(call_id, "okuyami")
        router.accept("desk", call_id)
        router.call_finished(call_id, outcome="resolved", note="受理")
        router.set_available("desk")
    nenkin = router.stats()["departments"]["nenkin"]
    assert (nenkin["offered"], nenkin["transferred_in"]) == (2, 2)
    router.accept("n", "c1")
    router.call_finished("c1", outcome="visit_city_hall", note="年金停止")
    done = router.call_info("c1")["case"]["checklist"][0]
    assert done == {
        "department": "nenkin",
        "status": "done",
        "outcome": "visit_city_hall",
        "note": "年金停止",
    }


def test_a_claim_is_read_back_with_its_officer() -> None:
    claim = AppointmentClaim("b1", 1000.0, officer_id="hanako", officer_first_s=30.0)
    assert AppointmentClaim.from_json(claim.to_json()) == AppointmentClaim("b1", 1000.0, "hanako", 30.0)
    bare = AppointmentClaim.from_json({"booking_id": "b2", "slot_start": "5"})
    assert (bare.officer_id, bare.officer_first_s) == (None, 60.0)


@pytest.fixture
def pool(clock: FakeClock) -> InterpreterPool:
    return InterpreterPool(clock=clock, ring_timeout_s=20, wrap_up_s=30, default_session_s=600)


def test_waiting_requests_are_told_their_own_places(pool: InterpreterPool) -> None:
    pool.online("maria", ["tl"])
    pool.request("c1", "tl")
    pool.accept("maria", "c1")
    for call_id in ("c2", "c3", "c4"):
        pool.request(call_id, "tl")
    assert [pool.status_of(c) for c in ("c2", "c3", "c4")] == [
        ("tl", "waiting", 1, 600.0),
        ("tl", "waiting", 2, 1200.0),
        ("tl", "waiting", 3, 1800.0),
    ]


def test_a_restored_session_ends_when_its_interpreter_goes(pool: InterpreterPool, clock: FakeClock) -> None:
    pool.restore_session("c1", "maria", ["tl"], "tl", clock() - 60)
    pool.offline("maria")
    assert pool.session_of("c1") is None and pool.stats()["languages"]["tl"]["minutes"] == 1.0


def test_requests_after_one_already_waiting_are_restored_too(pool: InterpreterPool, clock: FakeClock) -> None:
    pool.online("maria", ["tl"])
    pool.request("c1", "tl")
    pool.accept("maria", "c1")
    pool.request("c2", "tl")
    saved = [WaitingRequest("c2", "tl", clock() - 9), WaitingRequest("c3", "tl", clock() - 1)]
    pool.restore_requests(saved, hold_s=60)
    assert [w.call_id for w in pool.waiting()] == ["c2", "c3"]
    clock.advance(61)
    pool.tick()  # the hold is over; maria is on duty (busy): c3 waits on
    pool.request("c4", "tl")
    assert [w.call_id for w in pool.waiting()] == ["c2", "c3", "c4"]


def test_an_interpreter_ringing_for_one_call_cannot_accept_another(pool: InterpreterPool) -> None:
    pool.online("maria", ["tl"])
    pool.request("c1", "tl")  # rings maria
    pool.online("jose", ["tl"])
    pool.request("c2", "tl")  # rings jose
    with pytest.raises(PoolError):
        pool.accept("jose", "c1")
    assert (pool.ringing("maria"), pool.ringing("jose")) == ("c1", "c2")


def test_the_median_wait_is_the_middle_one(pool: InterpreterPool, clock: FakeClock) -> None:
    pool.online("maria", ["tl"])
    for i, wait in enumerate((1, 2, 3, 4, 5)):
        pool.request(f"c{i}", "tl")
        clock.advance(wait)
        pool.accept("maria", f"c{i}")
        pool.leave(f"c{i}")
        pool.set_available("maria")
    assert pool.stats()["languages"]["tl"]["wait_p50_s"] == 3.0


def test_the_median_wait_is_of_the_last_200_joins(pool: InterpreterPool, clock: FakeClock) -> None:
    pool.online("maria", ["tl"])
    for wait in range(201):  # waits of 0, 1, ... 200 s: the first one drops out of the window
        pool.request("c", "tl")
        clock.advance(wait)
        pool.accept("maria", "c")
        pool.leave("c")
        pool.set_available("maria")
    assert pool.stats()["languages"]["tl"]["wait_p50_s"] == 101.0  # the middle of 1 ... 200


def test_handled_calls_add_up_for_the_department_and_the_officer(clock: FakeClock) -> None:
    router = Router([make_department("kosodate", wrap_up_s=1)], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    for call_id, seconds in (("c1", 60), ("c2", 120)):
        router.join(call_id, "kosodate")
        router.accept("o1", call_id)
        clock.advance(seconds)
        router.call_finished(call_id)
        assert router.officer_state("o1") is OfficerState.WRAP_UP  # one second of wrap-up is still one
        clock.advance(1)
        router.tick()
    stats = router.stats()
    department, officer = stats["departments"]["kosodate"], stats["officers"]["o1"]
    # handle time: from the answer to the end of wrap-up (60 + 1 and 120 + 1 s)
    assert (department["handled"], department["handle_s"]) == (2, 182.0)
    assert (officer["handled"], officer["handle_s"]) == (2, 182.0)


def test_without_wrap_up_the_officer_is_available_at_once_saying_why(clock: FakeClock) -> None:
    router = Router([make_department("kosodate", wrap_up_s=0)], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    out = router.transfer("c1", "kosodate")  # blind: the officer is done with it ("transferred")
    assert next((d.state, d.reason) for d in out if hasattr(d, "state")) == (
        OfficerState.AVAILABLE,
        "transferred",
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"booking_id": ""}, "an appointment claim needs a booking id"),
        ({"slot_start": float("inf")}, "an appointment's slot start must be a finite time"),
        ({"officer_first_s": -1.0}, "officer_first_s must be a non-negative number of seconds"),
    ],
)
def test_a_claim_that_cannot_be_is_refused_by_name(fields: dict, message: str) -> None:
    values = {"booking_id": "b1", "slot_start": 1000.0, "officer_first_s": 60.0, **fields}
    with pytest.raises(RouterError) as caught:
        AppointmentClaim(**values)
    assert str(caught.value) == message
