"""Pinned where ``./run-mutation routing`` (December 2026, third round) found one-line bugs no test noticed:
what the next officer reads of a transfer, transfers counted per department, handle time ended by a
disconnection or a break during wrap-up, a decline of a call that is not the officer's, the unanswered
count a decline clears, one-stop checklists refused by name, and why a department refuses callers."""

from __future__ import annotations

import datetime as dt

import pytest

from signaling_server.routing import (
    AppointmentClaim,
    OfficerState,
    OfficerStateChanged,
    Router,
    RouterError,
    SkillLevel,
)
from signaling_server.routing.decisions import Ring
from signaling_server.routing.records import MAX_NOTE_CHARS

from .conftest import TOKYO, FakeClock, make_department

P = SkillLevel.PRIMARY


@pytest.fixture
def router(clock: FakeClock) -> Router:
    deps = [
        make_department("kosodate", wrap_up_s=30),
        make_department("nenkin", wrap_up_s=30),
        make_department("kaigo"),
        make_department("shiryo", remote=False),  # listed for reference only
        make_department("okuyami", kind="one_stop", one_stop_departments=["nenkin", "kaigo"]),
    ]
    return Router(deps, clock=clock)


def _connected(router: Router, officer: str, call_id: str, department: str = "kosodate") -> None:
    router.officer_online(officer, {department: P})
    router.join(call_id, department, kiosk_id=f"kiosk-{call_id}")
    router.accept(officer, call_id)


def test_the_next_officer_reads_who_transferred_the_caller_from_where(
    router: Router, clock: FakeClock
) -> None:
    _connected(router, "o1", "c1")
    clock.advance(40)
    router.transfer("c1", "nenkin", "年金の記録を確認してください")
    router.officer_online("o2", {"nenkin": P})
    router.accept("o2", "c1")
    clock.advance(10)
    router.transfer("c1", "kaigo", warm=True)  # no note given
    notes = router.call_info("c1")["notes"]
    assert notes == [
        {
            "from_department": "kosodate",
            "to_department": "nenkin",
            "officer_id": "o1",
            "note": "年金の記録を確認してください",
            "warm": False,
            "at": clock() - 10,
        },
        {
            "from_department": "nenkin",
            "to_department": "kaigo",
            "officer_id": "o2",
            "note": "",
            "warm": True,
            "at": clock(),
        },
    ]


def test_a_note_of_the_longest_length_is_taken_and_one_more_character_refused(router: Router) -> None:
    _connected(router, "o1", "c1")
    with pytest.raises(RouterError, match=f"longer than {MAX_NOTE_CHARS} characters"):
        router.transfer("c1", "nenkin", "あ" * (MAX_NOTE_CHARS + 1))
    router.transfer("c1", "nenkin", "あ" * MAX_NOTE_CHARS)
    assert router.call_info("c1")["notes"][0]["note"] == "あ" * MAX_NOTE_CHARS


def test_every_transfer_counts_out_of_one_department_and_into_the_other(router: Router) -> None:
    for n in (1, 2):
        _connected(router, f"o{n}", f"c{n}")
        router.transfer(f"c{n}", "nenkin")
    departments = router.stats()["departments"]
    assert departments["kosodate"]["transferred_out"] == 2
    assert (departments["nenkin"]["transferred_in"], departments["nenkin"]["offered"]) == (2, 2)


def test_an_officer_disconnected_in_wrap_up_has_handled_the_call_until_then(
    router: Router, clock: FakeClock
) -> None:
    _connected(router, "o1", "c1")
    clock.advance(100)
    router.call_finished("c1")
    clock.advance(7)  # 7 s into the 30 s wrap-up the console's connection drops
    out = router.officer_offline("o1")
    assert OfficerStateChanged("o1", OfficerState.OFFLINE, "disconnected") in out
    assert router.officer_info("o1")["reason"] == "disconnected"
    officer = router.stats()["officers"]["o1"]
    assert (officer["handled"], officer["handle_s"]) == (1, 107.0)


