"""The ``business`` role through a real server: sign-in with the redeemed session, one call for its
department, the ring that names the business, the session's end, revocation, and everything else refused."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from remote_call import protocol as p
from signaling_server.embedded import EmbeddedServer
from signaling_server.testing import WireClient

from .conftest import post_json, sign_in

pytestmark = pytest.mark.asyncio

PASSWORD = "correct horse battery"
DEPARTMENT = "kenchiku-shido"
COMPANY = "盛岡設計事務所"


async def business_session(
    server: Any, http: aiohttp.ClientSession, **fields: Any
) -> tuple[str, dict[str, Any]]:
    """An invitation made by hanako and redeemed: (session token, the invitation as created)."""
    token = await sign_in(server)
    body = {
        "department": DEPARTMENT,
        "company": COMPANY,
        "contact_name": "山田 太郎",
        "email": "yamada@example.jp",
        "purpose": "確認申請の事前相談",
        "appointment_id": "apt-42",
    } | fields
    status, created = await post_json(http, server.http_url + "/api/invitations", body, token)
    assert status == 201, created
    secret = created["link"].split("#", 1)[1]
    status, redeemed = await post_json(http, server.http_url + "/api/business/redeem", {"secret": secret})
    assert status == 200, redeemed
    return redeemed["session_token"], created


def business_hello(token: str) -> p.Hello:
    return p.Hello(v=p.PROTOCOL_VERSION, role=p.Role.BUSINESS, credentials=p.SessionCredentials(token=token))


async def business(server: Any, token: str) -> tuple[WireClient, p.Welcome]:
    client = await WireClient.connect(server.url, business_hello(token))
    welcome = await client.expect(p.Welcome)
    return client, welcome


async def test_a_business_signs_in_calls_its_department_and_the_officer_sees_who_it_is(make_server):
    async with make_server() as server, aiohttp.ClientSession() as http:
        token, created = await business_session(server, http)
        biz, welcome = await business(server, token)
        assert (welcome.role, welcome.identity) == (p.Role.BUSINESS, f"biz-{created['invitation_id']}")
        assert welcome.display_name == COMPANY and welcome.kiosk is None
        assert welcome.business is not None and welcome.business.appointment_id == "apt-42"
        assert welcome.business.department == DEPARTMENT
        officer = await WireClient.officer(server.url, "hanako", PASSWORD)
        await biz.send(p.RequestCall(department=DEPARTMENT))
        offer = await officer.expect(p.CallOffer)
        assert offer.business == welcome.business
        assert (offer.kiosk.id, offer.kiosk.name, offer.kiosk.location) == (
            welcome.identity, COMPANY, "業者 / business",
        )  # fmt: skip
        await officer.send(p.AcceptCall(call_id=offer.call_id))
        connecting = await biz.expect(p.CallConnecting)
        assert connecting.offerer is True  # the browser offers, as a kiosk does
        division = server.config.departments[[d.id for d in server.config.departments].index(DEPARTMENT)]
        assert connecting.peer_name == f"{division.name_ja} hanako"  # the officer's name, once accepted
        assert (await officer.expect(p.CallConnecting)).peer_name == COMPANY
        await biz.send(p.SessionDescription(call_id=offer.call_id, sdp_type="offer", sdp="v=0"))
        assert (await officer.expect(p.SessionDescription)).sdp == "v=0"  # relayed to its officer
        for client in (biz, officer):
            await client.send(p.MediaConnected(call_id=offer.call_id))
        for client in (biz, officer):
            await client.expect(p.CallStarted)
        # A second request while the call lives is a conflict.
        await biz.send(p.RequestCall(department=DEPARTMENT))
        assert (await biz.expect(p.Error)).code is p.ErrorCode.CONFLICT
        await officer.send(p.EndCall(call_id=offer.call_id, outcome="resolved"))
        assert (await biz.expect(p.CallEnded)).reason is p.EndReason.COMPLETED
        assert server.store.call(offer.call_id).business is not None  # remembered as a business call
        # Its one thing is done: no second call on this connection, and no new sign-in.
        await biz.send(p.RequestCall(department=DEPARTMENT))
        error = await biz.expect(p.Error)
        assert error.code is p.ErrorCode.FORBIDDEN and "over" in error.detail
        again = await WireClient.connect(server.url, business_hello(token))
        assert (await again.expect(p.Error)).code is p.ErrorCode.UNAUTHENTICATED
        for client in (biz, officer, again):
            await client.close()


async def test_a_business_may_not_call_another_department(make_server):
    async with make_server() as server, aiohttp.ClientSession() as http:
        token, _ = await business_session(server, http)
        biz, _ = await business(server, token)
        await biz.send(p.RequestCall(department="kosodate"))
        error = await biz.expect(p.Error)
        assert (error.code, error.about) == (p.ErrorCode.FORBIDDEN, "request_call")
        assert "kenchiku-shido" in error.detail
        assert server.switchboard.calls == {}
        await biz.close()


CALL_ID = "0123456789abcdef"
OTHER_MESSAGES: list[p.Wire] = [
    p.SetStatus(status="available"),
    p.AcceptCall(call_id=CALL_ID),
    p.DeclineCall(call_id=CALL_ID),
    p.SetShift(departments=[DEPARTMENT]),
    p.TransferCall(call_id=CALL_ID, to_department="kosodate", note="", warm=False),
    p.CancelTransfer(call_id=CALL_ID),
    p.CaseEvent(call_id=CALL_ID, action="document_shown", doc_id="d1"),
    p.ActionResult(action_id="a1", ok=True),
    p.Heartbeat(app_version="1", uptime_s=1, cpu_percent=1, memory_percent=1, disk_percent=1),
]


async def test_a_business_is_refused_every_kiosk_only_and_officer_only_message(make_server):
    async with make_server() as server, aiohttp.ClientSession() as http:
        token, _ = await business_session(server, http)
        biz, _ = await business(server, token)
        for message in OTHER_MESSAGES:
            await biz.send(message)
            error = await biz.expect(p.Error)
            assert (error.code, error.about) == (p.ErrorCode.FORBIDDEN, message.type), message  # type: ignore[attr-defined]
        await biz.send(p.Ping(nonce=7))
        assert (await biz.expect(p.Pong)).nonce == 7  # still connected, and ping is allowed
        await biz.close()


async def test_a_business_cannot_touch_a_kiosks_call(make_server):
    async with make_server() as server, aiohttp.ClientSession() as http:
        kiosk_id = "kiosk-ueda"
        kiosk = await WireClient.kiosk(server.url, kiosk_id, server.fleet.kiosk_tokens[kiosk_id])
        await kiosk.send(p.RequestCall(department=DEPARTMENT))
        call_id = (await kiosk.expect(p.Queued)).call_id
        token, _ = await business_session(server, http)
        biz, _ = await business(server, token)
        for message in (
            p.CancelCall(call_id=call_id),
            p.EndCall(call_id=call_id),
            p.SessionDescription(call_id=call_id, sdp_type="offer", sdp="v=0"),
        ):
            await biz.send(message)
            assert (await biz.expect(p.Error)).code is p.ErrorCode.NOT_FOUND
        assert call_id in server.switchboard.calls
        for client in (kiosk, biz):
            await client.close()


@pytest.mark.parametrize(
    "credentials",
    [
        p.SessionCredentials(token="A" * 43),
        p.PasswordCredentials(username="hanako", password=PASSWORD),
        p.DeviceTokenCredentials(kiosk_id="kiosk-ueda", token="A" * 43),
    ],
)
async def test_business_sign_in_needs_a_business_session(make_server, credentials):
    async with make_server() as server:
        client = await WireClient.connect(
            server.url, p.Hello(v=p.PROTOCOL_VERSION, role=p.Role.BUSINESS, credentials=credentials)
        )
        assert (await client.expect(p.Error)).code is p.ErrorCode.UNAUTHENTICATED
        await client.close()


async def test_a_staff_session_cannot_sign_in_as_a_business_nor_a_business_as_staff(make_server):
    async with make_server() as server, aiohttp.ClientSession() as http:
        token, _ = await business_session(server, http)
        staff = await sign_in(server)
        for role, secret in ((p.Role.BUSINESS, staff), (p.Role.OFFICER, token)):
            client = await WireClient.connect(
                server.url,
                p.Hello(v=p.PROTOCOL_VERSION, role=role, credentials=p.SessionCredentials(token=secret)),
            )
            assert (await client.expect(p.Error)).code is p.ErrorCode.UNAUTHENTICATED
            await client.close()


async def test_revoking_ends_a_live_business_session(make_server):
    async with make_server() as server, aiohttp.ClientSession() as http:
        token, created = await business_session(server, http)
        biz, _ = await business(server, token)
        officer = await WireClient.officer(server.url, "hanako", PASSWORD)
        await biz.send(p.RequestCall(department=DEPARTMENT))
        offer = await officer.expect(p.CallOffer)
        staff = await sign_in(server, "jiro")  # not hanako: her second connection would replace the first
        async with http.delete(
            server.http_url + f"/api/invitations/{created['invitation_id']}",
            headers={"Authorization": f"Bearer {staff}"},
        ) as response:
            assert response.status == 200 and (await response.json())["status"] == "revoked"
        error = await biz.expect(p.Error)
        assert error.code is p.ErrorCode.UNAUTHENTICATED and "revoked" in error.detail
        assert await biz.closed() is not None
        assert (await officer.expect(p.OfferWithdrawn)).call_id == offer.call_id
        assert server.switchboard.calls == {}
        for client in (biz, officer):
            await client.close()


async def test_businesses_are_not_kiosks_to_monitoring_and_appear_on_the_supervisors_stats(make_server):
    async with make_server() as server, aiohttp.ClientSession() as http:
        token, created = await business_session(server, http)
        biz, welcome = await business(server, token)
        await biz.send(p.RequestCall(department=DEPARTMENT))
        await biz.expect(p.Queued)
        async with http.get(server.http_url + "/healthz") as response:
            health = await response.json()
        assert health["kiosks"] == 0 and welcome.identity in server.switchboard.businesses
        from signaling_server.monitor import MONITOR

        monitor = server.app.get(MONITOR)
        if monitor is not None:
            assert welcome.identity not in monitor.health.kiosks
        stats = server.switchboard.stats()["departments"][DEPARTMENT]
        assert [s["invitation_id"] for s in stats["business_sessions"]] == [created["invitation_id"]]
        assert stats["business_sessions"][0]["company"] == COMPANY and stats["business_sessions_today"] == 1
        assert server.switchboard.stats()["departments"]["kosodate"]["business_sessions"] == []
        await biz.close()


async def test_a_business_back_within_the_grace_resumes_and_its_list_shows_the_call(make_server):
    async with make_server() as server, aiohttp.ClientSession() as http:
        token, created = await business_session(server, http)
        biz, _ = await business(server, token)
        await biz.send(p.RequestCall(department=DEPARTMENT))
        call_id = (await biz.expect(p.Queued)).call_id
        await biz.close()  # a lost network: the session token signs it in again
        again, _ = await business(server, token)
        assert (await again.expect(p.Queued)).call_id == call_id
        staff = await sign_in(server)
        async with http.get(
            server.http_url + "/api/invitations", headers={"Authorization": f"Bearer {staff}"}
        ) as response:
            listed = await response.json()
        mine = next(i for i in listed if i["invitation_id"] == created["invitation_id"])
        assert (mine["status"], mine["call_ids"]) == ("in_call", [call_id])
        await again.close()


async def test_a_waiting_business_keeps_its_place_and_its_name_over_a_server_restart(make_server):
    async with aiohttp.ClientSession() as http:
        async with make_server() as server:
            token, created = await business_session(server, http)
            biz, _ = await business(server, token)
            await biz.send(p.RequestCall(department=DEPARTMENT))
            call_id = (await biz.expect(p.Queued)).call_id
        await biz.close()
        async with EmbeddedServer(server.config, server.store.path) as restarted:  # the same database
            again, _ = await business(restarted, token)
            assert (await again.expect(p.Queued)).call_id == call_id
            officer = await WireClient.officer(restarted.url, "hanako", PASSWORD)
            offer = await officer.expect(p.CallOffer)
            assert offer.call_id == call_id and offer.business is not None
            assert offer.business.invitation_id == created["invitation_id"]
            for client in (again, officer):
                await client.close()
