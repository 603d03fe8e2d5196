"""A family member's link on a cluster (docs/guests.md): the officer makes it on the follower's REST, the
guest redeems it there and signs in there; the follower authenticates the guest from the shared database
and relays it to the leader, whose guest room puts it into the call. Real redis-server, one database."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from remote_call import protocol as p
from signaling_server.cluster.node import CLUSTER
from signaling_server.embedded import EmbeddedServer
from signaling_server.testing import WireClient, call_in_progress
from tests.cluster.nodes import PASSWORD, node_config, provision_fleet

# No failover is wanted here: a lease that outlasts a starved event loop on a loaded machine (the nodes'
# own 1.5 s would let a follower take over mid-test and close every connection).
STEADY_LEASE_S = 10.0


def steady(config):
    cluster = config.server.cluster.model_copy(update={"lease_ttl_s": STEADY_LEASE_S})
    return config.model_copy(update={"server": config.server.model_copy(update={"cluster": cluster})})


async def post(url: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as response:
        return response.status, await response.json()


def session_of(client: WireClient) -> str:
    welcome = next(m for m in client.seen if isinstance(m, p.Welcome))
    assert welcome.session_token
    return welcome.session_token


async def test_a_guest_link_made_redeemed_and_signed_in_on_the_follower_joins_the_leaders_call(
    redis_server, tmp_path: Path
):
    database = tmp_path / "madoguchi.sqlite3"
    config_a = steady(node_config(redis_server.url, "node-a", database))
    config_b = steady(node_config(redis_server.url, "node-b", database))
    fleet = provision_fleet(config_a, ["kiosk-ueda"], ["hanako"])
    async with EmbeddedServer(config_a, database) as a, EmbeddedServer(config_b, database) as b:
        assert a.app[CLUSTER].leading and not b.app[CLUSTER].leading
        kiosk, officer, call_id = await call_in_progress(
            b.url, "kiosk-ueda", fleet.kiosk_tokens["kiosk-ueda"], "hanako", PASSWORD
        )
        guest = None
        try:
            status, made = await post(
                f"{b.http_url}/api/calls/{call_id}/guest-links", {"name": "息子 たろう"}, session_of(officer)
            )
            assert status == 201, made  # the follower found the officer's live call in the records
            secret = made["link"].split("#", 1)[1]
            status, redeemed = await post(f"{b.http_url}/api/guests/redeem", {"secret": secret})
            assert status == 200 and redeemed["call_id"] == call_id and redeemed["department"]["ja"]
            assert redeemed["ws_url"] == b.url  # the guest stays on the node it reached
            hello = p.Hello(
                v=p.PROTOCOL_VERSION,
                role=p.Role.GUEST,
                credentials=p.SessionCredentials(token=redeemed["session_token"]),
            )
            guest = await WireClient.connect(b.url, hello)
            welcome = await guest.expect(p.Welcome, timeout=10)
            assert (welcome.role, welcome.display_name) == (p.Role.GUEST, "息子 たろう")
            assert b.app[CLUSTER].gateway.counts()["relayed"] == 3  # kiosk, officer and guest
            # The leader's guest room took the relayed guest: both pairs are set up and relay.
            assert (await guest.expect(p.CallConnecting, peer="caller", timeout=10)).offerer is True
            assert (await kiosk.expect(p.CallConnecting, peer="guest", timeout=10)).peer_name == "息子 たろう"
            await officer.expect(p.CallConnecting, peer="guest", timeout=10)
            assert a.switchboard.calls[call_id].guest == welcome.identity and not b.switchboard.calls
            await guest.send(
                p.SessionDescription(call_id=call_id, sdp_type="offer", sdp="v=0 g", peer="caller")
            )
            assert (await kiosk.expect(p.SessionDescription, timeout=10)).peer == "guest"
            # Single use on every node: the leader refuses the spent link.
            status, refused = await post(f"{a.http_url}/api/guests/redeem", {"secret": secret})
            assert (status, refused["error"]) == (409, "used")
            # A second link redeemed on the follower, which cannot tell the call is full: the leader
            # refuses the second family member at the door, and its session joins once there is room.
            status, second = await post(
                f"{b.http_url}/api/calls/{call_id}/guest-links", {}, session_of(officer)
            )
            assert status == 201, second
            status, later = await post(
                f"{b.http_url}/api/guests/redeem", {"secret": second["link"].split("#")[1]}
            )
            assert status == 200
            later_hello = hello.model_copy(
                update={"credentials": p.SessionCredentials(token=later["session_token"])}
            )
            door = await WireClient.connect(b.url, later_hello)
            refused = await door.expect(p.Error, timeout=10)
            assert (refused.code, refused.detail) == (
                p.ErrorCode.CONFLICT,
                "the call already has a family member in it",
            )
            await door.close()
            await guest.send(p.LeaveCall(call_id=call_id))
            assert (await kiosk.expect(p.PartyLeft, party="guest", timeout=10)).reason == "left"
            assert (await guest.expect(p.CallEnded, timeout=10)).call_id == call_id
            await guest.close()
            guest = await WireClient.connect(b.url, later_hello)  # room now: the kept session joins
            assert (await guest.expect(p.CallConnecting, peer="officer", timeout=10)).offerer is True
            assert a.switchboard.calls[call_id].guest == f"guest-{second['link_id']}"
        finally:
            for client in (guest, kiosk, officer):
                if client is not None:
                    await client.close()