def test_a_break_taken_in_wrap_up_ends_the_handled_call_there(router: Router, clock: FakeClock) -> None:
    _connected(router, "o1", "c1")
    clock.advance(50)
    router.call_finished("c1")
    clock.advance(5)
    router.set_away("o1", "break")
    department = router.stats()["departments"]["kosodate"]
    assert (department["handled"], department["handle_s"]) == (1, 55.0)
    assert router.officer_reason("o1") == "break"


def test_going_away_while_ringing_rings_the_next_officer_and_says_why(
    router: Router, clock: FakeClock
) -> None:
    router.officer_online("o1", {"kosodate": P})
    clock.advance(1)
    router.officer_online("o2", {"kosodate": P})
    router.join("c1", "kosodate")  # o1, idle longest, rings
    out = router.set_away("o1", "meeting")
    assert OfficerStateChanged("o1", OfficerState.AWAY, "meeting") in out
    assert [(d.officer_id, d.call_id) for d in out if isinstance(d, Ring)] == [("o2", "c1")]
    assert router.officer_reason("o1") == "meeting"


def test_an_officer_cannot_decline_a_call_it_is_not_offered(router: Router) -> None:
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")  # rings o1
    router.join("c2", "kosodate")
    with pytest.raises(RouterError) as caught:
        router.decline("o1", "c2")
    assert str(caught.value) == "officer 'o1' is ringing and is not being offered call 'c2'"
    assert router.officer_info("o1")["ringing_call"] == "c1"


def test_a_decline_clears_the_count_of_unanswered_offers(router: Router, clock: FakeClock) -> None:
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    clock.advance(20)
    router.tick()  # no answer: one unanswered, o1 is available again and rung again
    assert router.officer_info("o1")["unanswered"] == 1
    router.decline("o1", "c1")
    assert router.officer_info("o1")["unanswered"] == 0


def test_only_an_officer_away_or_in_wrap_up_can_be_made_available(router: Router) -> None:
    _connected(router, "o1", "c1")
    with pytest.raises(RouterError) as caught:
        router.set_available("o1")
    assert str(caught.value) == (
        "officer 'o1' is in_call: only an officer who is away or in wrap-up can become available"
    )


@pytest.mark.parametrize(
    ("checklist", "message"),
    [
        ("nenkin", "a checklist is a list of department ids, not one string"),
        (["nenkin", "zeimu"], "checklist names unknown department 'zeimu'"),
        (["shiryo"], "checklist names department 'shiryo', which has no remote counter"),
        (["nenkin", "kaigo", "nenkin"], "checklist names a department twice"),
    ],
)
def test_a_checklist_that_cannot_be_is_refused_by_name(router: Router, checklist, message: str) -> None:
    router.join("c1", "okuyami")
    with pytest.raises(RouterError) as caught:
        router.set_checklist("c1", checklist)  # what an officer's console sends
    assert str(caught.value) == message
    assert [item["department"] for item in router.call_info("c1")["case"]["checklist"]] == ["nenkin", "kaigo"]


def test_a_new_case_lists_its_home_and_each_department_with_no_note_yet(router: Router) -> None:
    router.join("c1", "okuyami")
    assert router.call_info("c1")["case"] == {
        "home_department": "okuyami",
        "checklist": [
            {"department": "nenkin", "status": "pending", "outcome": None, "note": ""},
            {"department": "kaigo", "status": "pending", "outcome": None, "note": ""},
        ],
        "log": [],
    }


