"""The signaling server over real websockets: authentication, bad input, authorisation, routing, call ends."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from remote_call import protocol as p
from signaling_server.testing import WireClient, call_in_progress, test_config

pytestmark = pytest.mark.asyncio

KIOSKS = ["kiosk-ueda", "kiosk-tonan", "kiosk-tamayama"]  # provisioned by the make_server fixture
PASSWORD = "correct horse battery"


def kiosk_hello(kiosk_id: str, token: str, role: p.Role = p.Role.KIOSK) -> p.Hello:
    return p.Hello(
        v=p.PROTOCOL_VERSION, role=role, credentials=p.DeviceTokenCredentials(kiosk_id=kiosk_id, token=token)
    )


def officer_hello(username: str, password: str, role: p.Role = p.Role.OFFICER) -> p.Hello:
    return p.Hello(
        v=p.PROTOCOL_VERSION,
        role=role,
        credentials=p.PasswordCredentials(username=username, password=password),
    )


async def started_call(server, **options) -> tuple[WireClient, WireClient, str]:
    return await call_in_progress(
        server.url, KIOSKS[0], server.fleet.kiosk_tokens[KIOSKS[0]], "hanako", PASSWORD, **options
    )


async def kiosk(server, index: int = 0) -> WireClient:
    kiosk_id = KIOSKS[index]
    return await WireClient.kiosk(server.url, kiosk_id, server.fleet.kiosk_tokens[kiosk_id])


async def officer(server, name: str = "hanako") -> WireClient:
    return await WireClient.officer(server.url, name, PASSWORD)


async def test_healthz(server):
    async with aiohttp.ClientSession() as http, http.get(server.http_url + "/healthz") as resp:
        body = await resp.json()
    assert resp.status == 200
    assert body["status"] == "ok" and body["protocol"] == p.PROTOCOL_VERSION


# ------------------------------------------------------------------ authentication


@pytest.mark.parametrize(
    ("case", "hello", "fragment"),
    [
        ("no token", None, "first message must be 'hello'"),
        (
            "forged token",
            lambda s: kiosk_hello("kiosk-ueda", "forged-token-000000000000"),
            "invalid or revoked",
        ),
        (
            "unknown kiosk",
            lambda s: kiosk_hello("kiosk-nowhere", s.fleet.kiosk_tokens["kiosk-ueda"]),
            "invalid or revoked",
        ),
        (
            "another kiosk's token",
            lambda s: kiosk_hello("kiosk-tonan", s.fleet.kiosk_tokens["kiosk-ueda"]),
            "invalid or revoked",
        ),
        ("wrong password", lambda s: officer_hello("hanako", "guess"), "wrong username or password"),
        ("unknown officer", lambda s: officer_hello("nobody", PASSWORD), "wrong username or password"),
        (
            "officer as kiosk",
            lambda s: p.Hello(
                v=1,
                role=p.Role.KIOSK,
                credentials=p.PasswordCredentials(username="hanako", password=PASSWORD),
            ),
            "device token",
        ),
        (
            "kiosk as officer",
            lambda s: kiosk_hello("kiosk-ueda", s.fleet.kiosk_tokens["kiosk-ueda"], p.Role.OFFICER),
            "sign in with a password",
        ),
        (
            "officer as it_admin",
            lambda s: officer_hello("hanako", PASSWORD, p.Role.IT_ADMIN),
            "may not connect",
        ),
        (
            "expired session",
            lambda s: p.Hello(v=1, role=p.Role.OFFICER, credentials=p.SessionCredentials(token="x" * 43)),
            "session has expired",
        ),
    ],
)
async def test_refused_credentials(server, case, hello, fragment):
    client = await WireClient.connect(server.url)
    try:
        if hello is None:
            await client.send(p.Ping())
        else:
            await client.send(hello(server))
        error = await client.expect(p.Error)
        assert error.code in (p.ErrorCode.UNAUTHENTICATED,)
        assert fragment in error.detail
        assert await client.closed() == 1008
    finally:
        await client.close()


async def test_revoked_kiosk_is_refused(server):
    server.store.revoke_kiosk_token("kiosk-ueda")
    client = await WireClient.connect(
        server.url, kiosk_hello("kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
    )
    error = await client.expect(p.Error)
    assert "revoked" in error.detail
    await client.close()


async def test_wrong_protocol_version(server):
    hello = kiosk_hello("kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"]).model_copy(update={"v": 99})
    client = await WireClient.connect(server.url, hello)
    error = await client.expect(p.Error)
    assert error.code is p.ErrorCode.VERSION and "99" in error.detail
    await client.close()


async def test_session_token_reconnects_without_password(server):
    first = await WireClient.connect(server.url, officer_hello("hanako", PASSWORD))
    welcome = await first.expect(p.Welcome)
    assert welcome.session_token and welcome.identity == "hanako"
    await first.close()
    again = await WireClient.connect(
        server.url,
        p.Hello(v=1, role=p.Role.OFFICER, credentials=p.SessionCredentials(token=welcome.session_token)),
    )
    assert (await again.expect(p.Welcome)).identity == "hanako"
    await again.close()


# ------------------------------------------------------------------ bad input after sign-in


async def test_bad_input_is_answered_and_the_connection_keeps_serving(server):
    client = await kiosk(server)
    bystander = await kiosk(server, 1)
    cases = [
        ("{oops", p.ErrorCode.MALFORMED),
        ("[]", p.ErrorCode.MALFORMED),
        ('{"type": "warp_drive"}', p.ErrorCode.UNKNOWN_TYPE),
        ('{"type": "cancel_call"}', p.ErrorCode.INVALID),
        (json.dumps({"type": "end_call", "call_id": "c1", "notes": "x" * 70_000}), p.ErrorCode.TOO_LARGE),
        (p.encode(p.Welcome(role=p.Role.KIOSK, identity="x")), p.ErrorCode.FORBIDDEN),
        (p.encode(p.AcceptCall(call_id="c1")), p.ErrorCode.FORBIDDEN),
        (p.encode(p.CancelCall(call_id="someone-elses")), p.ErrorCode.NOT_FOUND),
        (
            p.encode(
                p.Hello(
                    v=1, role=p.Role.KIOSK, credentials=p.DeviceTokenCredentials(kiosk_id="k", token="t" * 20)
                )
            ),
            p.ErrorCode.FORBIDDEN,
        ),
    ]
    for raw, code in cases:
        await client.send(raw)
        error = await client.expect(p.Error)
        assert error.code is code, (raw[:60], error)
    await client.send(b"\x00\x01")
    assert (await client.expect(p.Error)).code is p.ErrorCode.MALFORMED
    await client.send(p.Ping(nonce=42))
    assert (await client.expect(p.Pong)).nonce == 42
    await bystander.send(p.Ping(nonce=1))
    assert (await bystander.expect(p.Pong)).nonce == 1
    await client.close()
    await bystander.close()


async def test_huge_frame_closes_only_that_connection(server):
    client = await kiosk(server)
    bystander = await kiosk(server, 1)
    await client.send("x" * (server.config.server.max_message_bytes * 4 + 10))
    assert await client.closed() == 1009
    await bystander.send(p.Ping(nonce=5))
    assert (await bystander.expect(p.Pong)).nonce == 5
    await client.close()
    await bystander.close()


# ------------------------------------------------------------------ routing and calls


async def test_route_accept_connect_and_end(server):
    k = await kiosk(server)
    o = await officer(server)
    await k.send(p.RequestCall(department="kosodate", caller=p.CallerInfo(procedure="ninshin-todoke")))
    queued = await k.expect(p.Queued)
    assert queued.position == 1 and queued.department == "kosodate"
    offer = await o.expect(p.CallOffer)
    assert offer.call_id == queued.call_id
    assert offer.kiosk.name == "上田公民館" and offer.caller.procedure == "ninshin-todoke"
    await o.send(p.AcceptCall(call_id=offer.call_id))
    kc = await k.expect(p.CallConnecting)
    oc = await o.expect(p.CallConnecting)
    assert kc.offerer and not oc.offerer and kc.ice_servers == [] and oc.peer_name == "上田公民館"
    # SDP is relayed verbatim to the other party only.
    await k.send(p.SessionDescription(call_id=offer.call_id, sdp_type="offer", sdp="v=0\r\nfake"))
    assert (await o.expect(p.SessionDescription)).sdp == "v=0\r\nfake"
    await o.send(p.MediaConnected(call_id=offer.call_id))
    await k.send(p.MediaConnected(call_id=offer.call_id))
    await k.expect(p.CallStarted)
    await o.expect(p.CallStarted)
    await o.send(p.EndCall(call_id=offer.call_id, outcome="resolved", notes="児童手当の説明"))
    assert (await k.expect(p.CallEnded)).reason is p.EndReason.COMPLETED
    assert (await o.expect(p.CallEnded)).reason is p.EndReason.COMPLETED
    record = server.store.call(offer.call_id)
    assert (record.state, record.end_reason, record.officer, record.outcome) == (
        "ended",
        "completed",
        "hanako",
        "resolved",
    )
    assert record.answered_at and record.started_at and record.ended_at
    await k.close()
    await o.close()


async def test_third_parties_cannot_inject_into_a_call(server):
    k = await kiosk(server)
    o = await officer(server)
    intruder_kiosk = await kiosk(server, 1)
    intruder_officer = await officer(server, "jiro")
    await intruder_officer.send(p.SetStatus(status="away", reason="meeting"))
    await intruder_officer.expect(p.OfficerState, state="away")
    await k.send(p.RequestCall(department="kosodate"))
    offer = await o.expect(p.CallOffer)
    await o.send(p.AcceptCall(call_id=offer.call_id))
    await k.expect(p.CallConnecting)
    for intruder in (intruder_kiosk, intruder_officer):
        await intruder.send(p.SessionDescription(call_id=offer.call_id, sdp_type="offer", sdp="v=0 evil"))
        assert (await intruder.expect(p.Error)).code is p.ErrorCode.NOT_FOUND
        await intruder.send(p.IceCandidate(call_id=offer.call_id, candidate="candidate:evil"))
        assert (await intruder.expect(p.Error)).code is p.ErrorCode.NOT_FOUND
        await intruder.send(p.EndCall(call_id=offer.call_id))
        assert (await intruder.expect(p.Error)).code is p.ErrorCode.NOT_FOUND
    # The parties got none of it: the next relayed message is the genuine one.
    await k.send(p.SessionDescription(call_id=offer.call_id, sdp_type="offer", sdp="v=0 genuine"))
    assert (await o.expect(p.SessionDescription)).sdp == "v=0 genuine"
    assert not any(isinstance(m, p.SessionDescription) and "evil" in m.sdp for m in o.seen + k.seen)
    for c in (k, o, intruder_kiosk, intruder_officer):
        await c.close()


async def test_officer_cannot_accept_a_call_not_ringing_for_them(server):
    k = await kiosk(server)
    o = await officer(server)
    other = await officer(server, "kenji")  # serves kenko-hoken only: never offered a kosodate call
    await k.send(p.RequestCall(department="kosodate"))
    offer = await o.expect(p.CallOffer)
    await other.send(p.AcceptCall(call_id=offer.call_id))
    assert (await other.expect(p.Error)).code is p.ErrorCode.NOT_FOUND
    await o.send(p.AcceptCall(call_id=offer.call_id))
    await o.expect(p.CallConnecting)
    for c in (k, o, other):
        await c.close()


async def test_decline_reoffers_to_the_next_officer(server):
    k = await kiosk(server)
    first = await officer(server)
    second = await officer(server, "jiro")
    await k.send(p.RequestCall(department="kosodate"))
    rings = {asyncio.ensure_future(o.expect(p.CallOffer)): o for o in (first, second)}
    done, pending = await asyncio.wait(rings, return_when=asyncio.FIRST_COMPLETED)
    ringing_task = done.pop()
    ringing, offer = rings[ringing_task], ringing_task.result()
    other = second if ringing is first else first
    # Longest idle only, not ring-all: the other officer is not ringing.
    assert server.switchboard.router.officer_state(other.seen[0].identity).value == "available"
    for task in pending:
        task.cancel()
    await ringing.send(p.DeclineCall(call_id=offer.call_id))
    assert (await ringing.expect(p.OfferWithdrawn)).reason == "declined"
    assert (await other.expect(p.CallOffer)).call_id == offer.call_id
    for c in (k, first, second):
        await c.close()


async def test_unanswered_rings_time_out_and_the_officer_is_paused(make_server):
    config = test_config()
    quick = [
        d.model_copy(update={"ring_timeout_s": 0.3}) if d.id == "kosodate" else d for d in config.departments
    ]
    async with make_server(config.model_copy(update={"departments": quick})) as server:
        k = await kiosk(server)
        o = await officer(server)
        await k.send(p.RequestCall(department="kosodate"))
        for _ in range(server.config.server.max_unanswered_offers):
            offer = await o.expect(p.CallOffer)
            assert offer.ring_timeout_s == 0.3
            assert (await o.expect(p.OfferWithdrawn)).reason == "timeout"
        state = await o.expect(p.OfficerState, state="away")
        assert state.reason == "no_answer"
        # The resident is still waiting, first in line.
        assert server.switchboard.router.waiting("kosodate") == [offer.call_id]
        await k.close()
        await o.close()


async def test_cancel_while_queued_ends_the_call_as_cancelled(server):
    k = await kiosk(server)
    await k.send(p.RequestCall(department="kenchiku-shido"))
    queued = await k.expect(p.Queued)
    await k.send(p.CancelCall(call_id=queued.call_id))
    assert (await k.expect(p.CallEnded)).reason is p.EndReason.CANCELLED
    assert server.store.call(queued.call_id).end_reason == "cancelled"
    await k.close()


async def test_kiosk_drop_mid_call_ends_it_after_the_grace_and_officer_wraps_up(make_server):
    async with make_server(reconnect_grace_s=0.3) as server:
        k = await kiosk(server)
        o = await officer(server)
        await k.send(p.RequestCall(department="kosodate"))
        offer = await o.expect(p.CallOffer)
        await o.send(p.AcceptCall(call_id=offer.call_id))
        await o.expect(p.CallConnecting)
        await k.close()
        assert (await o.expect(p.CallEnded)).reason is p.EndReason.KIOSK_DISCONNECTED
        assert (await o.expect(p.OfficerState, state="wrap_up")).state == "wrap_up"
        assert server.store.call(offer.call_id).end_reason == "kiosk_disconnected"
        await o.close()


async def test_kiosk_drop_while_waiting_ends_after_the_grace(make_server):
    ended = asyncio.Event()

    def on_event(event: str, _data: dict) -> None:
        if event == "call_ended":
            ended.set()

    async with make_server(reconnect_grace_s=0.3, listeners=[on_event]) as server:
        k = await kiosk(server)
        await k.send(p.RequestCall(department="kenchiku-shido"))
        queued = await k.expect(p.Queued)
        await k.close()
        await asyncio.wait_for(ended.wait(), 5)
        assert server.store.call(queued.call_id).end_reason == "kiosk_disconnected"
        assert server.switchboard.router.waiting("kenchiku-shido") == []


async def test_officer_drop_requeues_the_caller_at_the_head(make_server):
    async with make_server(reconnect_grace_s=0.3) as server:
        k = await kiosk(server)
        o = await officer(server)
        await k.send(p.RequestCall(department="kosodate"))
        offer = await o.expect(p.CallOffer)
        await o.send(p.AcceptCall(call_id=offer.call_id))
        await k.expect(p.CallConnecting)
        await o.close()
        assert (await k.expect(p.CallRequeued)).call_id == offer.call_id
        assert (await k.expect(p.Queued)).position == 1
        backup = await officer(server, "jiro")
        assert (await backup.expect(p.CallOffer)).call_id == offer.call_id
        await k.close()
        await backup.close()


async def test_parties_that_come_back_within_the_grace_resume_the_call(server):
    k = await kiosk(server)
    o = await WireClient.connect(server.url, officer_hello("hanako", PASSWORD))
    session_token = (await o.expect(p.Welcome)).session_token
    await k.send(p.RequestCall(department="kosodate"))
    offer = await o.expect(p.CallOffer)
    await o.send(p.AcceptCall(call_id=offer.call_id))
    for c in (k, o):
        await c.expect(p.CallConnecting)
        await c.send(p.MediaConnected(call_id=offer.call_id))
    for c in (k, o):
        await c.expect(p.CallStarted)
    # Both signaling connections drop (media would go on peer to peer) and come back.
    await k.close()
    await o.close()
    k = await kiosk(server)
    o = await WireClient.connect(
        server.url, p.Hello(v=1, role=p.Role.OFFICER, credentials=p.SessionCredentials(token=session_token))
    )
    await o.expect(p.Welcome)
    assert (await k.expect(p.CallStarted)).call_id == offer.call_id
    assert (await o.expect(p.CallStarted)).call_id == offer.call_id
    assert server.switchboard.router.officer_state("hanako").value == "in_call"
    await k.send(p.SessionDescription(call_id=offer.call_id, sdp_type="offer", sdp="v=0 after-reconnect"))
    assert (await o.expect(p.SessionDescription)).sdp == "v=0 after-reconnect"
    await o.send(p.EndCall(call_id=offer.call_id, outcome="resolved"))
    assert (await k.expect(p.CallEnded)).reason is p.EndReason.COMPLETED
    await k.close()
    await o.close()


async def test_a_waiting_kiosk_that_comes_back_keeps_its_place(server):
    first = await kiosk(server)
    second = await kiosk(server, 1)
    await first.send(p.RequestCall(department="kenchiku-shido"))
    call_id = (await first.expect(p.Queued)).call_id
    await second.send(p.RequestCall(department="kenchiku-shido"))
    assert (await second.expect(p.Queued)).position == 2
    await first.close()
    first = await kiosk(server)
    again = await first.expect(p.Queued)
    assert (again.call_id, again.position) == (call_id, 1)
    await first.close()
    await second.close()


async def test_restart_media_rebuilds_both_sides_once(server):
    k, o, call_id = await started_call(server)
    await k.send(p.RestartMedia(call_id=call_id))
    await o.send(p.RestartMedia(call_id=call_id))  # the other side noticed too: one restart serves both
    for c in (k, o):
        again = await c.expect(p.CallConnecting)
        assert again.restart and again.call_id == call_id
        await c.send(p.Ping(nonce=9))
        await c.expect(p.Pong)
        assert sum(isinstance(m, p.CallConnecting) for m in c.seen) == 2
        await c.send(p.MediaConnected(call_id=call_id))
    await k.expect(p.CallStarted)
    await o.expect(p.CallStarted)
    await k.close()
    await o.close()


async def test_media_that_never_comes_up_ends_as_setup_failed(make_server):
    async with make_server(setup_timeout_s=0.3) as server:
        k = await kiosk(server)
        o = await officer(server)
        await k.send(p.RequestCall(department="kosodate"))
        offer = await o.expect(p.CallOffer)
        await o.send(p.AcceptCall(call_id=offer.call_id))
        assert (await k.expect(p.CallEnded)).reason is p.EndReason.SETUP_FAILED
        assert (await o.expect(p.CallEnded)).reason is p.EndReason.SETUP_FAILED
        await k.close()
        await o.close()


async def test_unknown_and_non_remote_departments_are_refused(server):
    k = await kiosk(server)
    await k.send(p.RequestCall(department="shiminzei"))  # listed for reference, no remote counter
    assert (await k.expect(p.CallRefused)).reason == "unknown_department"
    await k.send(p.RequestCall(department="atlantis"))
    assert (await k.expect(p.CallRefused)).reason == "unknown_department"
    await k.close()


async def test_a_kiosk_has_one_call_at_a_time(server):
    k = await kiosk(server)
    await k.send(p.RequestCall(department="kosodate"))
    await k.expect(p.Queued)
    await k.send(p.RequestCall(department="kenko-hoken"))
    assert (await k.expect(p.Error)).code is p.ErrorCode.CONFLICT
    await k.close()


async def test_a_call_that_ends_while_a_party_is_away_is_told_on_return(server):
    k, o, call_id = await started_call(server)
    await k.close()  # the kiosk's network blips...
    await o.send(p.EndCall(call_id=call_id, outcome="resolved"))  # ...while the officer ends the call
    assert (await o.expect(p.CallEnded)).reason is p.EndReason.COMPLETED
    k = await kiosk(server)
    assert (await k.expect(p.CallEnded)).call_id == call_id
    await k.close()
    await o.close()


async def test_sync_call_tells_a_party_how_its_call_stands(server):
    k = await kiosk(server)
    o = await officer(server)
    await k.send(p.RequestCall(department="kosodate"))
    offer = await o.expect(p.CallOffer)
    await o.send(p.AcceptCall(call_id=offer.call_id))
    await k.expect(p.CallConnecting)
    await o.send(p.EndCall(call_id=offer.call_id, outcome="resolved"))
    await k.expect(p.CallEnded)
    # Suppose that call_ended had died with a connection: the kiosk asks after reconnecting.
    await k.send(p.SyncCall(call_id=offer.call_id))
    assert (await k.expect(p.CallEnded)).reason is p.EndReason.COMPLETED
    intruder = await kiosk(server, 1)
    await intruder.send(p.SyncCall(call_id=offer.call_id))
    assert (await intruder.expect(p.Error)).code is p.ErrorCode.NOT_FOUND
    for c in (k, o, intruder):
        await c.close()


async def test_a_call_ended_into_a_dead_connection_is_told_again_on_return(make_server):
    """The kiosk's connection died unnoticed: the server wrote call_ended into it. On return it hears it."""
    async with make_server(setup_timeout_s=0.3) as server:
        k = await kiosk(server)
        o = await officer(server)
        await k.send(p.RequestCall(department="kosodate"))
        offer = await o.expect(p.CallOffer)
        await o.send(p.AcceptCall(call_id=offer.call_id))
        await o.expect(p.CallConnecting)
        assert (await o.expect(p.CallEnded)).reason is p.EndReason.SETUP_FAILED
        # Everything the kiosk received so far is "lost": it reconnects knowing nothing but its kiosk id.
        again = await kiosk(server)  # replaces the first connection
        ended = await again.expect(p.CallEnded)
        assert (ended.call_id, ended.reason) == (offer.call_id, p.EndReason.SETUP_FAILED)
        for c in (k, o, again):
            await c.close()


async def test_place_changes_are_coalesced_but_the_first_goes_out_at_once(server):
    from signaling_server.routing import QueuePosition

    k = await kiosk(server)
    await k.send(p.RequestCall(department="kenchiku-shido"))
    first = await k.expect(p.Queued)  # at once: the kiosk learns its call id from it
    # Two residents ahead of it leave in the same moment: two changes, one message with the latest place.
    server.switchboard.apply(
        [
            QueuePosition(first.call_id, "kenchiku-shido", 5, 600.0),
            QueuePosition(first.call_id, "kenchiku-shido", 4, 480.0),
        ]
    )
    latest = await k.expect(p.Queued)
    assert (latest.call_id, latest.position, latest.ewt_s) == (first.call_id, 4, 480.0)
    await k.send(p.Ping(nonce=3))
    await k.expect(p.Pong)
    assert [m.position for m in k.seen if isinstance(m, p.Queued)] == [first.position, 4]
    await k.close()
