"""Appointments in the router: early arrivals wait for their slot, the booked officer is rung first, the
department takes over after officer_first_s, and appointments go ahead of walk-ins."""

from __future__ import annotations

import json

import pytest

from signaling_server.routing import (
    AppointmentClaim,
    CallerRemoved,
    HoldForSlot,
    OfficerState,
    QueueSnapshot,
    Ring,
    Router,
    RouterError,
)

from .conftest import FakeClock, make_department

SLOT_IN_10_MIN = 600.0


def rings(out: list) -> list[Ring]:
    return [d for d in out if isinstance(d, Ring)]


def router_with(clock: FakeClock, *officers: str) -> Router:
    router = Router([make_department("a", wrap_up_s=0, overflow_after_s=None)], clock=clock)
    for officer in officers:
        router.officer_online(officer, {"a": "primary"})
    return router


def claim(clock: FakeClock, offset: float = SLOT_IN_10_MIN, officer: str | None = "o2") -> AppointmentClaim:
    return AppointmentClaim("b1", clock.now + offset, officer, officer_first_s=60)


def test_an_early_arrival_waits_for_its_slot_and_then_rings_its_booked_officer_first(clock):
    router = router_with(clock, "o1", "o2")  # o1 has been idle longest: a walk-in would ring o1
    c = claim(clock)
    out = router.join("c1", "a", kiosk_id="k1", appointment=c)
    assert out == [HoldForSlot("c1", "a", c.slot_start, "b1")]
    assert router.call_info("c1")["state"] == "early"
    assert router.waiting("a") == [] and router.next_deadline() == c.slot_start
    clock.advance(SLOT_IN_10_MIN - 1)
    assert router.tick() == []
    clock.advance(1)
    out = router.tick()
    assert [(r.officer_id, r.call_id) for r in rings(out)] == [("o2", "c1")]
    assert router.call_info("c1")["reserved_for"] == "o2"
    stats = router.stats()["departments"]["a"]
    assert stats["offered"] == 1 and stats["waiting"] == 1


def test_the_department_takes_over_when_the_booked_officer_is_busy_past_its_turn(clock):
    router = router_with(clock, "o1", "o2")
    router.join("w0", "a")  # o1 (longest idle) takes a walk-in
    router.accept("o1", "w0")
    router.join("w1", "a")
    router.accept("o2", "w1")  # the booked officer is busy too
    router.join("c1", "a", appointment=claim(clock, offset=0))
    router.call_finished("w0")  # o1 is free, but c1 is reserved for o2 for 60 s
    assert router.officer_state("o1") is OfficerState.AVAILABLE
    assert router.call_info("c1")["state"] == "queued"
    clock.advance(60)
    out = router.tick()
    assert [(r.officer_id, r.call_id) for r in rings(out)] == [("o1", "c1")]
    assert router.call_info("c1")["reserved_for"] is None


def test_the_booked_officer_freed_within_its_turn_gets_the_caller(clock):
    router = router_with(clock, "o1", "o2")
    router.set_away("o2", "break")
    router.join("w1", "a")
    router.accept("o1", "w1")
    router.join("c1", "a", appointment=claim(clock, offset=0))  # o2 away: not reserved for it
    assert router.call_info("c1")["reserved_for"] is None
    out = router.set_available("o2")
    assert [(r.officer_id, r.call_id) for r in rings(out)] == [("o2", "c1")]
    router.accept("o2", "c1")
    router.join("c2", "a", appointment=AppointmentClaim("b2", clock.now, "o2", 60))
    assert router.call_info("c2")["reserved_for"] == "o2"  # in a call: still reachable within its turn
    assert rings(router.call_finished("w1")) == []  # o1 is free but c2 waits for o2
    clock.advance(30)
    out = router.call_finished("c1")
    assert [(r.officer_id, r.call_id) for r in rings(out)] == [("o2", "c2")]


def test_a_decline_by_the_booked_officer_hands_the_caller_to_the_department(clock):
    router = router_with(clock, "o1", "o2")
    router.join("c1", "a", appointment=claim(clock, offset=0))
    out = router.decline("o2", "c1")
    assert [(r.officer_id, r.call_id) for r in rings(out)] == [("o1", "c1")]
    assert router.call_info("c1")["reserved_for"] is None


def test_a_due_appointment_goes_ahead_of_walk_ins_but_behind_older_head_callers(clock):
    router = router_with(clock)
    router.join("w1", "a")
    clock.advance(5)
    router.join("w2", "a")
    clock.advance(5)
    router.join("c1", "a", appointment=claim(clock, offset=-30, officer=None))  # 30 s late
    router.join("r1", "a", head=True)  # a caller put back by the server, joined after the slot
    assert router.waiting("a") == ["c1", "r1", "w1", "w2"]
    router.officer_online("o1", {"a": "primary"})
    assert router.call_info("c1")["state"] == "ringing"


def test_an_early_caller_who_leaves_is_removed_without_counting_as_abandoned(clock):
    router = router_with(clock, "o1")
    router.join("c1", "a", appointment=claim(clock))
    out = router.leave("c1")
    assert CallerRemoved("c1", "cancelled") in out
    clock.advance(SLOT_IN_10_MIN)
    assert router.tick() == []
    stats = router.stats()["departments"]["a"]
    assert stats["offered"] == stats["abandoned"] == stats["waiting"] == 0


def test_an_early_caller_waits_for_its_slot_again_after_a_restart(clock):
    router = router_with(clock, "o1")
    c = claim(clock, officer="o1")
    router.join("c1", "a", kiosk_id="k1", appointment=c)
    stored = json.loads(json.dumps(router.snapshot()))
    assert stored["callers"][0]["appointment"]["booking_id"] == "b1"
    restarted = router_with(clock)
    restarted.restore(QueueSnapshot.from_json(stored))
    assert restarted.call_info("c1")["state"] == "early"
    restarted.officer_online("o1", {"a": "primary"})
    clock.advance(SLOT_IN_10_MIN)
    assert [(r.officer_id, r.call_id) for r in rings(restarted.tick())] == [("o1", "c1")]


def test_a_claim_must_be_well_formed(clock):
    router = router_with(clock)
    for bad in ({"booking_id": ""}, {"officer_first_s": -1}, {"slot_start": float("nan")}):
        fields = {"booking_id": "b", "slot_start": clock.now, "officer_first_s": 60.0} | bad
        with pytest.raises(RouterError):
            router.join("c1", "a", appointment=AppointmentClaim(**fields))
