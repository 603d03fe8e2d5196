"""The checked-in JSON Schema (docs/*.schema.json) is current with the pydantic models, and real messages
validate against it while unknown fields, missing or unknown types and out-of-range values are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from remote_call import incall as ic
from remote_call import protocol as p
from remote_call import schema

BUSINESS = p.BusinessInfo(
    invitation_id="inv-1",
    department="kenchiku-shido",
    company="盛岡設計事務所",
    contact_name="設計 花子",
    purpose="確認申請の事前相談",
    valid_from="2026-12-01T09:00:00+09:00",
    valid_until="2026-12-01T12:00:00+09:00",
)
CANDIDATE = "candidate:842163049 1 udp 1677729535 127.0.0.1 50000 typ host generation 0 ufrag abcd"

CLIENT_SAMPLES: list[p.Wire] = [
    p.Hello(v=1, role=p.Role.BUSINESS, credentials=p.SessionCredentials(token="t" * 43), app_version="web"),
    p.Hello(v=1, role=p.Role.OFFICER, credentials=p.PasswordCredentials(username="hanako", password="pw")),
    p.RequestCall(department="kenchiku-shido"),
    p.SessionDescription(call_id="call-1", sdp_type="offer", sdp="v=0\r\n"),
    p.IceCandidate(call_id="call-1", candidate=CANDIDATE, sdp_mid="0", sdp_mline_index=0),
    p.IceCandidate(call_id="call-1", candidate="", sdp_mid="0", sdp_mline_index=0),  # end-of-candidates
    p.MediaConnected(call_id="call-1"),
    p.RestartMedia(call_id="call-1"),
    p.SyncCall(call_id="call-1"),
    p.EndCall(call_id="call-1", outcome="resolved", notes="済"),
    p.CancelCall(call_id="call-1"),
    p.CallQuality(call_id="call-1", rtt_ms=12.5, fps_in=30),
    p.Heartbeat(uptime_s=5, cpu_percent=3.5, memory_percent=40, disk_percent=50, devices={}),
    p.Ping(nonce=7),
]
SERVER_SAMPLES: list[p.Wire] = [
    p.Welcome(role=p.Role.BUSINESS, identity="inv-1", display_name="盛岡設計事務所", business=BUSINESS),
    p.Welcome(role=p.Role.OFFICER, identity="hanako", session_token="s" * 43, skills={"kosodate": "primary"}),
    p.CallOffer(
        call_id="call-1",
        department="kenchiku-shido",
        kiosk=p.KioskInfo(id="business-inv-1", name="盛岡設計事務所"),
        caller=p.CallerInfo(),
        waited_s=3,
        ring_timeout_s=20,
        business=BUSINESS,
    ),
    p.CallConnecting(call_id="call-1", offerer=True, department="kenchiku-shido", peer_name="健康 賢治"),
    p.Queued(call_id="call-1", department="kenchiku-shido", position=1, ewt_s=60),
    p.CallStarted(call_id="call-1"),
    p.CallEnded(call_id="call-1", reason=p.EndReason.COMPLETED),
    p.Error(code=p.ErrorCode.FORBIDDEN, detail="not for a business", about="set_status"),
    p.Pong(nonce=7),
    p.SessionDescription(call_id="call-1", sdp_type="answer", sdp="v=0\r\n"),  # relayed
]
INCALL_SAMPLES: list[ic.InCall] = [
    ic.Chat(id="m-1", text="図面を共有します", sender="resident"),
    ic.DocumentOffer(
        doc_id="up-1",
        purpose="upload",
        name="plan.pdf",
        mime="application/pdf",
        size=20 << 20,
        sha256="a" * 64,
    ),
    ic.DocumentReceived(doc_id="up-1", ok=True),
    ic.ScreenShare(active=True),
    ic.LinkPing(seq=1, sent_ms=1234.5),
    ic.LinkPong(seq=1, sent_ms=1234.5),
    ic.ScanRequest(request_id="scan-1", prompt="本人確認書類を置いてください"),
]


def test_the_checked_in_schema_files_are_current():
    assert schema.stale() == [], "run `python -m remote_call.schema --write` and commit docs/*.schema.json"


def test_check_names_a_stale_file_and_exits_1(tmp_path: Path, capsys):
    assert schema.main(["--write", "--docs", str(tmp_path)]) == 0
    assert schema.main(["--check", "--docs", str(tmp_path)]) == 0
    (tmp_path / "incall.schema.json").write_text("{}\n", encoding="utf-8")
    assert schema.main(["--check", "--docs", str(tmp_path)]) == 1
    message = capsys.readouterr().err
    assert "incall.schema.json" in message and "--write" in message and "protocol.schema.json" not in message


def test_every_message_type_is_in_its_union():
    doc = schema.signaling_schema()
    mapping = {
        name: set(doc["$defs"][name]["discriminator"]["mapping"])
        for name in ("ClientMessage", "ServerMessage")
    }
    assert mapping["ClientMessage"] == set(p.CLIENT_TYPES)
    assert mapping["ServerMessage"] == (set(p.MESSAGE_TYPES) - set(p.CLIENT_TYPES)) | {"sdp", "ice_candidate"}
    incall = set(schema.incall_schema()["$defs"]["InCallMessage"]["discriminator"]["mapping"])
    assert {"chat", "document_offer", "screen_share", "link_ping", "link_pong"} <= incall


# ---------------------------------------------------------------------- validation (jsonschema)


def validator(doc: dict[str, Any], union: str):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(doc)
    return jsonschema.Draft202012Validator({"$ref": f"#/$defs/{union}", "$defs": doc["$defs"]})


def wire(message: p.Wire | ic.InCall) -> dict[str, Any]:
    return json.loads(message.model_dump_json(exclude_none=True))


@pytest.mark.parametrize(
    ("union", "samples"), [("ClientMessage", CLIENT_SAMPLES), ("ServerMessage", SERVER_SAMPLES)]
)
def test_real_signaling_messages_validate(union: str, samples: list[p.Wire]):
    check = validator(schema.signaling_schema(), union)
    for message in samples:
        data = wire(message)
        assert list(check.iter_errors(data)) == [], data
        assert p.parse_message(json.dumps(data)) == message  # the server reads the same bytes alike


def test_real_incall_messages_validate():
    check = validator(schema.incall_schema(), "InCallMessage")
    for message in INCALL_SAMPLES:
        data = ic.incall_dict(message)
        assert list(check.iter_errors(data)) == [], data
        assert ic.parse_incall(data) == message


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "ping", "nonce": 1, "extra": True},  # an unknown field
        {"nonce": 1},  # no type
        {"type": "pong", "nonce": 1},  # a server message, sent by a client
        {"type": "no_such_type"},
        {"type": "hello", "v": 1, "role": "root", "credentials": {"kind": "session", "token": "t" * 20}},
        {"type": "hello", "v": 1, "role": "business", "credentials": {"token": "t" * 20}},  # no kind
        {"type": "ice_candidate", "call_id": "call-1", "candidate": "c" * 1001},
        {"type": "end_call", "call_id": "../etc", "outcome": "resolved"},
        {
            "type": "heartbeat",
            "uptime_s": 1,
            "cpu_percent": 1,
            "memory_percent": 1,
            "disk_percent": 1,
            "x": 1,
        },
    ],
)
def test_bad_client_messages_are_refused_by_the_schema_and_the_server(bad: dict[str, Any]):
    check = validator(schema.signaling_schema(), "ClientMessage")
    assert list(check.iter_errors(bad)), bad
    if bad.get("type") in p.CLIENT_TYPES:
        with pytest.raises(p.ProtocolError):
            p.parse_message(json.dumps(bad))


def test_bad_incall_and_server_messages_are_refused():
    incall = validator(schema.incall_schema(), "InCallMessage")
    assert list(incall.iter_errors({"type": "screen_share", "active": True, "by": "x"}))  # unknown field
    assert list(incall.iter_errors({"type": "chat", "id": "m", "text": "", "sender": "resident"}))
    offer = ic.incall_dict(INCALL_SAMPLES[1])
    assert list(incall.iter_errors({**offer, "size": 40 * 1024 * 1024 + 1}))  # beyond the 40 MiB limit
    assert list(incall.iter_errors({**offer, "mime": "application/x-msdownload"}))
    server = validator(schema.signaling_schema(), "ServerMessage")
    welcome = wire(SERVER_SAMPLES[1])
    assert list(server.iter_errors({**welcome, "skills": {"bad key!": "primary"}}))
    assert list(server.iter_errors({**wire(SERVER_SAMPLES[0]), "business": {"company": "x"}}))
