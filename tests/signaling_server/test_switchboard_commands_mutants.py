"""What the command handlers hand on, pinned where ``./run-mutation commands`` found it unchecked: the
officer's outcome and note reaching a one-stop case, the caller's info reaching the router, a closed
department's next opening, the monitor's copy of a report, a shift change starting the officer afresh."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config.loader import load_config
from remote_call import protocol as p
from remote_call.protocol import ErrorCode, ProtocolError, Role
from signaling_server.auth import Principal

from .conftest import FakeClock, Harness, RecordingMonitor, kiosk, officer

TOKYO = ZoneInfo("Asia/Tokyo")
SHIFT = {"kosodate": "primary", "kenko-hoken": "primary"}


class CopyingMonitor(RecordingMonitor):
    """The health registry's side, keeping the reports themselves (what the registry stores)."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[tuple[str, Any]] = []

    def heartbeat(self, kiosk_id: str, msg: p.Heartbeat, now: float) -> None:
        super().heartbeat(kiosk_id, msg, now)
        self.reports.append((kiosk_id, msg))

    def call_quality(self, identity: str, role: str, msg: p.CallQuality, now: float) -> None:
        super().call_quality(identity, role, msg, now)
        self.reports.append((identity, msg))


def refused(harness: Harness, client: Any, message: p.Wire) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        harness.send(client, message)
    return caught.value


def connected(harness: Harness, department: str, skills: dict[str, str]) -> tuple[Any, Any, Any, Any, str]:
    """A kiosk and an officer serving ``skills`` in a call of ``department``, media up on both sides."""
    k, k_inbox = harness.connect(kiosk())
    o, o_inbox = harness.connect(officer(skills=skills))
    harness.send(k, p.RequestCall(department=department))
    call_id = o_inbox.only(p.CallOffer)[-1].call_id
    harness.send(o, p.AcceptCall(call_id=call_id))
    for client in (k, o):
        harness.send(client, p.MediaConnected(call_id=call_id))
    assert harness.board.calls[call_id].state is p.CallState.IN_CALL
    return k, k_inbox, o, o_inbox, call_id


def test_a_message_that_is_no_command_is_refused_by_its_type(harness: Harness) -> None:
    client, _ = harness.connect(kiosk())
    error = refused(harness, client, p.Pong(nonce=1))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.FORBIDDEN, "'pong' is not a message a client sends here", "pong",
    )  # fmt: skip


def test_the_officers_outcome_and_note_are_kept_in_the_one_stop_case(harness: Harness) -> None:
    _k, k_inbox, o, _, call_id = connected(harness, "okuyami", {"okuyami": "primary"})
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved", notes="死亡届受理済み"))
    case = harness.board.router.call_info(call_id)["case"]
    assert [(e["department"], e["outcome"], e["note"]) for e in case["log"]] == [
        ("okuyami", "resolved", "死亡届受理済み"),
    ]
    (moved,) = k_inbox.only(p.CallTransferred)
    assert moved.to_department == case["checklist"][0]["department"]


def test_an_empty_note_is_no_note_in_the_one_stop_case(harness: Harness) -> None:
    _k, _, o, _, call_id = connected(harness, "okuyami", {"okuyami": "primary"})
    harness.send(o, p.EndCall(call_id=call_id, outcome="visit_city_hall", notes=""))
    case = harness.board.router.call_info(call_id)["case"]
    assert [(e["outcome"], e["note"]) for e in case["log"]] == [("visit_city_hall", "")]


def test_the_callers_info_reaches_the_router(harness: Harness) -> None:
    k, _ = harness.connect(kiosk())
    caller = p.CallerInfo(procedure="juminhyo", language="vi")
    harness.send(k, p.RequestCall(department="kenchiku-shido", caller=caller))
    (call_id,) = harness.board.calls
    info = harness.board.router.call_info(call_id)["info"]
    assert info == caller.model_dump() and info["language"] == "vi"


