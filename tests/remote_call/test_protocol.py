"""Every protocol message round-trips; bad input is named precisely."""

from __future__ import annotations

import json

import pytest

from remote_call import protocol as p

SAMPLES: list[p.Wire] = [
    p.Hello(v=1, role=p.Role.KIOSK, credentials=p.DeviceTokenCredentials(kiosk_id="k1", token="t" * 32)),
    p.Hello(v=1, role=p.Role.OFFICER, credentials=p.PasswordCredentials(username="hanako", password="pw")),
    p.Hello(v=1, role=p.Role.OFFICER, credentials=p.SessionCredentials(token="s" * 40), app_version="0.1"),
    p.RequestCall(
        department="kosodate",
        caller=p.CallerInfo(procedure="ninshin-todoke", language="en", accessibility=["large_text"]),
    ),
    p.CancelCall(call_id="c1"),
    p.SetStatus(status="away", reason="counter"),
    p.SetStatus(status="available"),
    p.AcceptCall(call_id="c1"),
    p.DeclineCall(call_id="c1"),
    p.SessionDescription(call_id="c1", sdp_type="offer", sdp="v=0\r\n"),
    p.IceCandidate(
        call_id="c1", candidate="candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdp_mid="0", sdp_mline_index=0
    ),
    p.MediaConnected(call_id="c1"),
    p.RestartMedia(call_id="c1"),
    p.SyncCall(call_id="c1"),
    p.EndCall(call_id="c1", outcome="visit_city_hall", notes="持ち物: 印鑑"),
    p.Ping(nonce=7),
    p.Welcome(
        role=p.Role.KIOSK,
        identity="k1",
        ice_servers=[p.IceServerInfo(urls=["turn:10.0.0.1"])],
        departments=[
            p.DepartmentInfo(
                id="kosodate",
                name_ja="子育てあんしん課",
                name_en="Child",
                open=False,
                waiting=0,
                next_open="2026-11-27T08:30",
            )
        ],
        kiosk=p.KioskInfo(id="k1", name="上田公民館"),
    ),
    p.Error(code=p.ErrorCode.INVALID, detail="bad", about="hello"),
    p.Queued(call_id="c1", department="kosodate", position=3, ewt_s=240.0),
    p.CallRefused(department="kosodate", reason="closed", next_open="2026-11-27T08:30"),
    p.CallOffer(
        call_id="c1",
        department="kosodate",
        kiosk=p.KioskInfo(id="k1", name="上田公民館"),
        caller=p.CallerInfo(),
        waited_s=12.5,
        ring_timeout_s=20,
    ),
    p.OfferWithdrawn(call_id="c1", reason="timeout"),
    p.CallConnecting(call_id="c1", offerer=True, department="kosodate", peer_name="子育てあんしん課"),
    p.CallStarted(call_id="c1"),
    p.CallEnded(call_id="c1", reason=p.EndReason.KIOSK_DISCONNECTED),
    p.CallRequeued(call_id="c1"),
    p.OfficerState(state="away", reason="no_answer"),
    p.Pong(nonce=7),
    p.AppointmentCheckedIn(
        call_id="c1", department="kosodate", slot_start="2026-12-02T10:30:00+09:00", early=True
    ),
    p.SetShift(departments=["kosodate", "okuyami"]),
    p.TransferCall(call_id="c1", to_department="kenko-hoken", note="国保の喪失も必要", warm=True),
    p.CancelTransfer(call_id="c1"),
    p.Heartbeat(
        app_version="0.1.0",
        uptime_s=12.0,
        os="Linux",
        cpu_percent=3.5,
        memory_percent=41.0,
        disk_percent=60.0,
        devices={"printer": p.DeviceStatus(status="degraded", detail="paper near end", since=1.0)},
        rtt_ms=4.2,
    ),
    p.CallQuality(call_id="c1", rtt_ms=12.0, loss_in_pct=0.5, jitter_ms=3.0, bitrate_in_kbps=800, fps_in=15),
    p.ActionResult(action_id="a1", ok=False, detail="scanner: error"),
    p.CallTransferred(call_id="c1", to_department="kenko-hoken", note="国保", warm=False),
    p.SupervisorStats(stats={"departments": {"kosodate": {"waiting": 2}}}),
    p.TransferCancelled(call_id="c1"),
    p.RemoteAction(action_id="a1", action="selftest"),
    p.CaseEvent(
        call_id="c1", action="document_saved", doc_id="scan1", sha256="a" * 64, size=123, label="scan.png"
    ),
    # issue 15: the resident's rating; the officer holding wrap-up while writing the outcome
    p.RateCall(call_id="c1", rating=4),
    p.HoldWrapUp(hold=True),
    # issue 18: a third party (interpreter)
    p.RequestCall(department="kosodate", interpreter_language="ne"),
    p.SessionDescription(call_id="c1", sdp_type="answer", sdp="v=0\r\n", peer="interpreter"),
    p.IceCandidate(call_id="c1", candidate="candidate:1 1 udp 1 127.0.0.1 5000 typ host", peer="caller"),
    p.MediaConnected(call_id="c1", peer="officer"),
    p.RestartMedia(call_id="c1", peer="interpreter"),
    p.CallConnecting(call_id="c1", offerer=True, department="kosodate", peer_name="通訳", peer="caller"),
    p.RequestInterpreter(call_id="c1", language="jsl"),
    p.CancelInterpreter(call_id="c1"),
    p.AcceptInterpretation(call_id="c1"),
    p.DeclineInterpretation(call_id="c1"),
    p.LeaveCall(call_id="c1"),
    p.InterpreterStatus(call_id="c1", language="tl", state="waiting", position=2, estimate_s=90.0),
    p.InterpreterStatus(call_id="c1", language="tl", state="joined", name="Maria"),
    p.InterpretationOffer(
        call_id="c1",
        language="vi",
        department="kosodate",
        caller=p.CallerInfo(language="vi"),
        waited_s=3,
        ring_timeout_s=20,
    ),
    p.PartyLeft(call_id="c1", party="interpreter", reason="removed"),
]


