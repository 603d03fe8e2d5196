"""Guest links over a real server (raw protocol clients): the officer makes one, the guest redeems it once
and joins the call as a fourth party; reused, forged and expired links and a fifth party are refused,
audited, and the call is not disturbed."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from config.schema import SmtpConfig
from remote_call import protocol as p
from signaling_server.switchboard.guest_links import (
    GuestLinkError,
    GuestLinks,
    GuestRedeemed,
    GuestRefusal,
    GuestRefused,
)
from signaling_server.testing import WireClient, test_config

from .guesting import (
    call,
    close_all,
    guest,
    interpreter_in,
    joined_guest,
    make_link,
    post,
    redeem,
    secret_of,
    session_of,
)


def actions(server, call_id: str) -> list[str]:
    return [
        e.action for e in server.switchboard.audit.entries(target=call_id) if e.action.startswith("guest")
    ]


async def test_a_guest_joins_by_link_every_pair_is_set_up_and_leaving_leaves_the_call_alone(server):
    kiosk, officer, call_id = await call(server)
    answer = await make_link(server, officer, call_id, name="娘 さくら")
    assert answer["expires_in_s"] == 1800 and answer["emailed"] is False
    status, redeemed = await redeem(server, secret_of(answer))
    assert status == 200 and redeemed["call_id"] == call_id and redeemed["name"] == "娘 さくら"
    assert redeemed["department"]["ja"] and redeemed["ws_url"].endswith("/ws")
    g = await guest(server, redeemed["session_token"])
    welcome = next(m for m in g.seen if isinstance(m, p.Welcome))
    assert welcome.role is p.Role.GUEST and welcome.display_name == "娘 さくら"
    try:
        # The guest (joining) offers to the caller and the officer; each hears the guest is coming.
        assert (await g.expect(p.CallConnecting, peer="caller")).offerer is True
        assert (await g.expect(p.CallConnecting, peer="officer")).offerer is True
        to_kiosk = await kiosk.expect(p.CallConnecting, peer="guest")
        to_officer = await officer.expect(p.CallConnecting, peer="guest")
        assert not to_kiosk.offerer and not to_officer.offerer and to_kiosk.peer_name == "娘 さくら"

        # SDP relayed pair by pair with `peer` rewritten to the sender's party.
        await g.send(p.SessionDescription(call_id=call_id, sdp_type="offer", sdp="v=0 guest", peer="caller"))
        offer = await kiosk.expect(p.SessionDescription)
        assert (offer.peer, offer.sdp) == ("guest", "v=0 guest")
        await kiosk.send(p.SessionDescription(call_id=call_id, sdp_type="answer", sdp="v=0 k", peer="guest"))
        assert (await g.expect(p.SessionDescription)).peer == "caller"
        await officer.send(p.IceCandidate(call_id=call_id, candidate="", peer="guest"))
        assert (await g.expect(p.IceCandidate)).peer == "officer"

        # A guest may do nothing else: no queue, no ending the call for the others.
        await g.send(p.RequestCall(department="kosodate"))
        assert (await g.expect(p.Error)).code is p.ErrorCode.FORBIDDEN
        await g.send(p.EndCall(call_id=call_id))
        assert (await g.expect(p.Error)).code is p.ErrorCode.FORBIDDEN

        await g.send(p.LeaveCall(call_id=call_id))
        assert (await kiosk.expect(p.PartyLeft)).model_dump(include={"party", "reason"}) == {
            "party": "guest",
            "reason": "left",
        }
        assert (await officer.expect(p.PartyLeft)).party == "guest"
        assert (await g.expect(p.CallEnded)).call_id == call_id
        # The call goes on: the caller↔officer pair still relays.
        await kiosk.send(p.SessionDescription(call_id=call_id, sdp_type="offer", sdp="v=0 again"))
        assert (await officer.expect(p.SessionDescription)).sdp == "v=0 again"
        assert server.switchboard.calls[call_id].state is p.CallState.IN_CALL

        # Single use: the link is spent and the session that left signs nobody in.
        status, refused = await redeem(server, secret_of(answer))
        assert (status, refused["error"]) == (409, "used") and refused["message_ja"] and refused["message_en"]
        again = await WireClient.connect(
            server.url,
            p.Hello(
                v=p.PROTOCOL_VERSION,
                role=p.Role.GUEST,
                credentials=p.SessionCredentials(token=redeemed["session_token"]),
            ),
        )
        assert (await again.expect(p.Error)).code is p.ErrorCode.UNAUTHENTICATED
        await again.close()
        assert actions(server, call_id) == [
            "guest_link_created",
            "guest_link_redeemed",
            "guest_joined",
            "guest_left",
            "guest_link_refused",
        ]
    finally:
        await close_all(g, kiosk, officer)


async def test_only_the_calls_officer_makes_links_and_a_forged_secret_is_refused_throttled_and_audited(
    server,
):
    kiosk, officer, call_id = await call(server)
    other = await WireClient.officer(server.url, "kenji", "correct horse battery")
    try:
        url = f"{server.http_url}/api/calls/{call_id}/guest-links"
        assert (await post(url, {}, session_of(other)))[0] == 404  # not kenji's call
        assert (await post(url, {}))[0] == 401
        for _ in range(5):
            status, refused = await redeem(server, "A" * 43)
            assert (status, refused["error"]) == (404, "invalid")
            assert refused["message_ja_easy"]
        status, refused = await redeem(server, "B" * 43)
        assert status == 429 and refused["error"] == "throttled" and int(refused["retry_after_s"]) > 0
        refusals = server.switchboard.audit.entries(action="guest_link_refused")
        assert [e.details["reason"] for e in refusals] == ["invalid"] * 5 + ["throttled"]
        assert all("A" * 43 not in str(e.details) for e in refusals)  # the secret is never written down
    finally:
        await close_all(other, kiosk, officer)


async def test_a_fifth_party_is_refused_with_a_clear_message_and_the_call_is_not_disturbed(server):
    kiosk, officer, call_id = await call(server)
    early = await make_link(server, officer, call_id)  # redeemed while there is room...
    status, second = await redeem(server, secret_of(early))
    assert status == 200
    interpreter = await interpreter_in(server, officer, call_id)
    g = await joined_guest(server, officer, call_id)  # kiosk, officer, interpreter and the guest: four
    await interpreter.expect(p.CallConnecting, peer="guest")
    late = await make_link(server, officer, call_id)
    try:
        status, refused = await redeem(server, secret_of(late))
        assert (status, refused["error"]) == (409, "full") and "4" in refused["message_en"]
        # ...and joining now: refused at the door, the four stay as they are.
        fifth = await WireClient.connect(
            server.url,
            p.Hello(
                v=p.PROTOCOL_VERSION,
                role=p.Role.GUEST,
                credentials=p.SessionCredentials(token=second["session_token"]),
            ),
        )
        error = await fifth.expect(p.Error)
        assert error.code is p.ErrorCode.CONFLICT and error.detail == "the call already has 4 parties"
        assert await fifth.closed() is not None
        await fifth.close()
        assert server.switchboard.calls[call_id].guest == g.seen[0].identity
        assert not [m for m in kiosk.seen if isinstance(m, p.PartyLeft)]
        # The guest and the interpreter talk to each other (the interpreter was there first: it answers).
        await g.send(p.SessionDescription(call_id=call_id, sdp_type="offer", sdp="v=0 g", peer="interpreter"))
        assert (await interpreter.expect(p.SessionDescription)).peer == "guest"
        assert "guest_refused" in actions(server, call_id)
        # The unused link still works once a party has left.
        await interpreter.send(p.LeaveCall(call_id=call_id))
        assert (await g.expect(p.PartyLeft, party="interpreter")).reason == "left"
    finally:
        await close_all(g, interpreter, kiosk, officer)


async def test_a_dropped_guest_leaves_the_others_alone_and_may_join_again_until_the_call_ends(server):
    kiosk, officer, call_id = await call(server)
    answer = await make_link(server, officer, call_id)
    spare = await make_link(server, officer, call_id)
    status, redeemed = await redeem(server, secret_of(answer))
    assert status == 200
    g = await guest(server, redeemed["session_token"])
    try:
        await g.close()  # its network is gone
        assert (await kiosk.expect(p.PartyLeft, party="guest")).reason == "disconnected"
        assert (await officer.expect(p.PartyLeft, party="guest")).reason == "disconnected"
        g = await guest(server, redeemed["session_token"])  # back: it joins again
        await g.expect(p.CallConnecting, peer="caller")
        await kiosk.expect(p.CallConnecting, peer="guest")
        await officer.send(p.EndCall(call_id=call_id, outcome="resolved"))
        assert (await g.expect(p.CallEnded)).call_id == call_id  # the call's end ends the guest's page
        status, refused = await redeem(server, secret_of(spare))
        assert (status, refused["error"]) == (410, "ended")
    finally:
        await close_all(g, kiosk, officer)


def test_links_expire_are_single_use_and_are_kept_only_as_hashes(engine_db):
    """On both engines: the table holds the hashes, never the secret or the session token."""
    now = [1000.0]
    links = GuestLinks(engine_db, lambda: now[0])
    link, secret = links.create("call-1", "hanako", ttl_s=60)
    assert secret not in repr(link) and link.secret_hash != secret
    now[0] += 61
    refused = links.redeem(secret, full=False)
    assert isinstance(refused, GuestRefused) and refused.reason is GuestRefusal.EXPIRED

    link, secret = links.create("call-1", "hanako", ttl_s=60)
    assert links.redeem(secret, full=True) == GuestRefused(GuestRefusal.FULL, link)  # not spent by it
    redeemed = links.redeem(secret, full=False, remote="192.0.2.7")
    assert isinstance(redeemed, GuestRedeemed) and links.session(redeemed.session_token) == redeemed.link
    assert redeemed.link.redeemed_by == "192.0.2.7"
    assert links.redeem(secret, full=False) == GuestRefused(GuestRefusal.USED, redeemed.link)
    stored = [" ".join(str(v) for v in row) for row in engine_db.fetchall("SELECT * FROM guest_links")]
    assert stored and not any(secret in r or redeemed.session_token in r for r in stored)
    links.call_ended("call-1")
    assert links.session(redeemed.session_token) is None
    assert links.redeem(secret, full=False).reason is GuestRefusal.USED
    assert links.redeem("x" * 43, full=False) == GuestRefused(GuestRefusal.INVALID)
    now[0] += 2 * 3600  # an hour after they ended the links are forgotten (the next create sweeps)
    links.create("call-2", "hanako")
    assert links.of_call("call-1") == [] and links.redeem(secret, full=False).reason is GuestRefusal.INVALID


def test_an_officer_cannot_pile_up_links_for_one_call(engine_db):
    links = GuestLinks(engine_db, lambda: 0.0)
    for _ in range(5):
        links.create("call-1", "hanako")
    with pytest.raises(GuestLinkError, match="guest links already"):
        links.create("call-1", "hanako")
    links.create("call-2", "hanako")  # another call's are its own


async def test_the_link_is_e_mailed_when_asked_and_a_guest_token_opens_no_rest_route(make_server, smtp):
    inbox, port = smtp
    config = test_config()
    mail = SmtpConfig(host="127.0.0.1", port=port, starttls=False, from_address="madoguchi@city.example.jp")
    async with make_server(config.model_copy(update={"smtp": mail})) as server:
        kiosk, officer, call_id = await call(server)
        try:
            answer = await make_link(server, officer, call_id, email="musume@example.jp")
            assert answer["emailed"] is True and answer["email_error"] is None
            message = await asyncio.wait_for(inbox.queue.get(), 10)
            assert message["To"] == "musume@example.jp"
            assert answer["link"] in message.get_content()
            status, redeemed = await redeem(server, secret_of(answer))
            assert status == 200
            token = redeemed["session_token"]
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession() as http:
                for path in (f"/api/cases/{call_id}/documents", "/api/stats", "/api/officers/me/calls"):
                    async with http.get(f"{server.http_url}{path}", headers=headers) as response:
                        assert response.status == 401, path
            created = server.switchboard.audit.entries(action="guest_link_created")
            assert created[0].details["emailed"] == "true"
        finally:
            await close_all(kiosk, officer)
