"""External interpreters through an invitation, on a real server: a supervisor invites a service for some
languages; the link redeems once into an interpreter session whose welcome carries those languages; the
pool offers it requests like any interpreter and its stay is recorded; a reused, forged, expired, revoked
or not-yet link is refused by name; revoking signs a live interpreter out of its call while the call goes
on; officers, interpreters and the public cannot invite; the invitation's link goes out by mail."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from zoneinfo import ZoneInfo

from config.schema import SmtpConfig
from remote_call import protocol as p
from signaling_server.auth import hash_password, new_token, token_hash
from signaling_server.interpreter_invites import InterpreterInvitationBook, InterpreterInvitationRequest
from signaling_server.interpreter_routes import BOOK, sign_out_ended
from signaling_server.testing import WireClient, call_in_progress, test_config

from .inviting import (
    PASSWORD,
    SERVICE,
    invite,
    redeem,
    request,
    revoke,
    secret_of,
    signed_in,
    supervisor_token,
)


async def test_a_redeemed_invitation_signs_in_an_interpreter_of_its_languages_once(server):
    token = supervisor_token(server)
    answer = await invite(server, token, email="")
    assert answer["status"] == "pending" and answer["languages"] == ["jsl", "ne"]
    status, redeemed = await redeem(server, secret_of(answer))
    assert status == 200, redeemed
    assert redeemed["service"] == SERVICE and redeemed["languages"] == ["jsl", "ne"]
    assert redeemed["ws_url"].endswith("/ws")

    client = await signed_in(server, redeemed["session_token"])
    try:
        welcome = next(m for m in client.seen if isinstance(m, p.Welcome))
        assert welcome.role is p.Role.INTERPRETER and welcome.display_name == SERVICE
        assert welcome.identity == f"ext-{answer['invitation_id']}"
        assert welcome.skills == {"jsl": "primary", "ne": "primary"}
        await client.expect(p.OfficerState, state="available")
    finally:
        await client.close()

    status, again = await redeem(server, secret_of(answer))
    assert (status, again["error"]) == (409, "used")
    assert "一度だけ" in again["message_ja"] and "only once" in again["message_en"]
    status, listed = await request("GET", f"{server.http_url}/api/interpreter-invitations", None, token)
    assert status == 200 and listed[0]["status"] == "signed_in" and "link" not in listed[0]
    # The account cannot be signed in with a password: it has none.
    refused = await password_refused(server, welcome.identity)
    assert refused.code is p.ErrorCode.UNAUTHENTICATED


async def password_refused(server, username: str) -> p.Error:
    hello = p.Hello(
        v=p.PROTOCOL_VERSION,
        role=p.Role.INTERPRETER,
        credentials=p.PasswordCredentials(username=username, password="!external-interpreter"),
    )
    client = await WireClient.connect(server.url, hello)
    try:
        return await client.expect(p.Error)
    finally:
        await client.close()


async def test_forged_expired_not_yet_and_revoked_links_are_refused_by_name(server):
    token = supervisor_token(server)
    status, forged = await redeem(server, "x" * 43)
    assert (status, forged["error"]) == (404, "invalid")
    zone = ZoneInfo(server.config.city.timezone)
    old = InterpreterInvitationBook(server.store, clock=lambda: time.time() - 9 * 3600)
    wanted = InterpreterInvitationRequest(service=SERVICE, languages=["en"])
    _, expired_secret = old.create(wanted, created_by="sachiko", timezone=zone)
    status, expired = await redeem(server, expired_secret)
    assert (status, expired["error"]) == (410, "expired") and "有効期限" in expired["message_ja"]

    tomorrow = dt.datetime.now(zone) + dt.timedelta(days=1)
    later = await invite(server, token, valid_from=tomorrow.isoformat())
    status, early = await redeem(server, secret_of(later))
    assert (status, early["error"]) == (425, "not_yet")

    revoked = await invite(server, token)
    status, body = await revoke(server, token, revoked["invitation_id"])
    assert status == 200 and body["status"] == "revoked"
    status, answer = await redeem(server, secret_of(revoked))
    assert (status, answer["error"]) == (410, "revoked") and "取り消され" in answer["message_ja"]
    actions = [e.action for e in server.switchboard.audit.entries()]
    assert actions.count("interpreter_link_refused") == 4 and "interpreter_invitation_revoked" in actions


async def test_only_a_supervisor_invites_with_languages_of_the_pool(server):
    token = supervisor_token(server)
    url = f"{server.http_url}/api/interpreter-invitations"
    status, _ = await request("POST", url, {"service": SERVICE, "languages": ["ne"]})
    assert status == 401
    officer = officer_token(server)
    status, _ = await request("POST", url, {"service": SERVICE, "languages": ["ne"]}, officer)
    assert status == 403
    status, answer = await request("POST", url, {"service": SERVICE, "languages": ["klingon"]}, token)
    assert status == 400 and "languages" in answer["message"]
    status, answer = await request("POST", url, {"service": "", "languages": ["ne"]}, token)
    assert status == 400


def officer_token(server) -> str:
    token = new_token()
    server.store.add_session(token_hash(token), "hanako", time.time() + 3600)
    return token


async def test_revoking_signs_a_live_interpreter_out_of_its_call_and_the_call_goes_on(server):
    token = supervisor_token(server)
    answer = await invite(server, token)
    status, redeemed = await redeem(server, secret_of(answer))
    assert status == 200
    interpreter = await signed_in(server, redeemed["session_token"])
    kiosk, officer, call_id = await call_in_progress(
        server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"], "hanako", PASSWORD
    )
    try:
        await interpreter.expect(p.OfficerState, state="available")
        await officer.send(p.RequestInterpreter(call_id=call_id, language="jsl"))
        offer = await interpreter.expect(p.InterpretationOffer)
        assert offer.language == "jsl"
        await interpreter.send(p.AcceptInterpretation(call_id=call_id))
        await interpreter.expect(p.CallConnecting, peer="officer")
        await officer.expect(p.InterpreterStatus, state="joined", name=SERVICE)

        status, _ = await revoke(server, token, answer["invitation_id"])
        assert status == 200
        gone = await officer.expect(p.PartyLeft, party="interpreter")
        assert gone.reason == "removed"
        await kiosk.expect(p.PartyLeft, party="interpreter")
        error = await interpreter.expect(p.Error)
        assert error.code is p.ErrorCode.UNAUTHENTICATED and "revoked" in error.detail
        await interpreter.closed()
        assert server.switchboard.calls[call_id].state is p.CallState.IN_CALL  # the call goes on
        stay = [r for r in server.store.call_parties(call_id) if r["party"] == "interpreter"]
        assert len(stay) == 1 and stay[0]["username"] == f"ext-{answer['invitation_id']}"
        assert stay[0]["language"] == "jsl" and stay[0]["left_at"] is not None
        status, _ = await request("GET", f"{server.http_url}/api/stats", None, redeemed["session_token"])
        assert status == 401  # the session is gone for REST too
    finally:
        for client in (kiosk, officer, interpreter):
            await client.close()


async def test_the_link_is_mailed_to_the_service(make_server, smtp):
    inbox, port = smtp
    mail_server = SmtpConfig(
        host="127.0.0.1", port=port, starttls=False, from_address="madoguchi@city.example.jp"
    )
    async with make_server(test_config().model_copy(update={"smtp": mail_server})) as server:
        answer = await invite(server, supervisor_token(server), email="desk@interpret.example.jp")
        assert answer["emailed"] is True, answer
        mail = await asyncio.wait_for(inbox.queue.get(), 10)
        assert mail["To"] == "desk@interpret.example.jp"
        assert answer["link"] in mail.get_content()


async def test_an_interpreter_still_signed_in_when_the_window_closes_is_signed_out(server):
    """The session row ends with the window, but a live websocket is not asked again: the server's window
    check (every 30 s; called here with the moment the window closes) signs it out. A console interpreter
    signed in at the same time is not touched."""
    token = supervisor_token(server)
    answer = await invite(server, token)
    status, redeemed = await redeem(server, secret_of(answer))
    assert status == 200
    external = await signed_in(server, redeemed["session_token"])
    server.store.add_officer("maria", "マリア", "interpreter", hash_password(PASSWORD), {"tl": "primary"})
    console = await WireClient.connect(
        server.url,
        p.Hello(
            v=p.PROTOCOL_VERSION,
            role=p.Role.INTERPRETER,
            credentials=p.PasswordCredentials(username="maria", password=PASSWORD),
        ),
    )
    try:
        await console.expect(p.Welcome)
        await external.expect(p.OfficerState, state="available")
        invitation = server.app[BOOK].get(answer["invitation_id"])
        assert sign_out_ended(server.app, invitation.valid_until - 1) == []
        assert sign_out_ended(server.app, invitation.valid_until) == [invitation.identity]
        error = await external.expect(p.Error)
        assert error.code is p.ErrorCode.UNAUTHENTICATED and "window" in error.detail
        await external.closed()
        assert "maria" in server.switchboard.conference.clients
    finally:
        await external.close()
        await console.close()
