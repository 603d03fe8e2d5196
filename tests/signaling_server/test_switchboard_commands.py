"""The command table: who may send what, the one place router refusals become errors, the relay."""

from __future__ import annotations

import pytest

from remote_call import protocol as p
from remote_call.protocol import ErrorCode, ProtocolError, Role
from signaling_server.switchboard.commands import Commands

from .conftest import kiosk, officer, supervisor

CANDIDATE = "candidate:1 1 udp 2130706431 192.0.2.10 50210 typ host"


def refused(harness, client, message: p.Wire) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        harness.send(client, message)
    return caught.value


@pytest.mark.parametrize(
    ("principal", "message"),
    [
        (kiosk(), p.AcceptCall(call_id="c1")),
        (kiosk(), p.SetStatus(status="away", reason="break")),
        (officer(), p.RequestCall(department="kosodate")),
        (officer(), p.ActionResult(action_id="a1", ok=True)),
        (supervisor(), p.IceCandidate(call_id="c1", candidate=CANDIDATE)),
        (supervisor(), p.EndCall(call_id="c1")),
    ],
)
def test_a_role_not_in_the_table_is_refused(harness, principal, message) -> None:
    client, _ = harness.connect(principal)
    error = refused(harness, client, message)
    assert error.code is ErrorCode.FORBIDDEN and error.about == message.type
    assert f"a {principal.role.value} may not send" in error.detail


def test_a_message_that_is_not_a_command_is_refused(harness) -> None:
    client, _ = harness.connect(kiosk())
    error = refused(harness, client, p.Pong(nonce=1))
    assert (error.code, error.about) == (ErrorCode.FORBIDDEN, "pong")


def test_every_client_message_but_hello_has_one_entry(harness) -> None:
    commands: Commands = harness.board._commands
    client_types = {m for m in p.ClientMessage.__args__ if m is not p.Hello}
    assert set(commands.table) == client_types
    assert commands.table[p.Ping][0] == frozenset(Role)


def test_a_router_refusal_becomes_a_conflict(harness) -> None:
    _k, _, o, _, _call_id = harness.call_in_progress()
    error = refused(harness, o, p.SetStatus(status="away", reason="break"))  # in a call: end it first
    assert (error.code, error.about) == (ErrorCode.CONFLICT, "set_status")
    assert "cannot go away now" in error.detail


def test_relayed_text_reaches_only_the_peer_unchanged(harness) -> None:
    k, k_inbox, o, o_inbox, call_id = harness.call_in_progress()
    # Field order and spacing as the sender wrote them: forwarded as received, not re-encoded.
    raw = f'{{"sdp_mline_index": 0, "candidate": "{CANDIDATE}", "call_id": "{call_id}", '
    raw += '"type": "ice_candidate"}'
    harness.board.handle(k, p.parse_message(raw), raw)
    assert o_inbox.texts[-1] == raw and k_inbox.types() == []
    other, other_inbox = harness.connect(kiosk("kiosk-tonan"))
    error = refused(harness, other, p.IceCandidate(call_id=call_id, candidate=CANDIDATE))
    assert error.code is ErrorCode.NOT_FOUND and other_inbox.types() == ["welcome"]
    harness.send(o, p.IceCandidate(call_id=call_id, candidate=CANDIDATE))
    assert k_inbox.types() == ["ice_candidate"]


def test_no_relay_before_the_call_is_connecting(harness) -> None:
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kenchiku-shido"))  # nobody serves it: it waits
    (call_id,) = harness.board.calls
    error = refused(harness, k, p.IceCandidate(call_id=call_id, candidate=CANDIDATE))
    assert error.code is ErrorCode.CONFLICT and "is queued" in error.detail


def test_a_second_request_is_refused_and_told_where_the_first_stands(harness) -> None:
    k, inbox = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kenchiku-shido"))
    (call_id,) = harness.board.calls
    inbox.take()
    error = refused(harness, k, p.RequestCall(department="kosodate"))
    assert error.code is ErrorCode.CONFLICT
    assert [(m.call_id, m.position) for m in inbox.only(p.Queued)] == [(call_id, 1)]
    assert list(harness.board.calls) == [call_id]


def test_only_the_officer_it_rings_for_may_accept_or_decline(harness) -> None:
    k, _ = harness.connect(kiosk())
    o, o_inbox = harness.connect(officer())
    other, _ = harness.connect(officer("kenji", skills={"kenko-hoken": "primary"}))
    harness.send(k, p.RequestCall(department="kosodate"))
    (offer,) = o_inbox.only(p.CallOffer)
    for message in (p.AcceptCall(call_id=offer.call_id), p.DeclineCall(call_id=offer.call_id)):
        assert refused(harness, other, message).code is ErrorCode.NOT_FOUND
    harness.send(o, p.AcceptCall(call_id=offer.call_id))
    assert harness.board.calls[offer.call_id].record.officer == "hanako"


