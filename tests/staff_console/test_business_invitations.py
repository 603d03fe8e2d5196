"""The Qt-free invitation client: the request body of docs/business.md, field checks, the server's answers,
and a refusal or an unreachable server turned into one InvitationError."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from staff_console.invitations import Invitation, InvitationClient, InvitationError, InvitationRequest

JST = dt.timezone(dt.timedelta(hours=9))


def _request(**fields) -> InvitationRequest:
    base = {
        "department": "kyuhaisui",
        "company": " 有限会社 盛岡設備工業 ",
        "contact_name": "盛岡 花子",
        "email": "hanako@morioka-setsubi.example.jp",
        "purpose": "給水装置工事の申込み",
        "valid_from": dt.datetime(2026, 12, 2, 9, 0, tzinfo=JST),
        "valid_until": dt.datetime(2026, 12, 2, 12, 0, tzinfo=JST),
    }
    return InvitationRequest(**(base | fields))


def test_body_has_the_contract_fields():
    body = _request(mobile=True, second_factor=True).body()
    assert set(body) == {
        "department", "company", "contact_name", "email", "purpose", "valid_from", "valid_until",
        "second_factor", "appointment_id", "mobile",
    }  # fmt: skip
    assert body["company"] == "有限会社 盛岡設備工業" and body["mobile"] and body["second_factor"]
    assert body["valid_from"] == "2026-12-02T09:00:00+09:00" and body["appointment_id"] is None


def test_problems_name_the_fields():
    assert _request().problems() == []
    wrong = _request(company=" ", email="no-at-sign", valid_until=dt.datetime(2026, 12, 2, 8, 0, tzinfo=JST))
    assert wrong.problems() == ["company", "email", "valid_until"]


def test_invitation_from_the_servers_json():
    row = {
        "invitation_id": "inv-9",
        "company": "株式会社みちのく設計",
        "valid_from": "2026-12-02T09:00:00+09:00",
        "valid_until": "2026-12-02T12:00:00+09:00",
        "status": "in_call",
        "call_ids": ["c-1"],
        "email_error": None,
    }
    invitation = Invitation.from_json(row)
    assert invitation.status == "in_call" and invitation.extra["call_ids"] == ["c-1"]
    assert invitation.link == "" and invitation.emailed is None


async def test_unreachable_server_is_one_error():
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = InvitationClient(lambda: f"http://127.0.0.1:{port}", lambda: "t" * 32)
    with pytest.raises(InvitationError) as failed:
        await client.list_today()
    assert failed.value.code == "unreachable"
    signed_out = InvitationClient(lambda: f"http://127.0.0.1:{port}", lambda: None)
    with pytest.raises(InvitationError, match="not_signed_in"):
        await signed_out.revoke("inv-1")
    with pytest.raises(InvitationError, match="invalid_fields"):
        await client.create(_request(email="x"))
