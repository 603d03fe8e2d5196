"""Requests that provably reached nobody are asked again of the next leader (``Gateway.unheard(nobody=
True)``, ``repoint``): Redis answered their PUBLISH with no listener, so the dead leader never saw them,
and the connection moves instead of closing. A request the old leader may have heard, or a PUBLISH that
failed (part of it may have arrived), still closes the connection. No Redis here: the frames are read
where the gateway publishes them."""

from __future__ import annotations

import asyncio
import json

from remote_call import protocol as p
from signaling_server.cluster.bus import Channels, Frame
from signaling_server.cluster.gateway import REPLAYS_MAX, Gateway
from signaling_server.cluster.lease import Holder
from signaling_server.store import Store
from signaling_server.switchboard import Switchboard
from signaling_server.testing import test_config
from tests.cluster.test_repoint import NODE, Bus, Connection, confirm, follower, handle, kiosk, officer


def published_since(bus: Bus, mark: int) -> list[Frame]:
    return [f for _c, f in bus.frames[mark:]]


async def signed_in_officer() -> tuple[Gateway, Bus, Channels, Connection]:
    """node-b following node-a's term 1, an officer attached there and confirmed."""
    gateway, bus, channels = follower()
    staff = officer("hanako")
    gateway.attach(staff.client)
    await confirm(gateway, bus, channels)
    return gateway, bus, channels, staff


async def test_requests_that_reached_nobody_are_asked_again_of_the_next_leader_after_the_resume():
    gateway, bus, channels = follower()
    staff, resident = officer("hanako"), kiosk("kiosk-ueda")
    gateway.attach(staff.client)
    gateway.attach(resident.client)
    await confirm(gateway, bus, channels)
    start = len(bus.frames)
    handle(gateway, staff, p.AcceptCall(call_id="c1"))  # node-a has died: nobody listens to term 1
    handle(gateway, resident, p.RequestCall(department="kosodate"))
    gateway.unheard(published_since(bus, start), nobody=True)
    assert not staff.closed and not resident.closed
    before = len(bus.frames)
    handle(gateway, staff, p.EndCall(call_id="c1"))  # asked meanwhile: kept, in order, not sent to nobody
    handle(gateway, staff, p.Ping(nonce=7))  # repaired by itself: not kept
    assert len(bus.frames) == before
    gateway.leader = Holder("node-c", 2)
    assert gateway.repoint() == 0 and gateway.replayed == 2
    to_new = [f for c, f in bus.frames[before:] if c == channels.leader(2) and f.kind != "mark"]
    by_conn: dict[str, list[str]] = {}
    for frame in to_new:
        text = json.loads(frame.text)
        by_conn.setdefault(frame.conn, []).append(text.get("type") or f"resume {text['identity']}")
    assert sorted(by_conn.values()) == [
        ["resume hanako", "accept_call", "end_call"],
        ["resume kiosk-ueda", "request_call"],
    ]
    assert not gateway._safe(staff.client, gateway.routes[staff.client])
    await confirm(gateway, bus, channels, epoch=2)  # marked by the new leader, like any request
    assert gateway._safe(staff.client, gateway.routes[staff.client])


async def test_a_request_the_old_leader_may_have_heard_still_closes_its_connection():
    """Its first unconfirmed request was heard (Redis delivered it to the leader, which died before it
    confirmed it): whatever reached nobody after it, the client reconnects and asks what became of it."""
    gateway, bus, _channels, staff = await signed_in_officer()
    handle(gateway, staff, p.AcceptCall(call_id="c1"))  # heard, never confirmed
    start = len(bus.frames)
    handle(gateway, staff, p.EndCall(call_id="c1"))
    gateway.unheard(published_since(bus, start), nobody=True)
    assert staff.closed and not gateway.replays


async def test_a_failed_publish_proves_nothing_and_closes_the_connection():
    gateway, bus, _channels, staff = await signed_in_officer()
    start = len(bus.frames)
    handle(gateway, staff, p.AcceptCall(call_id="c1"))
    gateway.unheard(published_since(bus, start))  # the PUBLISH failed: part of it may have arrived
    assert staff.closed


async def test_a_new_leader_asks_its_own_switchboard_what_its_relayed_connection_asked_of_nobody():
    board = Switchboard(test_config(), Store(":memory:"))
    gateway, bus, channels = follower(board)
    resident = kiosk("kiosk-ueda")
    gateway.attach(resident.client)
    await confirm(gateway, bus, channels)
    start = len(bus.frames)
    handle(gateway, resident, p.RequestCall(department="kosodate"))
    gateway.unheard(published_since(bus, start), nobody=True)
    board.restore()
    gateway.leader = Holder("node-b", 2)  # this node leads now
    assert gateway.repoint() == 0 and not resident.closed
    await asyncio.wait_for(gateway.moves.drained.wait(), 2.0)
    assert board.kiosks["kiosk-ueda"] is resident.client
    assert [c.record.kiosk_id for c in board.calls.values()] == ["kiosk-ueda"]  # the request, handled here
    assert resident.types() == ["queued"]  # its place in the queue: no second welcome


async def test_a_client_whose_attach_went_unanswered_is_attached_to_the_next_leader():
    """Signed in here as the leader died, its attach's reply not back yet when the next leader listens: it
    heard nothing and asked nothing of the old term, so it is attached to the new one like a held client
    (closed, it signed in a second time). One that was welcomed, and may have heard the old term, closes."""
    gateway, bus, channels = follower()
    welcomed, returning = kiosk("kiosk-tonan"), kiosk("kiosk-ueda")
    gateway.attach(welcomed.client)
    conn = bus.to(channels.leader(1), "attach")[-1].conn
    gateway.on_frame(channels.node(NODE), Frame("send", 1, NODE, conn, '{"type":"welcome"}'))
    gateway.attach(returning.client)  # node-a died before it answered
    returning_conn = bus.to(channels.leader(1), "attach")[-1].conn
    gateway.leader = Holder("node-c", 2)
    assert gateway.repoint() == 1 and welcomed.closed and not returning.closed
    attached = bus.to(channels.leader(2), "attach")
    assert [json.loads(f.text)["identity"] for f in attached] == ["kiosk-ueda"]
    gateway.on_frame(channels.node(NODE), Frame("send", 1, NODE, returning_conn, '{"type":"welcome"}'))
    gateway.on_frame(channels.node(NODE), Frame("send", 2, NODE, attached[0].conn, '{"type":"welcome"}'))
    assert returning.texts == ['{"type":"welcome"}']  # the new leader's only: the old term's is fenced


async def test_a_client_that_asks_on_and_on_with_nobody_to_answer_reconnects():
    gateway, bus, _channels, staff = await signed_in_officer()
    start = len(bus.frames)
    handle(gateway, staff, p.SetStatus(status="away", reason="break"))
    gateway.unheard(published_since(bus, start), nobody=True)
    for _ in range(REPLAYS_MAX - 1):
        handle(gateway, staff, p.SetStatus(status="available"))
    assert not staff.closed and len(gateway.replays[staff.client]) == REPLAYS_MAX
    handle(gateway, staff, p.SetStatus(status="available"))
    assert staff.closed and not gateway.replays
