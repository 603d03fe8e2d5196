"""A third party's links, end to end through a real server with real aiortc: the interpreter's console sends
heartbeats the health registry sees; an extra pair has link pings, so a silently dead interpreter↔resident
link is found and rebuilt alone; and on a blind transfer the interpreter follows the resident to the next
officer while the first officer's pairs close."""

from __future__ import annotations

import asyncio

from signaling_server.monitoring import MONITOR, setup_monitoring
from simulator.three_way import Parties, add_interpreter
from staff_console.controller import ConsoleController
from staff_console.interpreter import InterpreterController

from .three_parties import (
    FRAMES,
    PASSWORD,
    QUIET_S,
    TIMEOUT,
    answered,
    cut_outgoing_media,
    interpreter_joins,
    media,
    three_parties,
)


async def test_interpreter_mode_sends_heartbeats_the_monitor_sees_as_a_console(make_server):
    server = make_server()
    setup_monitoring(server.app)
    async with server:
        add_interpreter(server, "mai", PASSWORD, ["ne"])
        interpreter = InterpreterController(
            server.url, "mai", PASSWORD, media("interpreter", 880), heartbeat_s=0.2
        )
        try:
            beat = asyncio.ensure_future(interpreter.events.wait("telemetry", TIMEOUT, type="heartbeat"))
            await interpreter.start(TIMEOUT)
            await beat
            pong = asyncio.ensure_future(interpreter.events.wait("pong", TIMEOUT, nonce=7))
            await interpreter.ping(7)
            await pong  # handled after the heartbeat sent before it
            monitor = server.app[MONITOR]
            assert monitor.consoles["mai"]["app_version"] == "0.1.0"  # a console's PC, alive
            assert "mai" not in monitor.health.kiosks  # not a kiosk: no kiosk alerts when it signs off
        finally:
            await interpreter.stop()


async def test_a_dead_interpreter_link_is_found_by_link_pings_and_rebuilt_alone(server):
    async with three_parties(server, link_dead_s=1.5) as three:
        kiosk, officer, interpreter = three.kiosk, three.officer, three.interpreter
        for party in (kiosk.party, officer.party):
            party.link_dead_s = QUIET_S  # only the pair under test is quick to give up (a loaded machine)
        await answered(three)
        await interpreter_joins(three)
        officer.conference.links["interpreter"].watch.dead_s = QUIET_S
        interpreter.conference.links["officer"].watch.dead_s = QUIET_S
        primary = (kiosk.party.session, officer.party.session)
        to_officer = interpreter.conference.session("officer")
        dead = interpreter.conference.session("caller")
        assert dead is not None and to_officer is not None
        watch = interpreter.conference.links["caller"].watch
        await three.parties.watch.until(lambda: watch.pongs > 0, TIMEOUT)  # the pair's pings are answered

        lost = [  # whichever end finds it first asks; the other's request is one restart with it
            asyncio.ensure_future(kiosk.events.wait("peer_media_lost", TIMEOUT, peer="interpreter")),
            asyncio.ensure_future(interpreter.events.wait("peer_media_lost", TIMEOUT, peer="caller")),
        ]
        rebuilt = asyncio.ensure_future(
            kiosk.events.wait("peer_connecting", TIMEOUT, peer="interpreter", restart=True)
        )
        cut_outgoing_media(dead)  # the interpreter's packets to the resident vanish; nothing is closed
        found, waiting = await asyncio.wait(lost, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        for future in waiting:
            future.cancel()
        assert [f.result()["reason"] for f in found][:1] == ["link_lost"]  # long before aiortc's ~30 s
        await rebuilt
        pair = (("caller", "interpreter"), ("interpreter", "caller"))
        await three.parties.watch.until(
            lambda: (
                interpreter.conference.session("caller") is not dead
                and min(three.parties.counts(pair).values()) >= FRAMES
            ),
            TIMEOUT,
        )
        # Only that pair was rebuilt: the other two connections are the same ones, still carrying video.
        assert interpreter.conference.session("officer") is to_officer
        assert (kiosk.party.session, officer.party.session) == primary
        others = (("caller", "officer"), ("officer", "caller"), ("officer", "interpreter"))
        before = three.parties.counts(others)
        await three.parties.watch.until(
            lambda: all(n - before[key] >= FRAMES for key, n in three.parties.counts(others).items()),
            TIMEOUT,
        )


async def test_the_interpreter_follows_the_resident_through_a_blind_transfer(server):
    async with three_parties(server, link_dead_s=QUIET_S) as three:
        kiosk, first, interpreter = three.kiosk, three.officer, three.interpreter
        call_id = await answered(three)
        await interpreter_joins(three)
        to_caller = interpreter.conference.session("caller")
        second = ConsoleController(server.url, "jiro", PASSWORD, media("jiro", 550))
        with_second = Parties(kiosk, second, interpreter)  # watching the sessions jiro's answer builds
        try:
            await second.start(TIMEOUT)  # available from sign-in: the next officer for the resident
            ringing = asyncio.ensure_future(second.events.wait("ring", TIMEOUT, call_id=call_id))
            first_out = asyncio.ensure_future(interpreter.events.wait("peer_left", TIMEOUT, peer="officer"))
            await first.transfer_call("kenko-hoken", "通訳つき（ネパール語）")
            await first_out  # the interpreter's pair with the first officer is closed
            await ringing
            joined = asyncio.ensure_future(interpreter.events.wait("peer_connected", TIMEOUT, peer="officer"))
            await second.accept()
            await joined

            # The interpreter stayed with the resident, on the same connection; it now interprets for jiro.
            assert interpreter.in_call and interpreter.call_id == call_id
            assert interpreter.conference.session("caller") is to_caller
            assert second.conference.session("interpreter") is not None
            pair = (("officer", "interpreter"), ("interpreter", "officer"))
            await with_second.watch.until(lambda: min(with_second.counts(pair).values()) >= FRAMES, TIMEOUT)
            assert min(with_second.counts().values()) > 0  # every pair of the new three carries video
            # The first officer's pairs are closed: no call session, no extra peer left.
            assert first.party.session is None and first.conference.links == {}
            assert first.call_id is None
        finally:
            await second.stop()
