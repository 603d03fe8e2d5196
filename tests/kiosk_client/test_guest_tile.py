"""A family member who joined by link reaches the kiosk's guest tile (kiosk_client.guest), Qt-free: a real
server, the kiosk's and the officer's headless controllers, and the guest as a Python party (its link made
by the console's own client, redeemed over HTTP, ``hello`` as role guest, a ``Conference`` offering to each
party): real aiortc on loopback everywhere. The guest's frames reach the tile's source; when the guest
leaves the tile has nothing; the call's end leaves nothing of the guest on the kiosk."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp

from devtools.headless import connect_call, start_console, start_kiosk
from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from kiosk_client.guest import GuestTile
from remote_call import protocol as p
from remote_call.conference import Conference
from remote_call.events import EventHub
from signaling_server.testing import WireClient
from staff_console.controller import ConsoleController

TIMEOUT = 40.0
FRAMES = 15


class HeadlessGuest:
    """The family member's browser, played by a Python party: the page's redeem → hello → join flow."""

    def __init__(self, client: WireClient, call_id: str) -> None:
        self.client = client
        self.call_id = call_id
        self.events = EventHub()
        self.conference = Conference(client.send, SimulatedMedia("family", 160, 120, 15, 550.0), self.events)
        self._pump = asyncio.ensure_future(self._read())

    @classmethod
    async def join(cls, server: Any, console: ConsoleController) -> HeadlessGuest:
        link = await console.guests.create(name="盛岡 太郎")
        secret = link.link.split("#", 1)[1]
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{server.http_url}/api/guests/redeem", json={"secret": secret}) as response,
        ):
            assert response.status == 200, await response.text()
            answer = await response.json()
        hello = p.Hello(
            v=p.PROTOCOL_VERSION,
            role=p.Role.GUEST,
            credentials=p.SessionCredentials(token=answer["session_token"]),
        )
        client = await WireClient.connect(server.url, hello)
        await client.expect(p.Welcome, TIMEOUT)
        return cls(client, answer["call_id"])

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                await self.conference.handle(await self.client.receive(timeout=3600))

    async def leave(self) -> None:
        await self.client.send(p.LeaveCall(call_id=self.call_id))

    async def close(self) -> None:
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        await self.conference.close_all()
        await self.client.close()


async def guest_frames(kiosk: KioskController, tile: GuestTile, count: int) -> None:
    """Until the kiosk has received ``count`` video frames from the guest (the session's own event)."""
    await kiosk.events.wait("peer_connected", TIMEOUT, peer="guest")
    session = kiosk.conference.session("guest")
    assert session is not None
    enough = asyncio.Event()

    def counted(_frame: object) -> None:
        if tile.frames >= count:
            enough.set()

    session.remote_video.listeners.append(counted)
    if tile.frames < count:
        await asyncio.wait_for(enough.wait(), TIMEOUT)
    assert tile.frames >= count


async def test_the_guests_frames_reach_the_kiosks_tile_and_go_with_the_guest(make_server):
    async with make_server() as server:
        kiosk = await start_kiosk(server)
        console = await start_console(server)
        guest: HeadlessGuest | None = None
        try:
            call_id = await connect_call(server, kiosk, console)
            tile = GuestTile(kiosk.conference)
            assert not tile.present and tile.frame() is None and tile.frames == 0

            joined = asyncio.ensure_future(kiosk.events.wait("peer_connecting", TIMEOUT, peer="guest"))
            guest = await HeadlessGuest.join(server, console)
            assert guest.call_id == call_id
            assert (await joined)["peer_name"] == "盛岡 太郎"
            await guest_frames(kiosk, tile, FRAMES)
            assert tile.present
            frame = tile.frame()
            assert frame is not None and (frame.width, frame.height) == (160, 120)  # the guest's camera

            left = asyncio.ensure_future(kiosk.events.wait("peer_left", TIMEOUT, peer="guest"))
            await guest.leave()
            assert (await left)["reason"] == "left"
            assert not tile.present and tile.frame() is None and tile.frames == 0
            assert kiosk.resident.call_id == call_id and kiosk.party.session is not None  # the call goes on
        finally:
            if guest is not None:
                await guest.close()
            await asyncio.gather(kiosk.stop(), console.stop(), return_exceptions=True)


async def test_the_calls_end_leaves_nothing_of_the_guest_on_the_kiosk(make_server):
    async with make_server() as server:
        kiosk = await start_kiosk(server)
        console = await start_console(server)
        guest: HeadlessGuest | None = None
        try:
            await connect_call(server, kiosk, console)
            tile = GuestTile(kiosk.conference)
            guest = await HeadlessGuest.join(server, console)
            await guest_frames(kiosk, tile, 5)
            session = kiosk.conference.session("guest")
            assert session is not None

            ended = asyncio.ensure_future(kiosk.events.wait("call_ended", TIMEOUT))
            await console.end_call()
            await ended
            assert not tile.present and tile.frame() is None
            assert not kiosk.conference.links and kiosk.conference.call_id is None
            assert session.closed.is_set() and session.remote_video.frame is None
        finally:
            if guest is not None:
                await guest.close()
            await asyncio.gather(kiosk.stop(), console.stop(), return_exceptions=True)