def closed_harness(make_harness: Callable[..., Harness]) -> Harness:
    """A switchboard with the city's own opening hours (not the tests' always-open ones)."""
    harness = make_harness()
    config = load_config()
    harness.config = config.model_copy(update={"server": harness.config.server})
    harness.board = harness._build()
    return harness


def test_a_closed_department_is_refused_with_its_next_opening(
    make_harness: Callable[..., Harness], clock: FakeClock
) -> None:
    clock.now = dt.datetime(2026, 11, 25, 7, 0, tzinfo=TOKYO).timestamp()  # a Wednesday, before opening
    harness = closed_harness(make_harness)
    hours = next(d for d in harness.config.departments if d.id == "kosodate").hours.wed
    opens = hours[0].split("-")[0]
    k, inbox = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kosodate"))
    assert inbox.only(p.CallRefused) == [
        p.CallRefused(department="kosodate", reason="closed", next_open=f"2026-11-25T{opens}+09:00")
    ]
    assert harness.board.calls == {}


def test_heartbeats_and_quality_reports_reach_the_monitor_whole(harness: Harness) -> None:
    harness.monitor = CopyingMonitor()
    harness.board = harness._build()
    k, _, o, _, call_id = harness.call_in_progress()
    heartbeat = p.Heartbeat(
        app_version="1.2", uptime_s=7, os="Linux", cpu_percent=3, memory_percent=4, disk_percent=5
    )
    harness.send(k, heartbeat)
    quality = p.CallQuality(call_id=call_id, rtt_ms=42)
    harness.send(o, quality)
    assert harness.monitor.reports == [("kiosk-ueda", heartbeat), ("hanako", quality)]


def test_a_refused_sync_of_a_stored_call_names_the_message(harness: Harness) -> None:
    _k, _, o, _, call_id = harness.call_in_progress()
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved"))
    assert call_id not in harness.board.calls
    other, _ = harness.connect(kiosk("kiosk-tonan"))
    error = refused(harness, other, p.SyncCall(call_id=call_id))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.NOT_FOUND, f"no call {call_id!r} of yours", "sync_call",
    )  # fmt: skip


def test_a_shift_change_starts_the_officer_afresh(harness: Harness, clock: FakeClock) -> None:
    """The officer goes offline and comes back available for the new departments: its wrap-up ends and
    it is idle from the change (behind officers idle longer)."""
    _k, _, o, o_inbox, call_id = connected(harness, "kosodate", SHIFT)
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved"))
    assert harness.board.router.officer_info("hanako")["state"] == "wrap_up"
    o_inbox.take()
    clock.advance(5)
    harness.send(o, p.SetShift(departments=["kenko-hoken"]))
    assert [(m.state, m.reason) for m in o_inbox.only(p.OfficerState)] == [
        ("offline", "disconnected"),
        ("available", None),
    ]
    info = harness.board.router.officer_info("hanako")
    assert (info["state"], info["skills"], info["idle_since"]) == (
        "available", {"kenko-hoken": "primary"}, clock(),
    )  # fmt: skip


def test_an_officer_away_for_not_answering_stays_away_through_a_shift_change(
    harness: Harness, clock: FakeClock
) -> None:
    """Away after unanswered rings (no_answer, a reason only the router sets): a shift change keeps the
    officer away, as a break, instead of failing half-way and leaving it available."""
    o, o_inbox = harness.connect(officer(skills=SHIFT))
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kosodate"))
    ring_s = next(d for d in harness.config.departments if d.id == "kosodate").ring_timeout_s
    for _ in range(harness.config.server.max_unanswered_offers):
        harness.advance(ring_s + 1)
    router = harness.board.router
    assert (router.officer_state("hanako").value, router.officer_reason("hanako")) == ("away", "no_answer")
    harness.send(o, p.SetShift(departments=["kenko-hoken"]))
    assert (router.officer_state("hanako").value, router.officer_reason("hanako")) == ("away", "break")
    assert o_inbox.only(p.OfficerState)[-1] == p.OfficerState(state="away", reason="break")