def test_heartbeats_and_quality_go_to_the_monitor_stamped_by_the_clock(harness) -> None:
    k, _, _o, _, call_id = harness.call_in_progress()
    heartbeat = p.Heartbeat(
        app_version="1", uptime_s=1, os="Linux", cpu_percent=1, memory_percent=1, disk_percent=1
    )
    harness.send(k, heartbeat)
    harness.send(k, p.CallQuality(call_id=call_id, rtt_ms=20))
    assert [c for c in harness.monitor.calls if c[0] in ("heartbeat", "call_quality")] == [
        ("heartbeat", ("kiosk-ueda", harness.clock())),
        ("call_quality", ("kiosk-ueda", "kiosk", harness.clock())),
    ]
    error = refused(harness, k, p.CallQuality(call_id="not-mine", rtt_ms=20))
    assert error.code is ErrorCode.NOT_FOUND


# ------------------------------------------------------------------ asking for a call


def test_a_request_is_recorded_queued_and_announced(harness) -> None:
    k, _ = harness.connect(kiosk())
    caller = p.CallerInfo(procedure="juminhyo", language="en")
    harness.send(k, p.RequestCall(department="kenchiku-shido", caller=caller))
    ((call_id, call),) = harness.board.calls.items()
    assert len(call_id) == 16 and int(call_id, 16) >= 0
    record = harness.store.call(call_id)
    assert record is not None
    assert (record.kiosk_id, record.department, record.procedure, record.language, record.state) == (
        "kiosk-ueda", "kenchiku-shido", "juminhyo", "en", "queued",
    )  # fmt: skip
    assert record.created_at == harness.clock() and call.caller == caller
    assert ("call_queued", {"call_id": call_id, "department": "kenchiku-shido"}) in harness.events
    assert k.calls == {call_id}


def test_an_unknown_department_is_refused_by_name(harness) -> None:
    k, inbox = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="no-such-ka"))
    assert inbox.only(p.CallRefused) == [p.CallRefused(department="no-such-ka", reason="unknown_department")]
    assert harness.board.calls == {}


def test_a_full_queue_refuses_with_the_routers_reason(harness) -> None:
    for i in range(30):  # max_queue: nobody serves this department, so every caller waits
        k, _ = harness.connect(kiosk(f"kiosk-{i}"))
        harness.send(k, p.RequestCall(department="kenchiku-shido"))
    k, inbox = harness.connect(kiosk("kiosk-late"))
    harness.send(k, p.RequestCall(department="kenchiku-shido"))
    assert inbox.only(p.CallRefused) == [
        p.CallRefused(department="kenchiku-shido", reason="queue_full", next_open=None)
    ]
    assert len(harness.board.calls) == 30


def test_a_second_request_names_the_conflict(harness) -> None:
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kenchiku-shido"))
    error = refused(harness, k, p.RequestCall(department="kosodate"))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.CONFLICT, "this kiosk already has a call in progress", "request_call",
    )  # fmt: skip


# ------------------------------------------------------------------ where does my call stand?


def test_sync_on_a_live_call_resumes_its_own_parties_only(harness) -> None:
    k, k_inbox, o, o_inbox, call_id = harness.call_in_progress()
    harness.send(k, p.SyncCall(call_id=call_id))
    harness.send(o, p.SyncCall(call_id=call_id))
    assert "call_started" in k_inbox.types() and "call_started" in o_inbox.types()
    jiro, jiro_inbox = harness.connect(officer("jiro"))
    harness.send(jiro, p.SyncCall(call_id=call_id))  # someone else has it now
    assert jiro_inbox.only(p.CallEnded) == [p.CallEnded(call_id=call_id, reason=p.EndReason.REQUEUED)]
    other, _ = harness.connect(kiosk("kiosk-tonan"))
    error = refused(harness, other, p.SyncCall(call_id=call_id))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.NOT_FOUND, f"no call {call_id!r} of yours", "sync_call",
    )  # fmt: skip


