"""After a call, pinned where ``./run-mutation routing`` found nothing in tests/routing reaching it: wrap-up
held while the officer writes the outcome, the residents' ratings in the day's counters, a refused
check-in's fields, the officer transition table's yes/no."""

from __future__ import annotations

import pytest

from signaling_server.routing import CheckInRefused, OfficerState, OfficerStateChanged, Router, SkillLevel
from signaling_server.routing.offers import WRAP_HOLD_MAX_S
from signaling_server.routing.states import ALLOWED_TRANSITIONS, is_allowed

from .conftest import FakeClock, make_department

WRAP_UP_S = 15.0  # the departments' default wrap_up_s


@pytest.fixture
def router(clock: FakeClock) -> Router:
    return Router([make_department("kosodate"), make_department("nenkin")], clock=clock)


def in_wrap_up(router: Router, officer_id: str = "o1", call_id: str = "c1") -> None:
    router.officer_online(officer_id, {"kosodate": SkillLevel.PRIMARY})
    router.join(call_id, "kosodate")
    router.accept(officer_id, call_id)
    router.call_finished(call_id)
    assert router.officer_state(officer_id) is OfficerState.WRAP_UP


def state_after(router: Router, clock: FakeClock, until: float) -> OfficerState:
    clock.now = until
    router.tick()
    return router.officer_state("o1")


def test_a_held_wrap_up_stands_still_and_runs_on_with_what_was_left(router: Router, clock: FakeClock) -> None:
    in_wrap_up(router)
    ended = clock()
    clock.advance(5)
    assert router.hold_wrap_up("o1", True) == []
    held_at = clock()
    assert router.next_deadline() == held_at + (WRAP_UP_S - 5) + WRAP_HOLD_MAX_S  # the hold's own limit
    assert state_after(router, clock, ended + WRAP_UP_S + 100) is OfficerState.WRAP_UP
    released_at = clock()
    assert router.hold_wrap_up("o1", False) == []
    assert router.next_deadline() == released_at + WRAP_UP_S - 5  # the 10 s left when it was held
    assert state_after(router, clock, released_at + 9.5) is OfficerState.WRAP_UP
    out = router.tick()
    assert out == []
    clock.now = released_at + 10
    out = router.tick()
    assert OfficerStateChanged("o1", OfficerState.AVAILABLE, "wrap_up_ended") in out


def test_holding_twice_or_releasing_what_is_not_held_changes_nothing(
    router: Router, clock: FakeClock
) -> None:
    in_wrap_up(router)
    ended = clock()
    assert router.hold_wrap_up("o1", False) == []  # not held: the wrap-up runs as it was
    assert router.next_deadline() == ended + WRAP_UP_S
    clock.advance(3)
    router.hold_wrap_up("o1", True)
    deadline = router.next_deadline()
    clock.advance(4)
    router.hold_wrap_up("o1", True)  # held already: the first hold's time left is kept
    assert router.next_deadline() == deadline == ended + 3 + (WRAP_UP_S - 3) + WRAP_HOLD_MAX_S
    router.hold_wrap_up("o1", False)
    assert router.next_deadline() == clock() + WRAP_UP_S - 3


def test_a_hold_never_released_ends_after_its_limit(router: Router, clock: FakeClock) -> None:
    in_wrap_up(router)
    router.hold_wrap_up("o1", True)
    limit = clock() + WRAP_UP_S + WRAP_HOLD_MAX_S
    assert state_after(router, clock, limit - 0.5) is OfficerState.WRAP_UP
    assert state_after(router, clock, limit) is OfficerState.AVAILABLE


def test_a_hold_after_the_wrap_up_ran_out_keeps_no_time(router: Router, clock: FakeClock) -> None:
    """Held exactly when wrap-up ends (its timer not yet run): no time left, released means done at once."""
    in_wrap_up(router)
    clock.advance(WRAP_UP_S + 2)  # due, but nothing ticked yet
    router.hold_wrap_up("o1", True)
    assert router.next_deadline() == clock() + WRAP_HOLD_MAX_S
    router.hold_wrap_up("o1", False)
    assert router.next_deadline() == clock()
    assert state_after(router, clock, clock()) is OfficerState.AVAILABLE


