"""Pinned where ``./run-mutation routing`` found plausible one-line bugs no test noticed: what a supervisor
reads of an officer, a requeue after media failed, a warm transfer cancelled, a one-stop checklist changed
and advanced, and the interpreter pool's estimate, session time and deadlines."""

from __future__ import annotations

import pytest

from signaling_server.routing import (
    CaseAdvanced,
    OfficerState,
    OfficerStateChanged,
    Router,
    SkillLevel,
)
from signaling_server.routing.interpreters import InterpreterPool
from signaling_server.routing.interpreters_decisions import (
    IllegalInterpreterTransition,
    InterpretationWaiting,
)

from .conftest import FakeClock, make_department

P = SkillLevel.PRIMARY


@pytest.fixture
def router(clock: FakeClock) -> Router:
    deps = [
        make_department("kosodate"),
        make_department("nenkin"),
        make_department("kaigo"),
        make_department("okuyami", kind="one_stop", one_stop_departments=["nenkin", "kaigo"]),
    ]
    return Router(deps, clock=clock)


def test_what_a_supervisor_reads_of_an_officer(router: Router, clock: FakeClock) -> None:
    router.officer_online("o1", {"kosodate": P, "nenkin": SkillLevel.SECONDARY})
    assert router.officer_info("o1") == {
        "officer_id": "o1",
        "state": "available",
        "reason": None,
        "skills": {"kosodate": "primary", "nenkin": "secondary"},
        "ringing_call": None,
        "call": None,
        "calls_today": 0,
        "idle_since": clock(),
        "unanswered": 0,
    }
    router.join("c1", "kosodate")
    ringing = router.officer_info("o1")
    assert (ringing["state"], ringing["ringing_call"], ringing["idle_since"]) == ("ringing", "c1", None)
    clock.advance(20)
    router.tick()  # the ring times out: one unanswered
    router.set_away("o1", "meeting")
    away = router.officer_info("o1")
    assert (away["state"], away["reason"], away["unanswered"], away["idle_since"]) == (
        "away",
        "meeting",
        1,
        None,
    )
    assert router.officer_reason("o1") == "meeting" and router.officer_reason("nobody") is None


def test_a_requeue_frees_the_officer_without_counting_a_handled_call(
    router: Router, clock: FakeClock
) -> None:
    router.officer_online("o2", {"kosodate": P})  # idle longest: the requeued caller rings it
    clock.advance(1)
    router.officer_online("o1", {"kosodate": P})
    router.officer_offline("o2")
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    router.officer_online("o2", {"kosodate": P})
    clock.advance(5)
    out = router.requeue("c1")
    assert OfficerStateChanged("o1", OfficerState.AVAILABLE, None) in out
    info = router.officer_info("o1")
    assert (info["state"], info["call"], info["idle_since"]) == ("available", None, clock())
    assert router.officer_info("o2")["ringing_call"] == "c1"
    snapshot = router.snapshot()
    (caller,) = snapshot["callers"]
    assert (caller["officer"], caller["officer_department"], caller["queued"]) == (None, None, True)
    assert snapshot["today"]["departments"]["kosodate"]["handled"] == 0  # media never came up
    assert snapshot["today"]["officers"]["o1"]["handled"] == 0


def test_a_cancelled_warm_transfer_keeps_the_caller_in_its_department(
    router: Router, clock: FakeClock
) -> None:
    router.officer_online("k", {"kosodate": P})
    router.officer_online("n", {"nenkin": P})
    router.join("c1", "kosodate")
    router.accept("k", "c1")
    router.transfer("c1", "nenkin", "", warm=True)  # rings n
    clock.advance(7)
    router.cancel_transfer("c1")
    assert router.call_info("c1")["department"] == "kosodate"
    assert router.stats()["departments"]["nenkin"]["withdrawn"] == 1
    assert router.stats()["departments"]["kosodate"]["withdrawn"] == 0
    assert router.officer_info("n")["idle_since"] == clock()  # free again from the cancel
    router.transfer("c1", "nenkin", "", warm=True)
    router.cancel_transfer("c1")
    assert router.stats()["departments"]["nenkin"]["withdrawn"] == 2


def test_a_changed_checklist_keeps_what_is_done_and_adds_fresh_items(
    router: Router, clock: FakeClock
) -> None:
    router.officer_online("desk", {"okuyami": P})
    router.join("c1", "okuyami")
    router.accept("desk", "c1")
    clock.advance(60)
    out = router.call_finished("c1", outcome="resolved", note="受理")
    assert CaseAdvanced("c1", "okuyami", "nenkin", ("nenkin", "kaigo")) in out
    case = router.call_info("c1")["case"]
    assert case["log"] == [{"department": "okuyami", "outcome": "resolved", "note": "受理", "at": clock()}]
    assert router.stats()["departments"]["nenkin"]["transferred_in"] == 1
    router.officer_online("n", {"nenkin": P})
    router.accept("n", "c1")
    router.call_finished("c1", outcome="visit_city_hall", note="")
    case = router.set_checklist("c1", ["kosodate", "nenkin"])
    assert case["checklist"] == [
        {"department": "nenkin", "status": "done", "outcome": "visit_city_hall", "note": ""},
        {"department": "kosodate", "status": "pending", "outcome": None, "note": ""},
    ]


def test_the_pools_estimate_counts_rounds_of_sessions(clock: FakeClock) -> None:
    pool = InterpreterPool(clock=clock, ring_timeout_s=20, wrap_up_s=30, default_session_s=600)
    for name in ("maria", "jose"):
        pool.online(name, ["tl"])
    for call_id in ("c1", "c2"):
        pool.request(call_id, "tl")
        (offered,) = [n for n in ("maria", "jose") if pool.ringing(n) == call_id]
        pool.accept(offered, call_id)
    waits = [pool.request(c, "tl") for c in ("c3", "c4", "c5")]
    assert waits == [
        [InterpretationWaiting("c3", "tl", 1, 600.0)],  # two on duty: the first two wait one session
        [InterpretationWaiting("c4", "tl", 2, 600.0)],
        [InterpretationWaiting("c5", "tl", 3, 1200.0)],
    ]


def test_session_time_adds_up_and_nothing_pending_has_no_deadline(clock: FakeClock) -> None:
    pool = InterpreterPool(clock=clock, ring_timeout_s=20, wrap_up_s=0, default_session_s=600)
    assert pool.next_deadline() is None and pool.session_of("c1") is None
    pool.online("maria", ["tl"])
    for call_id, seconds in (("c1", 60), ("c2", 120)):
        pool.request(call_id, "tl")
        pool.accept("maria", call_id)
        clock.advance(seconds)
        pool.leave(call_id)
        pool.tick()
    assert pool.stats()["languages"]["tl"]["minutes"] == 3.0
    assert pool.next_deadline() is None


def test_an_illegal_interpreter_move_names_both_states() -> None:
    error = IllegalInterpreterTransition("maria", OfficerState.OFFLINE, OfficerState.WRAP_UP)
    assert (error.old, error.new) == (OfficerState.OFFLINE, OfficerState.WRAP_UP)
    assert str(error) == "interpreter maria: offline → wrap_up is not allowed"