def test_the_sync_after_a_reconnection_is_answered_by_the_welcome_s_resume_once(harness) -> None:
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kosodate"))
    call_id = next(iter(k.calls))
    harness.board.detach(k)
    back, inbox = harness.connect(kiosk())  # reconnected: told where its call stands after the welcome
    assert [q.call_id for q in inbox.only(p.Queued)] == [call_id]
    inbox.take()
    harness.send(back, p.SyncCall(call_id=call_id))  # what every client sends after it reconnects
    assert inbox.take() == []  # not told twice
    harness.send(back, p.SyncCall(call_id=call_id))  # asked again later: answered
    assert [q.call_id for q in inbox.only(p.Queued)] == [call_id]


def test_sync_on_an_ended_call_tells_how_it_ended(harness) -> None:
    k, k_inbox, o, o_inbox, call_id = harness.call_in_progress()
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved"))
    assert call_id not in harness.board.calls or harness.board.calls[call_id].state is p.CallState.ENDED
    for client, inbox in ((k, k_inbox), (o, o_inbox)):
        inbox.take()
        harness.send(client, p.SyncCall(call_id=call_id))
        assert inbox.only(p.CallEnded) == [p.CallEnded(call_id=call_id, reason=p.EndReason.COMPLETED)]
    jiro, jiro_inbox = harness.connect(officer("jiro"))
    harness.send(jiro, p.SyncCall(call_id=call_id))
    assert jiro_inbox.only(p.CallEnded) == [p.CallEnded(call_id=call_id, reason=p.EndReason.REQUEUED)]
    other, _ = harness.connect(kiosk("kiosk-tonan"))
    for client, unknown in ((other, call_id), (k, "no-such-call")):
        error = refused(harness, client, p.SyncCall(call_id=unknown))
        assert (error.code, error.detail) == (ErrorCode.NOT_FOUND, f"no call {unknown!r} of yours")


def test_sync_on_a_call_still_waiting_in_the_store_is_not_an_ending(harness) -> None:
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kenchiku-shido"))
    (call_id,) = harness.board.calls
    harness.board.calls.pop(call_id)  # as after a restart that has not restored it yet
    assert refused(harness, k, p.SyncCall(call_id=call_id)).code is ErrorCode.NOT_FOUND


# ------------------------------------------------------------------ the audit trail and the monitor


def test_a_case_event_is_audited_with_its_identifiers_only(harness) -> None:
    _k, _, o, _, call_id = harness.call_in_progress()
    sha = "ab" * 32
    event = p.CaseEvent(
        call_id=call_id, action="document_saved", doc_id="scan1", sha256=sha, size=5, label="住民票"
    )
    harness.send(o, event)
    (entry,) = harness.board.audit.entries(action="document_saved")
    assert (entry.actor, entry.target) == ("hanako", call_id)
    assert entry.details == {
        "kiosk": "kiosk-ueda",
        "doc_id": "scan1",
        "sha256": sha,
        "size": 5,
        "label": "住民票",
    }
    jiro, _ = harness.connect(officer("jiro"))
    assert refused(harness, jiro, event).code is ErrorCode.NOT_FOUND
    assert len(harness.board.audit.entries(action="document_saved")) == 1


def test_a_remote_actions_result_goes_to_the_monitor(harness) -> None:
    k, _ = harness.connect(kiosk())
    harness.send(k, p.ActionResult(action_id="a1", ok=True))
    assert ("action_result", ("kiosk-ueda", "a1")) in harness.monitor.calls


# ------------------------------------------------------------------ an officer's status and shift


def test_away_keeps_its_reason_or_is_a_break_and_available_rings_again(harness) -> None:
    o, inbox = harness.connect(officer())
    router = harness.board.router
    harness.send(o, p.SetStatus(status="away", reason="meeting"))
    assert (router.officer_state("hanako").value, router.officer_reason("hanako")) == ("away", "meeting")
    harness.send(o, p.SetStatus(status="away"))
    assert router.officer_reason("hanako") == "break"
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kosodate"))
    assert inbox.only(p.CallOffer) == []
    harness.send(o, p.SetStatus(status="available"))
    assert len(inbox.only(p.CallOffer)) == 1


def test_a_shift_outside_ones_skills_is_refused_by_name(harness) -> None:
    o, _ = harness.connect(officer(skills={"kosodate": "primary", "kenko-hoken": "secondary"}))
    error = refused(harness, o, p.SetShift(departments=["kosodate", "zeimu", "no-such-ka"]))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.FORBIDDEN, "you do not serve zeimu, no-such-ka", "set_shift",
    )  # fmt: skip