def test_a_department_says_why_it_refuses_callers(router: Router, clock: FakeClock) -> None:
    status = router.department_status("shiryo")
    assert (status.department, status.accepting, status.refusal) == ("shiryo", False, "not_remote")
    clock.set_local(dt.datetime(2026, 11, 25, 17, 5, tzinfo=TOKYO))  # open until 17:15, last join 17:00
    status = router.department_status("kosodate")
    assert (status.open, status.accepting, status.refusal) == (True, False, "last_join_passed")
    clock.set_local(dt.datetime(2026, 11, 25, 16, 59, tzinfo=TOKYO))
    status = router.department_status("kosodate")
    assert (status.accepting, status.refusal) == (True, None)


def test_after_a_warm_handover_the_first_officer_wraps_up_by_its_own_departments_rule(
    clock: FakeClock,
) -> None:
    router = Router(
        [make_department("kosodate", wrap_up_s=30), make_department("nenkin", wrap_up_s=0)], clock=clock
    )
    _connected(router, "o1", "c1")
    router.transfer("c1", "nenkin", warm=True)
    router.officer_online("o2", {"nenkin": P})
    router.accept("o2", "c1")  # the handover: o1's part of the call ends here
    info = router.officer_info("o1")
    assert (info["state"], info["call"]) == ("wrap_up", None)  # kosodate's 30 s, not nenkin's none
    assert router.officer_info("o2")["call"] == "c1"


@pytest.mark.parametrize(("officer_first_s", "first_rung"), [(0.0, "o1"), (1.0, "o2")])
def test_a_booked_officer_is_rung_first_for_any_time_given_it_but_none(
    clock: FakeClock, officer_first_s: float, first_rung: str
) -> None:
    router = Router([make_department("a", wrap_up_s=0, overflow_after_s=None)], clock=clock)
    router.officer_online("o1", {"a": P})  # idle longest: a walk-in would ring o1
    clock.advance(1)
    router.officer_online("o2", {"a": P})
    booking = AppointmentClaim("b1", clock(), "o2", officer_first_s=officer_first_s)
    out = router.join("c1", "a", kiosk_id="k1", appointment=booking)  # checked in at the slot's start
    assert [d.officer_id for d in out if isinstance(d, Ring)] == [first_rung]


def _overflow_router(clock: FakeClock) -> Router:
    router = Router(
        [make_department("a", wrap_up_s=0, overflow_after_s=60), make_department("b", wrap_up_s=0)],
        clock=clock,
    )
    router.officer_online("pa", {"a": P})
    router.join("c0", "a")
    router.accept("pa", "c0")  # a's own officer is busy
    return router


def test_a_secondary_officer_takes_a_caller_only_once_it_has_waited_the_overflow_time(
    clock: FakeClock,
) -> None:
    router = _overflow_router(clock)
    router.join("c1", "a")
    clock.advance(10)
    out = router.officer_online("s1", {"b": P, "a": SkillLevel.SECONDARY})
    assert [d for d in out if isinstance(d, Ring)] == []  # 10 s is not yet 60
    clock.advance(50)
    assert [(d.officer_id, d.call_id) for d in router.tick() if isinstance(d, Ring)] == [("s1", "c1")]


def test_an_overflowed_caller_behind_a_new_head_of_queue_caller_still_overflows(clock: FakeClock) -> None:
    router = _overflow_router(clock)
    router.join("c1", "a")
    clock.advance(65)
    router.tick()  # c1 has overflowed, but no secondary officer is online
    router.join("h1", "a", head=True)  # a caller sent back to the head, just now
    out = router.officer_online("s1", {"b": P, "a": SkillLevel.SECONDARY})
    assert [(d.officer_id, d.call_id) for d in out if isinstance(d, Ring)] == [("s1", "c1")]


def test_a_call_ended_the_moment_it_was_answered_counts_no_time(clock: FakeClock) -> None:
    router = Router([make_department("a", wrap_up_s=0)], clock=clock)
    router.officer_online("o1", {"a": P})
    router.join("c1", "a")
    router.accept("o1", "c1")
    router.call_finished("c1")  # the resident hung up at once
    assert router.stats()["departments"]["a"]["rolling_aht_s"] == 0.0