# ------------------------------------------------------------------ a business (業者) by invitation

INVITATION = p.BusinessInfo(
    invitation_id="inv-1",
    department="kosodate",
    company="盛岡設計事務所",
    contact_name="設計 花子",
    valid_from="2026-11-25T09:00:00+09:00",
    valid_until="2026-11-25T12:00:00+09:00",
)


def business(info: p.BusinessInfo | None = INVITATION) -> Principal:
    return Principal(Role.BUSINESS, "biz-inv-1", "盛岡設計事務所", {}, "session-of-biz", business=info)


def test_a_business_calls_only_its_invitations_department(harness: Harness) -> None:
    b, _ = harness.connect(business())
    error = refused(harness, b, p.RequestCall(department="kenko-hoken"))
    assert (error.code, error.about) == (ErrorCode.FORBIDDEN, "request_call")
    assert error.detail == "this invitation is for department 'kosodate', not 'kenko-hoken'"
    assert harness.board.calls == {}
    harness.send(b, p.RequestCall(department="kosodate"))
    ((call_id, call),) = harness.board.calls.items()
    record = harness.store.call(call_id)
    assert record is not None and record.business is not None
    assert p.BusinessInfo.model_validate_json(record.business) == INVITATION
    assert (call.record.kiosk_id, call.record.department) == ("biz-inv-1", "kosodate")


def test_a_business_without_an_invitation_calls_nowhere(harness: Harness) -> None:
    b, _ = harness.connect(business(None))
    error = refused(harness, b, p.RequestCall(department="kosodate"))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.FORBIDDEN, "this invitation is for department 'none', not 'kosodate'", "request_call",
    )  # fmt: skip


def business_call(harness: Harness, b: Any, o: Any) -> str:
    harness.send(b, p.RequestCall(department="kosodate"))
    call_id = next(c for c in harness.board.calls)
    harness.send(o, p.AcceptCall(call_id=call_id))
    for client in (b, o):
        harness.send(client, p.MediaConnected(call_id=call_id))
    return call_id


def test_a_business_whose_call_was_completed_may_not_call_again(harness: Harness) -> None:
    b, _ = harness.connect(business())
    o, _ = harness.connect(officer())
    harness.send(b, p.RequestCall(department="kosodate"))
    (waiting,) = harness.board.calls
    harness.send(b, p.CancelCall(call_id=waiting))  # cancelled in the queue: it may ask again
    call_id = business_call(harness, b, o)
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved"))
    error = refused(harness, b, p.RequestCall(department="kosodate"))
    assert (error.code, error.about) == (ErrorCode.FORBIDDEN, "request_call")
    assert error.detail == (
        "this business session is over: its call has ended; ask the division for a new invitation"
    )
    assert harness.board.calls == {}


# ------------------------------------------------------------------ an interpreter, a third party

CANDIDATE = "candidate:1 1 udp 2130706431 192.0.2.10 50210 typ host"


def interpreter(identity: str = "maria") -> Principal:
    return Principal(Role.INTERPRETER, identity, identity, {"tl": "primary"}, f"session-of-{identity}")


def with_interpreter(harness: Harness) -> tuple[Any, Any, Any, Any, Any, Any, str]:
    """A call in progress that maria interprets: (kiosk, inbox, officer, inbox, maria, inbox, call id)."""
    k, k_inbox, o, o_inbox, call_id = harness.call_in_progress()
    m, m_inbox = harness.connect(interpreter())
    harness.send(o, p.RequestInterpreter(call_id=call_id, language="tl"))
    harness.send(m, p.AcceptInterpretation(call_id=call_id))
    for inbox in (k_inbox, o_inbox, m_inbox):
        inbox.take()
    return k, k_inbox, o, o_inbox, m, m_inbox, call_id


