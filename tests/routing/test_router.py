"""Router behaviour, one event at a time: FIFO, strategies, ring timeouts, re-offers, officer states."""

from __future__ import annotations

import json

import pytest

from signaling_server.routing import (
    CallerRemoved,
    Connect,
    JoinRefused,
    OfficerState,
    OfficerStateChanged,
    QueuePosition,
    RequeueCaller,
    Ring,
    Router,
    RouterError,
    SkillLevel,
    WithdrawRing,
)

P = SkillLevel.PRIMARY
S = SkillLevel.SECONDARY


def of(decisions: list, kind: type) -> list:
    return [d for d in decisions if isinstance(d, kind)]


def rings(decisions: list) -> list[tuple[str, str]]:
    return [(d.officer_id, d.call_id) for d in of(decisions, Ring)]


@pytest.fixture
def router(clock, department) -> Router:
    return Router([department("kosodate"), department("nenkin")], clock=clock)


# ---------------------------------------------------------------------------- FIFO and offers


def test_callers_are_offered_in_join_order(router: Router, clock) -> None:
    for i in range(3):
        router.join(f"c{i}", "kosodate")
        clock.advance(1)
    assert router.waiting("kosodate") == ["c0", "c1", "c2"]
    out = router.officer_online("o1", {"kosodate": P})
    assert rings(out) == [("o1", "c0")]
    ring = of(out, Ring)[0]
    assert ring.department == "kosodate"
    assert ring.ring_timeout_s == 20
    assert ring.waited_s == pytest.approx(3)
    assert router.officer_state("o1") is OfficerState.RINGING


def test_join_with_available_officer_rings_at_once_and_reports_position(router: Router) -> None:
    router.officer_online("o1", {"kosodate": P})
    out = router.join("c1", "kosodate", kiosk_id="k1")
    assert rings(out) == [("o1", "c1")]
    assert of(out, QueuePosition) == [QueuePosition("c1", "kosodate", 1, 0.0)]


def test_accept_connects_and_shifts_positions(router: Router, clock) -> None:
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.join("c2", "kosodate")
    out = router.join("c3", "kosodate")
    assert of(out, QueuePosition) == [QueuePosition("c3", "kosodate", 3, pytest.approx(600.0))]
    clock.advance(5)
    out = router.accept("o1", "c1")
    assert of(out, Connect) == [Connect("c1", "o1")]
    assert [(p.call_id, p.position) for p in of(out, QueuePosition)] == [("c2", 1), ("c3", 2)]
    assert router.officer_state("o1") is OfficerState.IN_CALL
    assert router.waiting("kosodate") == ["c2", "c3"]


def test_accept_of_a_call_not_offered_is_an_error(router: Router) -> None:
    router.officer_online("o1", {"kosodate": P})
    router.officer_online("o2", {"kosodate": P})
    router.join("c1", "kosodate")
    ringing = router.officer_state("o1") is OfficerState.RINGING
    idle = "o2" if ringing else "o1"
    with pytest.raises(RouterError, match="not being offered"):
        router.accept(idle, "c1")
    with pytest.raises(RouterError, match="unknown officer"):
        router.accept("ghost", "c1")


def test_an_officer_is_offered_one_caller_at_a_time(router: Router) -> None:
    router.officer_online("o1", {"kosodate": P, "nenkin": P})
    out1 = router.join("c1", "kosodate")
    out2 = router.join("c2", "nenkin")
    assert rings(out1) == [("o1", "c1")]
    assert rings(out2) == []
    assert router.waiting("nenkin") == ["c2"]


def test_officer_serving_two_departments_takes_the_longest_waiting(router: Router, clock) -> None:
    router.join("a1", "nenkin")
    clock.advance(10)
    router.join("k1", "kosodate")
    out = router.officer_online("o1", {"kosodate": P, "nenkin": P})
    assert rings(out) == [("o1", "a1")]


# ---------------------------------------------------------------------------- strategies