def test_a_shift_changes_between_calls_only_and_an_away_officer_stays_away(harness) -> None:
    skills = {"kosodate": "primary", "kenko-hoken": "primary"}
    o, o_inbox = harness.connect(officer(skills=skills))
    harness.send(o, p.SetStatus(status="away", reason="counter"))
    harness.send(o, p.SetShift(departments=["kenko-hoken"]))
    router = harness.board.router
    assert (router.officer_state("hanako").value, router.officer_reason("hanako")) == ("away", "counter")
    harness.send(o, p.SetStatus(status="available"))
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kosodate"))  # no longer served this shift
    assert o_inbox.only(p.CallOffer) == []
    k2, _ = harness.connect(kiosk("kiosk-tonan"))
    harness.send(k2, p.RequestCall(department="kenko-hoken"))
    (offer,) = o_inbox.only(p.CallOffer)
    error = refused(harness, o, p.SetShift(departments=["kosodate"]))  # ringing
    assert (error.code, error.detail, error.about) == (
        ErrorCode.CONFLICT, "change the shift's departments between calls", "set_shift",
    )  # fmt: skip
    harness.send(o, p.AcceptCall(call_id=offer.call_id))
    assert refused(harness, o, p.SetShift(departments=["kosodate"])).code is ErrorCode.CONFLICT  # in a call


# ------------------------------------------------------------------ ringing, transfers, restarts, endings


def test_a_stranger_cannot_decline_and_a_declined_call_is_offered_again(harness) -> None:
    k, _ = harness.connect(kiosk())
    o, o_inbox = harness.connect(officer())
    harness.send(k, p.RequestCall(department="kosodate"))
    (offer,) = o_inbox.only(p.CallOffer)
    jiro, _ = harness.connect(officer("jiro", skills={"kenko-hoken": "primary"}))
    error = refused(harness, jiro, p.DeclineCall(call_id=offer.call_id))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.NOT_FOUND, f"no call {offer.call_id!r} is ringing for you", "decline_call",
    )  # fmt: skip
    harness.send(o, p.DeclineCall(call_id=offer.call_id))
    assert [m.call_id for m in o_inbox.only(p.CallOffer)] == [offer.call_id] * 2  # nobody else serves it


def test_only_a_call_in_progress_is_transferred_and_the_transfer_is_audited(harness) -> None:
    k, _ = harness.connect(kiosk())
    o, o_inbox = harness.connect(officer())
    harness.send(k, p.RequestCall(department="kosodate"))
    (offer,) = o_inbox.only(p.CallOffer)
    harness.send(o, p.AcceptCall(call_id=offer.call_id))
    transfer = p.TransferCall(call_id=offer.call_id, to_department="kenko-hoken", warm=True)
    error = refused(harness, o, transfer)  # connecting, not yet in the call
    assert (error.code, error.detail, error.about) == (
        ErrorCode.CONFLICT, "only a call in progress can be transferred", "transfer_call",
    )  # fmt: skip
    for client in (k, o):
        harness.send(client, p.MediaConnected(call_id=offer.call_id))
    harness.send(o, transfer)
    (entry,) = harness.board.audit.entries(action="call_transferred")
    assert (entry.actor, entry.target, entry.details) == (
        "hanako", offer.call_id, {"to": "kenko-hoken", "warm": True},
    )  # fmt: skip


def test_a_restart_needs_media_and_one_restart_serves_both_parties_for_3_s(harness) -> None:
    k, _, o, o_inbox, call_id = harness.call_in_progress()
    harness.send(k, p.RestartMedia(call_id=call_id))
    assert len(o_inbox.only(p.CallConnecting)) == 1  # the call is connecting again
    harness.advance(3)
    harness.send(o, p.RestartMedia(call_id=call_id))  # 3 s on: a new restart
    assert len(o_inbox.only(p.CallConnecting)) == 2
    harness.advance(2.9)
    harness.send(k, p.RestartMedia(call_id=call_id))  # within 3 s: served by the last one
    assert len(o_inbox.only(p.CallConnecting)) == 2
    waiting, _ = harness.connect(kiosk("kiosk-tonan"))
    harness.send(waiting, p.RequestCall(department="kenchiku-shido"))
    queued_id = next(c for c in harness.board.calls if c != call_id)
    error = refused(harness, waiting, p.RestartMedia(call_id=queued_id))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.CONFLICT, f"call {queued_id} has no media to restart", "restart_media",
    )  # fmt: skip


def test_an_in_call_restart_is_never_debounced(harness) -> None:
    k, _, o, o_inbox, call_id = harness.call_in_progress()
    harness.send(k, p.RestartMedia(call_id=call_id))
    for client in (k, o):
        harness.send(client, p.MediaConnected(call_id=call_id))
    assert harness.board.calls[call_id].state is p.CallState.IN_CALL
    harness.send(o, p.RestartMedia(call_id=call_id))  # in the call again: a new failure, a new restart
    assert len(o_inbox.only(p.CallConnecting)) == 2