def test_an_interpreters_status_is_the_pools(harness: Harness) -> None:
    m, _ = harness.connect(interpreter())
    harness.send(m, p.SetStatus(status="away", reason="meeting"))
    pool = harness.board.conference.pool
    assert (pool.state("maria").value, pool.reason("maria")) == ("away", "meeting")
    harness.send(m, p.SetStatus(status="available"))
    assert (pool.state("maria").value, pool.reason("maria")) == ("available", None)
    assert harness.board.router.officer_reason("maria") is None  # never an officer


def test_messages_naming_a_peer_go_between_that_pair_only(harness: Harness) -> None:
    _k, k_inbox, o, o_inbox, m, m_inbox, call_id = with_interpreter(harness)
    harness.send(m, p.IceCandidate(call_id=call_id, candidate=CANDIDATE, peer="caller"))
    assert [(x.type, x.peer) for x in k_inbox.take()] == [("ice_candidate", "interpreter")]
    harness.send(o, p.IceCandidate(call_id=call_id, candidate=CANDIDATE, peer="interpreter"))
    assert [(x.type, x.peer) for x in m_inbox.take()] == [("ice_candidate", "officer")]
    assert o_inbox.texts == [] and k_inbox.texts == []
    harness.send(o, p.RestartMedia(call_id=call_id, peer="interpreter"))  # the officer↔interpreter pair
    assert k_inbox.texts == [] and o_inbox.types() == ["call_connecting"] == m_inbox.types()
    assert harness.board.calls[call_id].state is p.CallState.IN_CALL
    harness.send(m, p.MediaConnected(call_id=call_id, peer="caller"))
    harness.send(m, p.SyncCall(call_id=call_id))
    assert m_inbox.only(p.CallStarted) == [p.CallStarted(call_id=call_id)]
    assert k_inbox.texts == []


def test_a_pair_with_the_interpreter_coming_up_is_not_the_calls_media(harness: Harness) -> None:
    k, _, o, _, _m, _, call_id = with_interpreter(harness)
    harness.send(k, p.RestartMedia(call_id=call_id))  # the caller↔officer pair rebuilds
    assert harness.board.calls[call_id].state is p.CallState.CONNECTING
    harness.send(o, p.MediaConnected(call_id=call_id, peer="interpreter"))
    harness.send(k, p.MediaConnected(call_id=call_id))
    assert harness.board.calls[call_id].state is p.CallState.CONNECTING  # the officer's side is not up yet
    harness.send(o, p.MediaConnected(call_id=call_id))
    assert harness.board.calls[call_id].state is p.CallState.IN_CALL


def test_only_the_interpreter_in_the_call_reports_its_quality(harness: Harness) -> None:
    _k, _, _o, _, m, _, call_id = with_interpreter(harness)
    harness.send(m, p.CallQuality(call_id=call_id, rtt_ms=30))
    assert harness.monitor.calls[-1] == ("call_quality", ("maria", "interpreter", harness.clock()))
    jose, _ = harness.connect(interpreter("jose"))
    error = refused(harness, jose, p.CallQuality(call_id=call_id, rtt_ms=30))
    assert (error.code, error.about) == (ErrorCode.NOT_FOUND, "call_quality")


def test_an_interpreter_leaves_the_call_it_is_in_only(harness: Harness) -> None:
    _k, k_inbox, _o, o_inbox, m, _m_inbox, call_id = with_interpreter(harness)
    jose, _ = harness.connect(interpreter("jose"))
    error = refused(harness, jose, p.LeaveCall(call_id=call_id))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.NOT_FOUND, f"you are not in call {call_id!r}", "leave_call",
    )  # fmt: skip
    harness.send(m, p.LeaveCall(call_id=call_id))
    assert harness.board.conference.pool.state("maria").value == "wrap_up"
    assert harness.board.conference.pool.session_of(call_id) is None
    assert "party_left" in k_inbox.types() and "party_left" in o_inbox.types()  # both parties are told
    assert harness.board.calls[call_id].state is p.CallState.IN_CALL  # the call goes on


