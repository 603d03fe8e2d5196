"""Pinned where ``./run-mutation routing`` (December 2026, fourth round) found one-line bugs no test noticed
in position pushes: a lone caller told its place every ``position_push_s``, and every caller from the
lowest place that moved in one tick told its new place (two appointments admitted at once)."""

from __future__ import annotations

from signaling_server.routing import AppointmentClaim, QueuePosition, Router

from .conftest import FakeClock, make_department


def test_a_lone_caller_is_told_its_place_every_push_period(clock: FakeClock) -> None:
    router = Router([make_department("kosodate")], clock=clock, position_push_s=15.0)
    router.join("c1", "kosodate")  # nobody serves kosodate: c1 waits alone
    clock.advance(15)
    assert [d for d in router.tick() if isinstance(d, QueuePosition)] == [
        QueuePosition("c1", "kosodate", 1, None)
    ]


def test_every_caller_from_the_lowest_place_moved_in_one_tick_is_told_its_place(clock: FakeClock) -> None:
    router = Router([make_department("kosodate")], clock=clock, position_push_s=600.0)
    router.join("walk-in", "kosodate")
    slot = clock() + 60
    for booking in ("b1", "b2"):  # early: both wait for the same slot
        router.join(f"c-{booking}", "kosodate", appointment=AppointmentClaim(booking, slot))
    clock.advance(60)
    told = [(d.call_id, d.position) for d in router.tick() if isinstance(d, QueuePosition)]
    assert told == [("c-b1", 1), ("c-b2", 2), ("walk-in", 3)]


def test_a_queue_emptied_and_refilled_is_pushed_on_the_new_callers_period_only(clock: FakeClock) -> None:
    router = Router([make_department("kosodate")], clock=clock, position_push_s=15.0)
    router.join("c1", "kosodate", kiosk_id="k1")  # a push due at 15 s
    clock.advance(5)
    router.leave("c1")
    clock.advance(5)
    router.join("c2", "kosodate")  # a push due at 25 s; the one at 15 s is stale
    clock.advance(5)
    assert [d for d in router.tick() if isinstance(d, QueuePosition)] == []
    clock.advance(10)
    assert [d for d in router.tick() if isinstance(d, QueuePosition)] == [
        QueuePosition("c2", "kosodate", 1, None)
    ]