def test_ending_a_waiting_call_cancels_it_and_an_officer_records_the_outcome(harness) -> None:
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kenchiku-shido"))
    (waiting,) = harness.board.calls
    harness.send(k, p.EndCall(call_id=waiting))
    record = harness.store.call(waiting)
    assert record is not None and (record.state, record.end_reason) == ("ended", "cancelled")
    _k, _, o, _, call_id = harness.call_in_progress()
    harness.send(o, p.EndCall(call_id=call_id, outcome="appointment_made", notes="来週火曜"))
    record = harness.store.call(call_id)
    assert record is not None and (record.outcome, record.notes, record.end_reason) == (
        "appointment_made", "来週火曜", "completed",
    )  # fmt: skip


def test_a_kiosk_ending_a_call_records_no_outcome(harness) -> None:
    k, _, _o, _, call_id = harness.call_in_progress()
    harness.send(k, p.EndCall(call_id=call_id, outcome="resolved", notes="x"))
    record = harness.store.call(call_id)
    assert record is not None and (record.outcome, record.notes) == (None, None)


# ------------------------------------------------------------------ a call that is not yours


def test_a_kiosk_cancels_only_its_own_call(harness) -> None:
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kenchiku-shido"))
    (call_id,) = harness.board.calls
    other, _ = harness.connect(kiosk("kiosk-tonan"))
    for client, target in ((other, call_id), (k, "no-such-call")):
        error = refused(harness, client, p.CancelCall(call_id=target))
        assert (error.code, error.detail, error.about) == (
            ErrorCode.NOT_FOUND, f"no call {target!r} of yours is in progress", "cancel_call",
        )  # fmt: skip
    assert harness.board.calls[call_id].state is p.CallState.QUEUED


def test_cancelling_a_call_in_progress_completes_it(harness) -> None:
    k, _, _o, _, call_id = harness.call_in_progress()
    harness.send(k, p.CancelCall(call_id=call_id))
    record = harness.store.call(call_id)
    assert record is not None and (record.state, record.end_reason) == ("ended", "completed")


@pytest.mark.parametrize(
    "make",
    [
        lambda c: p.TransferCall(call_id=c, to_department="kenko-hoken"),
        lambda c: p.CancelTransfer(call_id=c),
        lambda c: p.IceCandidate(call_id=c, candidate=CANDIDATE),
        lambda c: p.MediaConnected(call_id=c),
        lambda c: p.RestartMedia(call_id=c),
        lambda c: p.EndCall(call_id=c),
        lambda c: p.CallQuality(call_id=c, rtt_ms=20),
        lambda c: p.CaseEvent(call_id=c, action="document_shown"),
    ],
)
def test_a_party_of_another_call_is_told_it_is_not_theirs(harness, make) -> None:
    _k, _, _o, _, call_id = harness.call_in_progress()
    jiro, _ = harness.connect(officer("jiro"))
    message = make(call_id)
    error = refused(harness, jiro, message)
    assert (error.code, error.detail, error.about) == (
        ErrorCode.NOT_FOUND, f"no call {call_id!r} of yours is in progress", message.type,
    )  # fmt: skip
    assert harness.board.calls[call_id].state is p.CallState.IN_CALL


def test_accepting_a_call_not_ringing_for_you_names_it(harness) -> None:
    o, _ = harness.connect(officer())
    error = refused(harness, o, p.AcceptCall(call_id="c9"))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.NOT_FOUND, "no call 'c9' is ringing for you", "accept_call",
    )  # fmt: skip


def test_a_relay_before_media_names_the_calls_state_and_a_message_without_text_is_encoded(harness) -> None:
    k, _ = harness.connect(kiosk("kiosk-tonan"))
    harness.send(k, p.RequestCall(department="kenchiku-shido"))
    (queued,) = harness.board.calls
    error = refused(harness, k, p.IceCandidate(call_id=queued, candidate=CANDIDATE))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.CONFLICT, f"call {queued} is queued", "ice_candidate",
    )  # fmt: skip
    k2, _, _o, o_inbox, call_id = harness.call_in_progress()
    message = p.IceCandidate(call_id=call_id, candidate=CANDIDATE)
    harness.board.handle(k2, message)  # no original text: the message is encoded
    assert o_inbox.texts[-1] == p.encode(message)