# ------------------------------------------------------------------ the outcome after the resident hung up


def hung_up(harness: Harness) -> tuple[Any, Any, str]:
    k, _, o, _, call_id = harness.call_in_progress()
    harness.send(k, p.EndCall(call_id=call_id))
    assert call_id not in harness.board.calls
    return k, o, call_id


def test_a_late_outcome_is_taken_until_exactly_an_hour_and_audited(
    harness: Harness, clock: FakeClock
) -> None:
    _k, o, call_id = hung_up(harness)
    clock.advance(3600)  # LATE_OUTCOME_S: still in time
    harness.send(o, p.EndCall(call_id=call_id, outcome="appointment_made"))
    (entry,) = harness.board.audit.entries(action="call_outcome")
    assert (entry.actor, entry.target, entry.details) == ("hanako", call_id, {"outcome": "appointment_made"})
    error = refused(harness, o, p.EndCall(call_id=call_id, outcome="resolved"))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.CONFLICT, f"call {call_id} has its outcome already", "end_call",
    )  # fmt: skip


def test_a_late_outcome_refused_names_why(harness: Harness, clock: FakeClock) -> None:
    _k, o, call_id = hung_up(harness)
    taro, _ = harness.connect(officer("taro"))
    error = refused(harness, taro, p.EndCall(call_id=call_id, outcome="resolved"))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.NOT_FOUND, f"no call {call_id!r} of yours", "end_call",
    )  # fmt: skip
    clock.advance(3600.5)
    error = refused(harness, o, p.EndCall(call_id=call_id, outcome="resolved"))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.CONFLICT, f"call {call_id} ended over 60 minutes ago: its outcome is closed", "end_call",
    )  # fmt: skip
    assert harness.board.audit.entries(action="call_outcome") == []


def test_a_guest_asking_after_a_call_it_is_not_in_hears_it_ended(harness: Harness) -> None:
    guest, inbox = harness.connect(Principal(Role.GUEST, "guest-1", "家族", {}, "session-of-guest-1"))
    inbox.take()  # its welcome and where it stands (no call)
    harness.send(guest, p.SyncCall(call_id="c404"))
    assert inbox.only(p.CallEnded) == [p.CallEnded(call_id="c404", reason=p.EndReason.COMPLETED)]


@pytest.mark.parametrize(
    "make",
    [
        lambda c: p.IceCandidate(call_id=c, candidate=CANDIDATE, peer="guest"),
        lambda c: p.MediaConnected(call_id=c, peer="guest"),
        lambda c: p.RestartMedia(call_id=c, peer="guest"),
    ],
)
def test_a_message_for_a_guest_goes_to_the_guests_room(harness: Harness, make: Any) -> None:
    _k, k_inbox, o, _, call_id = harness.call_in_progress()
    message = make(call_id)
    error = refused(harness, o, message)  # no guest in this call
    assert (error.code, error.detail, error.about) == (
        ErrorCode.NOT_FOUND, f"no call {call_id!r} with a guest of yours", message.type,
    )  # fmt: skip
    assert k_inbox.texts == [] and harness.board.calls[call_id].state is p.CallState.IN_CALL


def test_another_business_being_done_does_not_end_this_ones_session(harness: Harness) -> None:
    other_invitation = INVITATION.model_copy(update={"invitation_id": "inv-2"})
    other, _ = harness.connect(
        Principal(Role.BUSINESS, "biz-inv-2", "別の会社", {}, "session-of-biz-2", business=other_invitation)
    )
    o, _ = harness.connect(officer())
    call_id = business_call(harness, other, o)
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved"))
    harness.advance(60)  # the officer's wrap-up is over
    b, _ = harness.connect(business())
    harness.send(b, p.RequestCall(department="kosodate"))
    assert [c.record.kiosk_id for c in harness.board.calls.values()] == ["biz-inv-1"]