def test_longest_idle_officer_gets_the_call(router: Router, clock) -> None:
    router.officer_online("o1", {"kosodate": P})
    clock.advance(1)
    router.officer_online("o2", {"kosodate": P})
    clock.advance(1)
    router.officer_online("o3", {"kosodate": P})
    assert rings(router.join("c1", "kosodate")) == [("o1", "c1")]
    assert rings(router.join("c2", "kosodate")) == [("o2", "c2")]


def test_officer_back_from_a_call_goes_to_the_back_of_the_idle_order(clock, department) -> None:
    router = Router([department("kosodate", wrap_up_s=0)], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    clock.advance(1)
    router.officer_online("o2", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    clock.advance(60)
    router.call_finished("c1")
    assert router.officer_state("o1") is OfficerState.AVAILABLE
    assert rings(router.join("c2", "kosodate")) == [("o2", "c2")]


@pytest.mark.parametrize(("strategy", "expected"), [("fewest_calls", "fresh"), ("longest_idle", "busy")])
def test_fewest_calls_today_gets_the_call(clock, department, strategy: str, expected: str) -> None:
    router = Router([department("kosodate", strategy=strategy, wrap_up_s=0)], clock=clock)
    router.officer_online("busy", {"kosodate": P})
    router.officer_online("fresh", {"kosodate": P})
    router.set_away("fresh", "break")
    assert rings(router.join("c1", "kosodate")) == [("busy", "c1")]
    router.accept("busy", "c1")
    clock.advance(30)
    router.call_finished("c1")  # busy: idle since now, one call today
    clock.advance(5)
    router.set_available("fresh")  # fresh: idle for less time, no call today
    clock.advance(5)
    assert rings(router.join("c2", "kosodate")) == [(expected, "c2")]


def test_ring_all_rings_every_available_officer_and_first_accept_wins(clock, department) -> None:
    router = Router([department("kosodate", strategy="ring_all")], clock=clock)
    for officer in ("o1", "o2", "o3"):
        router.officer_online(officer, {"kosodate": P})
    out = router.join("c1", "kosodate")
    assert sorted(rings(out)) == [("o1", "c1"), ("o2", "c1"), ("o3", "c1")]
    router.join("c2", "kosodate")  # nobody is free: waits
    out = router.accept("o2", "c1")
    withdrawn = of(out, WithdrawRing)
    assert sorted((w.officer_id, w.reason) for w in withdrawn) == [
        ("o1", "answered_elsewhere"),
        ("o3", "answered_elsewhere"),
    ]
    # Withdrawn officers are free again and ring together for the next caller.
    assert sorted(rings(out)) == [("o1", "c2"), ("o3", "c2")]
    assert out.index(withdrawn[0]) < out.index(of(out, Ring)[0])
    with pytest.raises(RouterError):
        router.accept("o1", "c1")


# ---------------------------------------------------------------------------- timeouts, declines


def test_ring_timeout_reoffers_to_the_next_officer(router: Router, clock) -> None:
    router.officer_online("o1", {"kosodate": P})
    clock.advance(1)
    router.officer_online("o2", {"kosodate": P})
    router.join("c1", "kosodate")
    assert router.next_deadline() == pytest.approx(clock.now + 20)
    clock.advance(19.9)
    assert of(router.tick(), WithdrawRing) == []
    clock.advance(0.2)
    out = router.tick()
    assert of(out, WithdrawRing) == [WithdrawRing("o1", "c1", "timeout")]
    assert rings(out) == [("o2", "c1")]
    assert router.officer_state("o1") is OfficerState.AVAILABLE
    assert router.waiting("kosodate") == ["c1"]


def test_autopause_after_consecutive_unanswered_offers(router: Router, clock) -> None:
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    clock.advance(20)
    out = router.tick()  # first miss: o1 is free again and is offered c1 once more
    assert rings(out) == [("o1", "c1")]
    clock.advance(20)
    out = router.tick()
    assert OfficerStateChanged("o1", OfficerState.AWAY, "no_answer") in out
    assert rings(out) == []
    assert router.officer_state("o1") is OfficerState.AWAY
    assert router.waiting("kosodate") == ["c1"]
    out = router.set_available("o1")
    assert rings(out) == [("o1", "c1")]


def test_accepting_resets_the_unanswered_count(router: Router, clock) -> None:
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    clock.advance(20)
    router.tick()  # one miss, re-offered
    router.accept("o1", "c1")
    router.call_finished("c1")
    router.set_available("o1")
    router.join("c2", "kosodate")
    clock.advance(20)
    router.tick()  # a single miss after an answer is not enough to go away
    assert router.officer_state("o1") is OfficerState.RINGING


def test_decline_offers_the_caller_to_the_next_officer(router: Router, clock) -> None:
    router.officer_online("o1", {"kosodate": P})
    clock.advance(1)
    router.officer_online("o2", {"kosodate": P})
    router.join("c1", "kosodate")
    out = router.decline("o1", "c1")
    assert WithdrawRing("o1", "c1", "declined") in out
    assert rings(out) == [("o2", "c1")]
    assert router.officer_state("o1") is OfficerState.AVAILABLE


def test_leave_while_ringing_withdraws_the_ring(router: Router) -> None:
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.join("c2", "kosodate")
    out = router.leave("c1")
    assert WithdrawRing("o1", "c1", "caller_left") in out
    assert CallerRemoved("c1", "cancelled") in out
    assert rings(out) == [("o1", "c2")]
    assert router.waiting("kosodate") == ["c2"]
    with pytest.raises(RouterError, match="unknown call"):
        router.leave("c1")


# ---------------------------------------------------------------------------- officer states


def test_wrap_up_then_available_and_early_end(router: Router, clock) -> None:
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    router.join("c2", "kosodate")
    out = router.call_finished("c1")
    assert OfficerStateChanged("o1", OfficerState.WRAP_UP, None) in out
    assert router.next_deadline() == pytest.approx(clock.now + 15)
    out = router.set_available("o1")  # ends wrap-up early
    assert rings(out) == [("o1", "c2")]


def test_illegal_transitions_raise_clear_errors(router: Router) -> None:
    with pytest.raises(RouterError, match="unknown officer"):
        router.set_available("nobody")
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    with pytest.raises(RouterError, match="in_call"):
        router.set_away("o1", "break")
    with pytest.raises(RouterError, match="in_call"):
        router.set_available("o1")
    with pytest.raises(RouterError, match="away reason"):
        router.set_away("o1", "nap")
    router.officer_offline("o1")
    with pytest.raises(RouterError, match="offline"):
        router.set_away("o1", "break")


def test_away_reasons_and_ringing_officer_going_away(router: Router) -> None:
    router.officer_online("o1", {"kosodate": P})
    router.officer_online("o2", {"kosodate": P})
    router.set_away("o2", "meeting")
    router.join("c1", "kosodate")
    out = router.set_away("o1", "counter")
    assert WithdrawRing("o1", "c1", "declined") in out
    assert router.officer_state("o1") is OfficerState.AWAY
    assert router.officer_reason("o1") == "counter"
    assert router.waiting("kosodate") == ["c1"]
    out = router.set_available("o2")
    assert rings(out) == [("o2", "c1")]


def test_bad_skills_are_refused(router: Router) -> None:
    with pytest.raises(RouterError, match="unknown department 'nope'"):
        router.officer_online("o1", {"nope": P})
    with pytest.raises(RouterError, match="'primary' or 'secondary'"):
        router.officer_online("o1", {"kosodate": "expert"})
    router.officer_online("o1", {"kosodate": "primary"})  # plain strings are accepted
    assert router.officer_state("o1") is OfficerState.AVAILABLE


# ---------------------------------------------------------------------------- disconnects


def test_dropped_ringing_officer_never_stays_ringing(router: Router, clock) -> None:
    router.officer_online("o1", {"kosodate": P})
    clock.advance(1)
    router.officer_online("o2", {"kosodate": P})
    router.join("c1", "kosodate")
    out = router.officer_offline("o1")
    assert router.officer_state("o1") is OfficerState.OFFLINE
    assert rings(out) == [("o2", "c1")]


def test_dropped_officer_in_call_sends_caller_back_to_the_head(router: Router, clock) -> None:
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    clock.advance(10)
    router.join("c2", "kosodate")
    out = router.officer_offline("o1")
    assert router.officer_state("o1") is OfficerState.OFFLINE
    assert RequeueCaller("c1", "kosodate", "officer_offline") in out
    assert router.waiting("kosodate") == ["c1", "c2"]
    assert [(p.call_id, p.position) for p in of(out, QueuePosition)] == [("c1", 1), ("c2", 2)]
    # The requeued caller keeps its original join time.
    assert router.call_info("c1")["join_time"] < router.call_info("c2")["join_time"]
    out = router.officer_online("o2", {"kosodate": P})
    assert rings(out) == [("o2", "c1")]


def test_requeue_when_media_never_came_up(router: Router, clock) -> None:
    router.officer_online("o1", {"kosodate": P})
    clock.advance(1)
    router.officer_online("o2", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    out = router.requeue("c1")
    assert RequeueCaller("c1", "kosodate", "media_failed") in out
    assert rings(out) == [("o2", "c1")]
    assert router.officer_state("o1") is OfficerState.AVAILABLE
    with pytest.raises(RouterError, match="not connected"):
        router.requeue("c1")


def test_offline_is_idempotent_and_unknown_calls_raise(router: Router) -> None:
    router.officer_online("o1", {"kosodate": P})
    router.officer_offline("o1")
    assert router.officer_offline("o1") == []
    with pytest.raises(RouterError, match="unknown call"):
        router.call_finished("zzz")
    with pytest.raises(RouterError, match="already known"):
        router.join("c1", "kosodate")
        router.join("c1", "kosodate")


def test_decisions_are_json_friendly(router: Router) -> None:
    router.officer_online("o1", {"kosodate": P})
    out = router.join("c1", "kosodate", info={"procedure": "jido-teate-nintei"})
    assert {type(d).__name__ for d in out} >= {"Ring", "QueuePosition"}
    for decision in out:
        fields = {k: getattr(decision, k) for k in decision.__slots__}
        assert json.loads(json.dumps(fields)) == fields  # every field survives JSON unchanged


def test_skills_change_while_online_and_officer_info(router: Router) -> None:
    router.join("n1", "nenkin")
    router.officer_online("o1", {"kosodate": P})
    assert router.officer_state("o1") is OfficerState.AVAILABLE
    out = router.officer_online("o1", {"kosodate": P, "nenkin": P})  # now also serves nenkin
    assert rings(out) == [("o1", "n1")]
    info = router.officer_info("o1")
    assert info["state"] == "ringing" and info["ringing_call"] == "n1"
    assert info["skills"] == {"kosodate": "primary", "nenkin": "primary"}
    router.accept("o1", "n1")
    assert router.officer_info("o1")["call"] == "n1"


def test_router_from_city_config(clock) -> None:
    from config.loader import load_config

    config = load_config()
    router = Router.from_config(config, clock=clock)
    assert router.department_status("kosodate").accepting
    with pytest.raises(JoinRefused) as info:
        router.join("c1", "shiminzei")  # listed, but no remote counter
    assert info.value.reason == "not_remote"
    router.join("c2", "okuyami")
    checklist = router.call_info("c2")["case"]["checklist"]
    assert [item["department"] for item in checklist] == [
        "shimin-toroku",
        "kenko-hoken",
        "iryo-nenkin",
        "kaigo-hoken",
    ]


def test_ring_all_officer_freed_during_a_ring_joins_it_with_the_time_left(clock, department) -> None:
    router = Router([department("kosodate", strategy="ring_all", ring_timeout_s=20)], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    clock.advance(8)
    out = router.officer_online("o2", {"kosodate": P})
    assert of(out, Ring) == [Ring("o2", "c1", "kosodate", pytest.approx(12), pytest.approx(8))]
    clock.advance(12)
    out = router.tick()
    assert sorted((w.officer_id, w.reason) for w in of(out, WithdrawRing)) == [
        ("o1", "timeout"),
        ("o2", "timeout"),
    ]