def test_every_message_type_has_a_sample():
    assert {m.type for m in SAMPLES} == set(p.MESSAGE_TYPES)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: m.type)
def test_round_trip(message: p.Wire):
    assert p.parse_message(p.encode(message)) == message


@pytest.mark.parametrize(
    ("raw", "code", "fragment"),
    [
        ("{not json", p.ErrorCode.MALFORMED, "not valid JSON"),
        ("[1, 2]", p.ErrorCode.MALFORMED, "JSON object"),
        ('{"call_id": "x"}', p.ErrorCode.MALFORMED, "'type'"),
        ('{"type": "teleport"}', p.ErrorCode.UNKNOWN_TYPE, "teleport"),
        ('{"type": "accept_call"}', p.ErrorCode.INVALID, "call_id"),
        ('{"type": "accept_call", "call_id": "../etc"}', p.ErrorCode.INVALID, "call_id"),
        ('{"type": "accept_call", "call_id": "c1", "extra": 1}', p.ErrorCode.INVALID, "extra"),
        ('{"type": "set_status", "status": "asleep"}', p.ErrorCode.INVALID, "status"),
        (
            '{"type": "sdp", "call_id": "c1", "sdp_type": "pranswer", "sdp": "v=0"}',
            p.ErrorCode.INVALID,
            "sdp_type",
        ),
    ],
)
def test_bad_input_is_named(raw: str, code: p.ErrorCode, fragment: str):
    with pytest.raises(p.ProtocolError) as info:
        p.parse_message(raw)
    assert info.value.code is code
    assert fragment in info.value.detail


def test_oversized_message_is_refused_before_parsing():
    raw = json.dumps({"type": "end_call", "call_id": "c1", "notes": "x" * 70_000})
    with pytest.raises(p.ProtocolError) as info:
        p.parse_message(raw, max_bytes=64 * 1024)
    assert info.value.code is p.ErrorCode.TOO_LARGE


def test_long_text_fields_are_bounded():
    with pytest.raises(p.ProtocolError) as info:
        p.parse_message(json.dumps({"type": "end_call", "call_id": "c1", "notes": "x" * 5000}))
    assert "notes" in info.value.detail


def test_error_message_carries_the_problem():
    error = p.ProtocolError(p.ErrorCode.FORBIDDEN, "nope", about="sdp").to_message()
    assert error == p.Error(code=p.ErrorCode.FORBIDDEN, detail="nope", about="sdp")