# ------------------------------------------------------------------ a resident's rating


def test_every_refused_rating_names_why_and_the_message(harness: Harness, clock: FakeClock) -> None:
    k, _, _o, _, call_id = harness.call_in_progress()
    rate = p.RateCall(call_id=call_id, rating=5)
    expected = [(ErrorCode.CONFLICT, f"call {call_id} has not ended yet", "rate_call")]
    error = refused(harness, k, rate)
    seen = [(error.code, error.detail, error.about)]
    harness.send(k, p.EndCall(call_id=call_id))
    other, _ = harness.connect(kiosk("kiosk-tonan"))
    error = refused(harness, other, rate)
    seen.append((error.code, error.detail, error.about))
    expected.append((ErrorCode.NOT_FOUND, f"no call {call_id!r} of yours", "rate_call"))
    clock.advance(600.5)  # RATING_WINDOW_S and a moment
    error = refused(harness, k, rate)
    seen.append((error.code, error.detail, error.about))
    expected.append(
        (ErrorCode.CONFLICT, f"call {call_id} ended over 10 minutes ago: too late to rate", "rate_call")
    )
    assert seen == expected


def test_a_call_never_answered_has_nothing_to_rate(harness: Harness) -> None:
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kenchiku-shido"))  # nobody serves it
    (call_id,) = harness.board.calls
    harness.send(k, p.CancelCall(call_id=call_id))
    error = refused(harness, k, p.RateCall(call_id=call_id, rating=3))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.CONFLICT, f"call {call_id} was never answered: there is nothing to rate", "rate_call",
    )  # fmt: skip


def test_a_rating_at_the_last_second_counts_once_and_is_saved_with_the_queue(
    harness: Harness, clock: FakeClock
) -> None:
    k, _, _o, _, call_id = harness.call_in_progress()
    harness.send(k, p.EndCall(call_id=call_id))
    harness.advance(60)  # wrap-up over: the queue is saved and nothing is left to save
    clock.advance(600 - 60)  # exactly RATING_WINDOW_S after the end: still in time
    harness.send(k, p.RateCall(call_id=call_id, rating=3))
    error = refused(harness, k, p.RateCall(call_id=call_id, rating=1))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.CONFLICT, f"call {call_id} has been rated already", "rate_call",
    )  # fmt: skip
    harness.board.tick()  # the day's counters go out with the next saved queue
    saved = harness.store.load_queue()
    assert saved is not None and saved["today"]["departments"]["kosodate"]["ratings"] == 1


@pytest.mark.parametrize("principal", [kiosk(), business()])
def test_a_pin_where_no_appointments_are_kept_is_refused(harness: Harness, principal: Principal) -> None:
    client, _ = harness.connect(principal)
    error = refused(harness, client, p.RequestCall(department="kosodate", appointment_pin="123456"))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.FORBIDDEN, "appointments are checked in at a kiosk", "request_call",
    )  # fmt: skip
    assert harness.board.calls == {}


def test_an_interpreter_asked_for_up_front_is_offered_once_the_officer_answers(harness: Harness) -> None:
    _m, m_inbox = harness.connect(interpreter())
    k, _ = harness.connect(kiosk())
    o, o_inbox = harness.connect(officer())
    harness.send(k, p.RequestCall(department="kosodate", interpreter_language="tl"))
    (offer,) = o_inbox.only(p.CallOffer)
    assert m_inbox.only(p.InterpretationOffer) == []  # nobody has answered yet
    harness.send(o, p.AcceptCall(call_id=offer.call_id))
    (asked,) = m_inbox.only(p.InterpretationOffer)
    assert (asked.call_id, asked.language) == (offer.call_id, "tl")
