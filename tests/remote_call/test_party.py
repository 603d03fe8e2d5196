"""CallParty through a real server: a dead media path is noticed by link pings and rebuilt (same call)."""

from __future__ import annotations

import asyncio

from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from staff_console.controller import ConsoleController

PASSWORD = "correct horse battery"
TIMEOUT = 20.0


def cut_outgoing_media(session) -> None:
    """Drop every datagram this peer connection sends: the path is dead, signaling is untouched."""
    ice = session.pc.getTransceivers()[0].sender.transport.transport
    for protocol in ice._connection._protocols:
        protocol.transport.sendto = lambda *args, **kwargs: None


async def more_frames(session, count: int) -> None:
    start = session.remote_video.count
    arrived = asyncio.Event()
    session.remote_video.listeners.append(
        lambda _frame: session.remote_video.count - start >= count and arrived.set()
    )
    await asyncio.wait_for(arrived.wait(), TIMEOUT)


async def test_dead_media_path_is_rebuilt_for_the_same_call(server):
    kiosk = KioskController(
        server.url,
        "kiosk-ueda",
        server.fleet.kiosk_tokens["kiosk-ueda"],
        SimulatedMedia("kiosk", 320, 240, 15, 440),
    )
    officer = ConsoleController(server.url, "hanako", PASSWORD, SimulatedMedia("officer", 320, 240, 15, 660))
    for party in (kiosk.party, officer.party):
        party.link_dead_s = 2.0  # the default is 5 s; shorter keeps the test quick
    try:
        await kiosk.start()
        await officer.start()
        ringing = asyncio.ensure_future(officer.events.wait("ring", TIMEOUT))
        await kiosk.request_call("kosodate")
        await ringing
        started = asyncio.ensure_future(officer.events.wait("call_started", TIMEOUT))
        await officer.accept()
        call_id = (await started)["call_id"]
        first_session = officer.party.session
        await more_frames(first_session, 10)
        assert officer.party.link_rtt_ms is not None  # link pings are answered

        # Whichever side notices first asks for the restart (the other's own detection is then moot).
        lost = [
            asyncio.ensure_future(c.events.wait("media_lost", TIMEOUT, call_id=call_id))
            for c in (kiosk, officer)
        ]
        rebuilt = asyncio.ensure_future(
            officer.events.wait("call_connecting", TIMEOUT, call_id=call_id, restart=True)
        )
        restarted = asyncio.ensure_future(officer.events.wait("call_started", TIMEOUT, call_id=call_id))
        cut_outgoing_media(kiosk.party.session)
        done, pending = await asyncio.wait(lost, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        assert done, "neither side noticed the dead media path"
        for waiter in pending:
            waiter.cancel()
        await rebuilt
        await restarted
        assert officer.party.session is not first_session and officer.party.call_id == call_id
        await more_frames(officer.party.session, 10)
        await more_frames(kiosk.party.session, 10)
        ended = asyncio.ensure_future(kiosk.events.wait("call_ended", TIMEOUT))
        await officer.end_call("resolved")
        assert (await ended)["reason"] == "completed"
    finally:
        await kiosk.stop()
        await officer.stop()


async def test_a_fresh_offer_on_an_established_session_is_answered_afresh(server):
    """The officer missed a restart's call_connecting (its connection blipped): the kiosk's new offer
    arrives on the officer's old session; the officer rebuilds and the call carries on."""
    from remote_call import protocol as p

    kiosk = KioskController(
        server.url,
        "kiosk-ueda",
        server.fleet.kiosk_tokens["kiosk-ueda"],
        SimulatedMedia("kiosk", 320, 240, 15, 440),
    )
    officer = ConsoleController(server.url, "hanako", PASSWORD, SimulatedMedia("officer", 320, 240, 15, 660))
    try:
        await kiosk.start()
        await officer.start()
        ringing = asyncio.ensure_future(officer.events.wait("ring", TIMEOUT))
        await kiosk.request_call("kosodate")
        await ringing
        started = asyncio.ensure_future(officer.events.wait("call_started", TIMEOUT))
        await officer.accept()
        call_id = (await started)["call_id"]
        old = officer.party.session
        await more_frames(old, 5)
        # Only the kiosk rebuilds (as if the officer never got the restart's call_connecting).
        connecting = kiosk.party._connecting.model_copy(update={"restart": True})
        rebuilt = asyncio.ensure_future(officer.events.wait("call_connecting", TIMEOUT, call_id=call_id))
        await kiosk.party.handle(connecting)
        await rebuilt
        await more_frames(officer.party.session, 10)
        await more_frames(kiosk.party.session, 10)
        assert officer.party.session is not old and officer.party.call_id == call_id
        assert isinstance(connecting, p.CallConnecting)
    finally:
        await kiosk.stop()
        await officer.stop()
