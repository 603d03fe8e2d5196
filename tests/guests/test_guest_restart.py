"""Guest links outlive a server restart (they are in the record database, docs/guests.md): the server is
stopped and a new one started on the same database, as after a crash or an upgrade. A link made before
still works while its call goes on, a used one stays used, a guest in the call signs in again with its
session, and the call's end after the restart ends every link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from remote_call import protocol as p
from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.testing import WireClient, test_config

from .guesting import PASSWORD, call, close_all, guest, make_link, redeem, secret_of


@pytest.fixture
def make_server(tmp_path: Path, request):
    """Servers one after the other on one database (SQLite, or PostgreSQL with
    MADOGUCHI_TEST_ENGINE=postgresql): the second finds the first's accounts and records."""
    database: str | Path = tmp_path / "madoguchi.sqlite3"
    if os.environ.get("MADOGUCHI_TEST_ENGINE") == "postgresql":
        database = request.getfixturevalue("postgres_url")

    def factory() -> EmbeddedServer:
        config = test_config()
        server = EmbeddedServer(config, database)
        # provision keeps existing accounts and issues the kiosk a new token
        server.fleet = provision(
            server.store, config, kiosk_ids=["kiosk-ueda"], officers=["hanako"], password=PASSWORD
        )
        return server

    return factory


async def parties_back(server) -> tuple[WireClient, WireClient]:
    """The kiosk and the officer reconnect to the restarted server (their call was held for them)."""
    kiosk = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
    officer = await WireClient.officer(server.url, "hanako", PASSWORD)
    return kiosk, officer


async def test_a_link_made_before_a_restart_works_after_it_and_a_used_one_stays_used(make_server):
    async with make_server() as first:
        kiosk, officer, call_id = await call(first)
        fresh = await make_link(first, officer, call_id, name="娘 さくら")
        spent = await make_link(first, officer, call_id)
        status, _ = await redeem(first, secret_of(spent))
        assert status == 200
        await close_all(kiosk, officer)
    async with make_server() as second:
        assert call_id in second.switchboard.calls  # restored from the records, held for its parties
        status, refused = await redeem(second, secret_of(spent))
        assert (status, refused["error"]) == (409, "used")  # single use across the restart
        status, redeemed = await redeem(second, secret_of(fresh))
        assert status == 200 and (redeemed["call_id"], redeemed["name"]) == (call_id, "娘 さくら")
        kiosk, officer = await parties_back(second)
        g = await guest(second, redeemed["session_token"])
        try:
            assert (await g.expect(p.CallConnecting, peer="caller")).offerer is True
            assert (await kiosk.expect(p.CallConnecting, peer="guest")).peer_name == "娘 さくら"
            assert second.switchboard.calls[call_id].guest == f"guest-{fresh['link_id']}"
            await officer.send(p.EndCall(call_id=call_id, outcome="resolved"))
            assert (await g.expect(p.CallEnded)).call_id == call_id
        finally:
            await close_all(g, kiosk, officer)
        status, refused = await redeem(second, secret_of(fresh))
        assert (status, refused["error"]) == (409, "used")
        entries = second.switchboard.audit.entries(target=call_id)
        assert [e.action for e in entries if e.action == "guest_link_refused"] == ["guest_link_refused"] * 2


async def test_a_guest_in_the_call_rejoins_with_its_session_after_a_restart(make_server):
    async with make_server() as first:
        kiosk, officer, call_id = await call(first)
        answer = await make_link(first, officer, call_id)
        spare = await make_link(first, officer, call_id)
        status, redeemed = await redeem(first, secret_of(answer))
        g = await guest(first, redeemed["session_token"])
        await kiosk.expect(p.CallConnecting, peer="guest")
        await close_all(g, kiosk, officer)  # the server goes down under all of them
    async with make_server() as second:
        kiosk, officer = await parties_back(second)
        g = await guest(second, redeemed["session_token"])  # the page reconnects with the same session
        try:
            assert (await g.expect(p.CallConnecting, peer="officer")).offerer is True
            assert (await officer.expect(p.CallConnecting, peer="guest")).offerer is False
            await g.send(p.SessionDescription(call_id=call_id, sdp_type="offer", sdp="v=0 g", peer="officer"))
            assert (await officer.expect(p.SessionDescription)).peer == "guest"
            await officer.send(p.EndCall(call_id=call_id, outcome="resolved"))
            assert (await g.expect(p.CallEnded)).call_id == call_id
        finally:
            await close_all(g, kiosk, officer)
        status, refused = await redeem(second, secret_of(spare))
        assert (status, refused["error"]) == (410, "ended")  # the call's end ended its other links too
        again = await WireClient.connect(
            second.url,
            p.Hello(
                v=p.PROTOCOL_VERSION,
                role=p.Role.GUEST,
                credentials=p.SessionCredentials(token=redeemed["session_token"]),
            ),
        )
        try:
            assert (await again.expect(p.Error)).code is p.ErrorCode.UNAUTHENTICATED
        finally:
            await again.close()
