"""Pinned where ``./run-mutation routing`` (2026-12-02, one job, 36 minutes) found one-line bugs in
``Router.leave`` that no test noticed: a caller leaving at exactly the service level counts within it, and
every such caller counts; a resident who leaves while being warm-transferred ends the first officer's call
(wrap-up from that moment); a place is kept for a kiosk with any grace above zero, and with none at all."""

from __future__ import annotations

import pytest

from signaling_server.routing import (
    CallerRemoved,
    OfficerState,
    OfficerStateChanged,
    Router,
    SkillLevel,
)

from .conftest import FakeClock, make_department

P = SkillLevel.PRIMARY


def test_callers_who_leave_at_or_within_the_service_level_count_within_it(clock: FakeClock) -> None:
    router = Router([make_department("kosodate", service_level_s=60)], clock=clock)
    for caller in ("early", "on_time", "late"):
        router.join(caller, "kosodate")
    clock.advance(30)
    router.leave("early")  # 30 s: within
    clock.advance(30)
    router.leave("on_time")  # exactly 60 s: still within
    clock.advance(1)
    router.leave("late")  # 61 s: outside
    stats = router.stats()["departments"]["kosodate"]
    assert (stats["abandoned"], stats["abandoned_within_sl"]) == (3, 2)
    assert stats["service_level_sl2"] == pytest.approx(2 / 3)


def test_a_resident_who_leaves_during_a_warm_transfer_ends_the_first_officers_call(clock: FakeClock) -> None:
    deps = [make_department("kosodate", wrap_up_s=30), make_department("nenkin")]
    router = Router(deps, clock=clock)
    router.officer_online("k", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("k", "c1")
    router.transfer("c1", "nenkin", "", warm=True)  # nobody in nenkin: c1 waits there, still with k
    assert router.waiting("nenkin") == ["c1"] and router.officer_state("k") is OfficerState.IN_CALL
    clock.advance(5)
    left_at = clock()
    out = router.leave("c1")
    assert OfficerStateChanged("k", OfficerState.WRAP_UP, None) in out
    assert CallerRemoved("c1", "cancelled") in out
    assert router.officer_state("k") is OfficerState.WRAP_UP and router.waiting("nenkin") == []
    clock.advance(29)  # wrap-up runs from the leave: 30 s
    router.tick()
    assert clock() - left_at == 29 and router.officer_state("k") is OfficerState.WRAP_UP
    clock.advance(1)
    router.tick()
    assert router.officer_state("k") is OfficerState.AVAILABLE


@pytest.mark.parametrize(("grace", "kept"), [(1.0, True), (0.0, False)])
def test_a_place_is_kept_for_a_kiosk_with_any_grace_and_never_without(
    clock: FakeClock, grace: float, kept: bool
) -> None:
    router = Router([make_department("kosodate")], clock=clock, rejoin_grace_s=grace)
    router.join("c1", "kosodate", kiosk_id="k1")
    router.join("c2", "kosodate", kiosk_id="k2")
    router.leave("c1")
    router.join("c1-again", "kosodate", kiosk_id="k1")  # at once: within any grace
    assert router.waiting("kosodate") == (["c1-again", "c2"] if kept else ["c2", "c1-again"])
