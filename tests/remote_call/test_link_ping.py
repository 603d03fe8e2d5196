"""Link pings: every ping is answered exactly once, on the session it arrived on."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from hardware.simulated import SimulatedMedia
from remote_call import protocol as p
from remote_call.events import EventHub
from remote_call.link_watch import LinkWatch
from remote_call.party import CallParty
from remote_call.session import CallSession, LatestFrame

TIMEOUT = 20.0


def wired_parties() -> dict[str, CallParty]:
    """A kiosk and an officer CallParty whose SDP goes straight to each other (no server)."""
    parties: dict[str, CallParty] = {}

    def to(name: str):
        async def send(message: p.Wire) -> None:
            if isinstance(message, p.SessionDescription | p.IceCandidate):
                await parties[name].handle(message)

        return send

    parties["kiosk"] = CallParty(to("officer"), SimulatedMedia("kiosk", 160, 120, 10, 440), EventHub())
    parties["officer"] = CallParty(to("kiosk"), SimulatedMedia("officer", 160, 120, 10, 660), EventHub())
    return parties


class Pongs:
    """Every link_pong one session receives, by seq; ``wait_for(seq)`` waits for the pong of ``seq``."""

    def __init__(self, session: CallSession) -> None:
        self.seen: Counter[int] = Counter()
        self._waiters: dict[int, asyncio.Future] = {}
        session.control_handlers.append(self._on)

    def _on(self, message: dict[str, Any]) -> None:
        if message.get("type") == "link_pong":
            self.seen[message["seq"]] += 1
            waiter = self._waiters.get(message["seq"])
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def wait_for(self, seq: int) -> None:
        if self.seen[seq]:
            return
        self._waiters[seq] = asyncio.get_running_loop().create_future()
        await asyncio.wait_for(self._waiters[seq], TIMEOUT)


async def test_each_link_ping_is_answered_exactly_once():
    parties = wired_parties()
    kiosk, officer = parties["kiosk"], parties["officer"]
    for party in parties.values():
        party.link_ping_s = 0.05  # quicker pings, same duty
    try:
        await officer.handle(p.CallConnecting(call_id="c1", offerer=False, department="d", peer_name="k"))
        await kiosk.handle(p.CallConnecting(call_id="c1", offerer=True, department="d", peer_name="o"))
        assert kiosk.session is not None and officer.session is not None
        pongs = Pongs(kiosk.session)
        await pongs.wait_for(5)
        assert all(pongs.seen[seq] == 1 for seq in range(1, 6)), pongs.seen

        # The same ping delivered twice to the officer's handlers (as a second listener on the channel
        # would): one pong. A later ping's pong, on the same ordered channel, proves no second one follows.
        await asyncio.wait_for(officer.session.channel_open.wait(), TIMEOUT)
        doubled = {"type": "link_ping", "seq": 10_000, "sent_ms": 1.0}
        for handler in list(officer.session.control_handlers):
            handler(doubled)
            handler(doubled)
        marker = {"type": "link_ping", "seq": 10_001, "sent_ms": 2.0}
        for handler in list(officer.session.control_handlers):
            handler(marker)
        await pongs.wait_for(10_001)
        assert pongs.seen[10_000] == 1 and pongs.seen[10_001] == 1
        assert kiosk.link_rtt_ms is not None and officer.link_rtt_ms is not None
    finally:
        await asyncio.gather(kiosk.hang_up(), officer.hang_up())


class RecordingSession:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.control_handlers: list[Any] = []

    def send_control(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def test_a_ping_on_a_session_let_go_of_is_not_answered():
    async def send(message: p.Wire) -> None:
        raise AssertionError(f"nothing goes to the server here: {message}")

    async def lost() -> None:
        raise AssertionError("no dead link here")

    current, old = RecordingSession(), RecordingSession()
    let_go = LinkWatch(old, lost)  # type: ignore[arg-type]
    LinkWatch(current, lost)  # type: ignore[arg-type]
    let_go.stop()  # as CallParty.hang_up and Conference._close_link do for the session they let go of
    ping = {"type": "link_ping", "seq": 1, "sent_ms": 1.0}
    for session in (old, current):
        for handler in session.control_handlers:
            handler(ping)
    assert old.sent == []
    assert current.sent == [{"type": "link_pong", "seq": 1, "sent_ms": 1.0}]


class SilentPeer:
    """A session whose peer never answers a ping; while ``talking`` a frame of its audio arrives with each
    ping we send (as a live peer's media does while its pongs are held up in SCTP)."""

    def __init__(self) -> None:
        self.call_id = "c1"
        self.control_handlers: list[Any] = []
        self.channel_open, self.closed = asyncio.Event(), asyncio.Event()
        self.channel_open.set()
        self.remote_audio, self.remote_video = LatestFrame(), LatestFrame()
        self.talking = True
        self.pings = 0
        self.pinged = asyncio.Event()

    def send_control(self, message: dict[str, Any]) -> None:
        self.pings += 1
        if self.talking:
            self.remote_audio.push(object())
        self.pinged.set()

    async def until_pings(self, count: int) -> None:
        while self.pings < count:
            self.pinged.clear()
            await asyncio.wait_for(self.pinged.wait(), TIMEOUT)


async def test_a_link_whose_media_still_arrives_is_not_dead_however_late_its_pongs():
    """No pong for 25 dead periods while the peer's audio flows: no restart; the media stops: a restart."""
    peer, dead = SilentPeer(), asyncio.Event()

    async def on_dead() -> None:
        dead.set()

    watch = LinkWatch(peer, on_dead, ping_s=0.01, dead_s=0.04)  # type: ignore[arg-type]
    running = asyncio.ensure_future(watch.run())
    try:
        await peer.until_pings(100)  # 25 periods of 0.04 s with no pong
        assert not dead.is_set() and watch.pongs == 0
        peer.talking = False
        await asyncio.wait_for(dead.wait(), TIMEOUT)
        assert peer.remote_audio.count >= 100
    finally:
        peer.closed.set()
        await asyncio.wait_for(running, TIMEOUT)
