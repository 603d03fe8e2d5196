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
