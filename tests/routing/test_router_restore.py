"""Restart without loss: snapshot() → JSON → a new Router → restore()."""

from __future__ import annotations

import json

import pytest

from signaling_server.routing import (
    OfficerState,
    QueuePosition,
    RequeueCaller,
    Ring,
    Router,
    RouterError,
    SkillLevel,
)

P = SkillLevel.PRIMARY


def of(decisions: list, kind: type) -> list:
    return [d for d in decisions if isinstance(d, kind)]


def restart(router: Router, deps, clock) -> Router:
    data = json.loads(json.dumps(router.snapshot()))
    fresh = Router(deps, clock=clock)
    fresh.restore(data)
    return fresh


def test_waiting_callers_keep_order_join_times_and_priorities(clock, department) -> None:
    deps = [department("kosodate"), department("nenkin")]
    router = Router(deps, clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("a", "kosodate", kiosk_id="k1", info={"procedure": "hoiku-moshikomi"})
    clock.advance(5)
    router.join("b", "kosodate")
    clock.advance(5)
    router.join("h", "kosodate", head=True)
    router.join("n", "nenkin")
    assert router.officer_state("o1") is OfficerState.RINGING  # ringing "a" at snapshot time
    before = {c: router.call_info(c) for c in ("a", "b", "h", "n")}
    clock.advance(3)
    fresh = restart(router, deps, clock)
    assert fresh.waiting("kosodate") == ["h", "a", "b"]
    assert fresh.waiting("nenkin") == ["n"]
    for call, info in before.items():
        after = fresh.call_info(call)
        assert after["join_time"] == info["join_time"]
        assert after["priority"] == info["priority"]
        assert after["info"] == info["info"]
    # Positions go out at the next tick; officers reconnect and are offered callers again.
    assert fresh.next_deadline() == pytest.approx(clock.now)
    out = fresh.tick()
    assert [(p.call_id, p.position) for p in of(out, QueuePosition) if p.department == "kosodate"] == [
        ("h", 1),
        ("a", 2),
        ("b", 3),
    ]
    out = fresh.officer_online("o1", {"kosodate": P})
    assert [(r.officer_id, r.call_id) for r in of(out, Ring)] == [("o1", "h")]


def test_connected_call_resumes_when_its_officer_reconnects(clock, department) -> None:
    deps = [department("kosodate")]
    router = Router(deps, clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("a", "kosodate")
    router.accept("o1", "a")
    fresh = restart(router, deps, clock)
    assert fresh.call_info("a")["state"] == "held"
    out = fresh.officer_online("o1", {"kosodate": P})
    assert fresh.officer_state("o1") is OfficerState.IN_CALL
    assert of(out, Ring) == []
    fresh.call_finished("a")
    assert fresh.officer_state("o1") is OfficerState.WRAP_UP


def test_connected_call_requeued_at_head_if_its_officer_does_not_return(clock, department) -> None:
    deps = [department("kosodate")]
    router = Router(deps, clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("a", "kosodate")
    router.accept("o1", "a")
    router.join("b", "kosodate")
    fresh = restart(router, deps, clock)
    fresh.officer_online("o2", {"kosodate": P})
    assert [r.call_id for r in of(fresh.officer_online("o3", {"kosodate": P}), Ring)] == []
    clock.advance(120)
    out = fresh.tick()
    assert RequeueCaller("a", "kosodate", "not_resumed") in out
    assert "a" in [r.call_id for r in of(out, Ring)]


def test_stats_and_rejoin_places_survive_a_restart(clock, department) -> None:
    deps = [department("kosodate")]
    router = Router(deps, clock=clock)
    router.join("a", "kosodate", kiosk_id="k1")
    router.join("b", "kosodate", kiosk_id="k2")
    router.leave("a")
    fresh = restart(router, deps, clock)
    assert fresh.stats()["departments"]["kosodate"]["abandoned"] == 1
    assert fresh.stats()["departments"]["kosodate"]["offered"] == 2
    fresh.join("a2", "kosodate", kiosk_id="k1")
    assert fresh.waiting("kosodate") == ["a2", "b"]


def test_restore_refuses_bad_input(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    router.join("a", "kosodate")
    snap = router.snapshot()
    with pytest.raises(RouterError, match="fresh router"):
        router.restore(snap)
    with pytest.raises(RouterError, match="version"):
        Router([department("kosodate")], clock=clock).restore({"version": 99})
    with pytest.raises(RouterError, match="no longer has"):
        Router([department("nenkin")], clock=clock).restore(snap)


def in_wrap_up(clock, department, *, hold: bool = False) -> tuple[list, Router]:
    """o1 finished a call 5 s ago (wrap-up 30 s, optionally holding it to write the outcome); b waits."""
    deps = [department("kosodate", wrap_up_s=30)]
    router = Router(deps, clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("a", "kosodate")
    router.accept("o1", "a")
    router.call_finished("a")
    if hold:
        router.hold_wrap_up("o1", True)
    router.join("b", "kosodate")
    clock.advance(5)
    assert router.officer_state("o1") is OfficerState.WRAP_UP
    return deps, router


def test_an_officer_in_wrap_up_comes_back_to_what_was_left_of_it(clock, department) -> None:
    """Not available (rung at once for b while writing its notes, as a new cluster leader did): wrap-up
    with its 25 s left, then b."""
    deps, router = in_wrap_up(clock, department)
    fresh = restart(router, deps, clock)
    back = fresh.officer_online("o1", {"kosodate": P})
    assert fresh.officer_state("o1") is OfficerState.WRAP_UP and of(back, Ring) == []
    assert fresh.officer_reason("o1") == "resumed"
    clock.advance(24.9)
    assert of(fresh.tick(), Ring) == []
    clock.advance(0.1)
    assert [r.call_id for r in of(fresh.tick(), Ring)] == ["b"]


def test_a_held_wrap_up_stays_held_and_one_that_ran_out_is_over(clock, department) -> None:
    deps, router = in_wrap_up(clock, department, hold=True)
    fresh = restart(router, deps, clock)
    fresh.officer_online("o1", {"kosodate": P})
    clock.advance(60)  # past the 30 s it had left when it began writing: still writing
    assert of(fresh.tick(), Ring) == [] and fresh.officer_state("o1") is OfficerState.WRAP_UP
    assert [r.call_id for r in of(fresh.hold_wrap_up("o1", False) + fresh.tick(), Ring)] == []
    clock.advance(29.5)
    assert of(fresh.tick(), Ring) == []
    clock.advance(0.5)
    assert [r.call_id for r in of(fresh.tick(), Ring)] == ["b"]

    deps, router = in_wrap_up(clock, department)
    fresh = restart(router, deps, clock)
    clock.advance(30)  # back after its wrap-up would have ended
    assert [r.call_id for r in of(fresh.officer_online("o1", {"kosodate": P}), Ring)] == ["b"]


def test_a_snapshot_without_wrap_ups_is_written_as_before(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    router.join("a", "kosodate")
    assert "wrap_ups" not in router.snapshot()  # version 1, byte for byte, when nobody is in wrap-up
