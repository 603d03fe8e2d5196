"""End to end, a real server: a headless kiosk, an officer and an interpreter (aiortc on every side, simulated
cameras and microphones). The officer requests an interpreter, the interpreter accepts and joins; video flows
between every pair (>= 30 frames in each of the six directions); the interpreter leaves and the kiosk and the
officer go on with frames still flowing; the simulator's three-way run holds."""

from __future__ import annotations

import asyncio

from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from simulator.three_way import (
    DIRECTIONS,
    Parties,
    ThreeWayOptions,
    add_interpreter,
    run_calls,
    succeeded,
)
from staff_console.controller import ConsoleController
from staff_console.interpreter import InterpreterController

PASSWORD = "correct horse battery"
TIMEOUT = 40.0
FRAMES = 30


def media(label: str, tone: float) -> SimulatedMedia:
    return SimulatedMedia(label, 160, 120, 15, tone)


async def test_interpreter_joins_every_pair_has_video_and_the_call_survives_the_leave(server):
    add_interpreter(server, "mai", PASSWORD, ["ne", "jsl"])
    kiosk = KioskController(
        server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"], media("kiosk", 440)
    )
    officer = ConsoleController(server.url, "hanako", PASSWORD, media("officer", 660))
    interpreter = InterpreterController(server.url, "mai", PASSWORD, media("interpreter", 880))
    parties = Parties(kiosk, officer, interpreter)
    try:
        await asyncio.gather(kiosk.start(TIMEOUT), officer.start(TIMEOUT), interpreter.start(TIMEOUT))
        assert interpreter.languages == ["jsl", "ne"]
        await officer.set_available()
        await interpreter.set_available()
        ringing = asyncio.ensure_future(officer.events.wait("ring", TIMEOUT))
        await kiosk.request_call("kosodate")
        call_id = (await ringing)["call_id"]
        started = asyncio.ensure_future(officer.events.wait("call_started", TIMEOUT, call_id=call_id))
        await officer.accept()
        await started
        primary = (kiosk.party.session, officer.party.session)

        offered = asyncio.ensure_future(interpreter.events.wait("ring", TIMEOUT, call_id=call_id))
        officer_told = asyncio.ensure_future(
            officer.events.wait("interpreter_status", TIMEOUT, state="joined")
        )
        kiosk_told = asyncio.ensure_future(kiosk.events.wait("interpreter_status", TIMEOUT, state="joined"))
        await officer.interpreter.request("ne")
        assert (await offered)["language"] == "ne"
        await interpreter.accept()
        assert (await officer_told)["language"] == "ne" and (await kiosk_told)["call_id"] == call_id

        await parties.watch.until(lambda: min(parties.counts().values()) >= FRAMES, TIMEOUT)
        counts = parties.counts()
        assert set(counts) == set(DIRECTIONS) and min(counts.values()) >= FRAMES
        # The caller<->officer pair was never rebuilt by the third party's arrival.
        assert (kiosk.party.session, officer.party.session) == primary

        pair = (("caller", "officer"), ("officer", "caller"))
        before = parties.counts(pair)
        kiosk_left = asyncio.ensure_future(kiosk.events.wait("peer_left", TIMEOUT, peer="interpreter"))
        officer_left = asyncio.ensure_future(officer.events.wait("peer_left", TIMEOUT, peer="interpreter"))
        await interpreter.leave()
        assert (await kiosk_left)["reason"] == "left" and (await officer_left)["reason"] == "left"
        assert not kiosk.conference.links and not officer.conference.links and not interpreter.in_call

        await parties.watch.until(
            lambda: all(parties.counts(pair)[key] - before[key] >= FRAMES for key in pair), TIMEOUT
        )
        assert (kiosk.party.session, officer.party.session) == primary
        assert all(not session.closed.is_set() for session in primary if session is not None)
        assert kiosk.resident.call_id == call_id and officer.call_id == call_id  # the call goes on
    finally:
        await asyncio.gather(kiosk.stop(), officer.stop(), interpreter.stop(), return_exceptions=True)


def cut_outgoing_media(session) -> None:
    """Drop every datagram this peer connection sends: its network is gone, nothing is closed cleanly."""
    ice = session.pc.getTransceivers()[0].sender.transport.transport
    for protocol in ice._connection._protocols:
        protocol.transport.sendto = lambda *args, **kwargs: None


async def test_the_interpreters_network_failure_never_drops_the_other_two(make_server):
    async with make_server(reconnect_grace_s=1.0) as server:
        add_interpreter(server, "mai", PASSWORD, ["ne"])
        kiosk = KioskController(
            server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"], media("k", 440)
        )
        officer = ConsoleController(server.url, "hanako", PASSWORD, media("officer", 660))
        interpreter = InterpreterController(server.url, "mai", PASSWORD, media("interpreter", 880))
        parties = Parties(kiosk, officer, interpreter)
        try:
            await asyncio.gather(kiosk.start(TIMEOUT), officer.start(TIMEOUT), interpreter.start(TIMEOUT))
            await officer.set_available()
            await interpreter.set_available()
            ringing = asyncio.ensure_future(officer.events.wait("ring", TIMEOUT))
            await kiosk.request_call("kosodate")
            call_id = (await ringing)["call_id"]
            started = asyncio.ensure_future(officer.events.wait("call_started", TIMEOUT, call_id=call_id))
            await officer.accept()
            await started
            offered = asyncio.ensure_future(interpreter.events.wait("ring", TIMEOUT, call_id=call_id))
            await officer.interpreter.request("ne")
            await offered
            await interpreter.accept()
            await parties.watch.until(lambda: min(parties.counts().values()) >= 10, TIMEOUT)
            primary = (kiosk.party.session, officer.party.session)

            # The interpreter's PC loses its network: no media out, the signaling socket gone, no leave_call.
            kiosk_left = asyncio.ensure_future(kiosk.events.wait("peer_left", TIMEOUT, peer="interpreter"))
            officer_left = asyncio.ensure_future(
                officer.events.wait("peer_left", TIMEOUT, peer="interpreter")
            )
            for session in [link.session for link in interpreter.conference.links.values()]:
                cut_outgoing_media(session)
            await interpreter.client.close()
            assert (await kiosk_left)["reason"] == "disconnected"
            assert (await officer_left)["reason"] == "disconnected"

            pair = (("caller", "officer"), ("officer", "caller"))
            before = parties.counts(pair)
            await parties.watch.until(
                lambda: all(parties.counts(pair)[key] - before[key] >= FRAMES for key in pair), TIMEOUT
            )
            assert (kiosk.party.session, officer.party.session) == primary
            assert kiosk.resident.call_id == call_id and officer.call_id == call_id and officer.in_call
        finally:
            await asyncio.gather(kiosk.stop(), officer.stop(), interpreter.stop(), return_exceptions=True)


async def test_the_simulators_three_way_calls_hold(server):
    add_interpreter(server, "sim-interpreter", "simulated interpreter pass", ["ne"])
    options = ThreeWayOptions(calls=2, timeout_s=TIMEOUT)
    kiosk = ("kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
    report = await run_calls(server.url, kiosk, ("hanako", PASSWORD), options)
    summary = report.summary(options.calls)
    assert summary["errors"] == []
    assert succeeded(summary, options), summary
    assert summary["interpreter_wait_ms"]["p50"] is not None
