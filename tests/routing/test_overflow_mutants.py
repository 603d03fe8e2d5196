"""Pinned where ``./run-mutation routing`` (December 2026, fourth round) found one-line bugs no test noticed
in overflow: one overflow check rings every overflowed caller it can (not one per check), and a check for a
caller who is already ringing rings nobody else. Both show when another deadline due the same second
frees an officer between the checks: who rings whom depends on which check rang first."""

from __future__ import annotations

from signaling_server.routing import Router, SkillLevel

from .conftest import FakeClock, make_department

P, S = SkillLevel.PRIMARY, SkillLevel.SECONDARY


def _router(clock: FakeClock, strategy: str) -> Router:
    """ "a" overflows after 20 s; "b" rings for 20 s. q serves b and overflows into a; q2 serves b; s1 and
    s2 serve c and d, where each has taken one call, and overflow into a."""
    deps = [
        make_department("a", strategy=strategy, overflow_after_s=20, ring_timeout_s=60),
        make_department("b", ring_timeout_s=20, overflow_after_s=None),
        make_department("c", wrap_up_s=0, overflow_after_s=None),
        make_department("d", wrap_up_s=0, overflow_after_s=None),
    ]
    router = Router(deps, clock=clock)
    for officer, skills in (("q", {"b": P, "a": S}), ("q2", {"b": P})):
        router.officer_online(officer, skills)
    for officer, own in (("s1", "c"), ("s2", "d")):
        router.officer_online(officer, {own: P, "a": S})
        router.join(f"call-{officer}", own)
        router.accept(officer, f"call-{officer}")
        router.call_finished(f"call-{officer}")
    clock.advance(1)
    return router


def test_one_overflow_check_rings_every_overflowed_caller_it_can(clock: FakeClock) -> None:
    router = _router(clock, "fewest_calls")
    router.join("x", "a")  # nobody serves a as primary: x and y wait for overflow
    router.join("z", "b")  # rings q until the same second x and y overflow
    router.join("y", "a")
    clock.advance(20)
    router.tick()  # x's check rings x (s1) and y (s2); then q misses z, z rings q2, q is free
    assert [router.officer_info(o)["ringing_call"] for o in ("s1", "s2", "q2", "q")] == ["x", "y", "z", None]


def test_an_overflow_check_for_a_caller_already_ringing_rings_nobody_else(clock: FakeClock) -> None:
    router = _router(clock, "ring_all")
    router.officer_online("pa", {"a": P})
    router.join("x", "a")  # rings pa for 60 s: not pending when its check falls due
    router.join("z", "b")  # rings q until the same second
    router.join("y", "a")  # waits for pa, then overflows
    clock.advance(20)
    router.tick()  # x's check does nothing; q misses z, z rings q2, q is free: y rings s1, s2 and q
    assert [router.officer_info(o)["ringing_call"] for o in ("pa", "q2", "q", "s1", "s2")] == [
        "x",
        "z",
        "y",
        "y",
        "y",
    ]