def test_a_second_wrap_up_is_held_and_released_alike(router: Router, clock: FakeClock) -> None:
    in_wrap_up(router)
    router.hold_wrap_up("o1", True)
    router.hold_wrap_up("o1", False)
    assert state_after(router, clock, clock() + WRAP_UP_S) is OfficerState.AVAILABLE
    router.join("c2", "kosodate")
    router.accept("o1", "c2")
    router.call_finished("c2")
    router.hold_wrap_up("o1", True)
    clock.advance(WRAP_UP_S + 1)
    router.tick()  # the first wrap-up's old timers must not end this one
    assert router.officer_state("o1") is OfficerState.WRAP_UP
    router.hold_wrap_up("o1", False)
    assert state_after(router, clock, clock() + WRAP_UP_S) is OfficerState.AVAILABLE


def test_holding_outside_wrap_up_does_nothing(router: Router, clock: FakeClock) -> None:
    router.officer_online("o1", {"kosodate": SkillLevel.PRIMARY})
    assert router.hold_wrap_up("o1", True) == []
    assert router.next_deadline() is None
    router.join("c3", "kosodate")  # rings o1
    assert router.officer_state("o1") is OfficerState.RINGING
    deadline = router.next_deadline()
    router.hold_wrap_up("o1", True)
    assert router.next_deadline() == deadline and router.officer_state("o1") is OfficerState.RINGING


def test_ratings_count_for_the_department_and_the_officer(router: Router) -> None:
    in_wrap_up(router)
    router.record_rating("kosodate", "o1", 4)
    router.record_rating("kosodate", None, 2)  # a call whose officer is not known: the department only
    router.record_rating("nenkin", "o1", 5)
    stats = router.stats()
    kosodate, nenkin = stats["departments"]["kosodate"], stats["departments"]["nenkin"]
    assert (kosodate["ratings"], kosodate["rating_sum"], kosodate["rating_mean"]) == (2, 6, 3.0)
    assert (nenkin["ratings"], nenkin["rating_sum"], nenkin["rating_mean"]) == (1, 5, 5.0)
    officer = stats["officers"]["o1"]
    assert (officer["ratings"], officer["rating_sum"], officer["rating_mean"]) == (2, 9, 4.5)


def test_ratings_are_counted_on_the_day_they_are_given(router: Router, clock: FakeClock) -> None:
    router.officer_online("o1", {"kosodate": SkillLevel.PRIMARY})
    router.record_rating("kosodate", "o1", 3)
    clock.advance(24 * 3600)  # the next day: the counters start again
    router.record_rating("kosodate", "o1", 5)
    stats = router.stats()
    assert (stats["departments"]["kosodate"]["ratings"], stats["officers"]["o1"]["rating_sum"]) == (1, 5)


def test_a_refused_check_in_carries_its_reason_and_details() -> None:
    refused = CheckInRefused("appointment_too_early", department="kosodate", slot_start=12.5, retry_after_s=3)
    assert (str(refused), refused.reason, refused.department, refused.slot_start, refused.retry_after_s) == (
        "appointment_too_early", "appointment_too_early", "kosodate", 12.5, 3,
    )  # fmt: skip
    bare = CheckInRefused("appointment_unknown")
    assert (bare.reason, bare.department, bare.slot_start, bare.retry_after_s) == (
        "appointment_unknown", None, None, None,
    )  # fmt: skip


@pytest.mark.parametrize("old", list(OfficerState))
def test_is_allowed_answers_from_the_transition_table(old: OfficerState) -> None:
    for new in OfficerState:
        assert is_allowed(old, new) is (new in ALLOWED_TRANSITIONS[old])
    assert is_allowed(OfficerState.AVAILABLE, OfficerState.RINGING)
    assert not is_allowed(OfficerState.AVAILABLE, OfficerState.IN_CALL)
