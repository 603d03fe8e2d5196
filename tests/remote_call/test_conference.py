"""The extra peer connections of a call (remote_call.conference), through a small in-test relay that does
what the protocol says the server does: a message without ``peer`` goes to the other end of the
caller<->officer pair; a message with ``peer`` goes to that party with ``peer`` rewritten to the sender.
Real aiortc connections and simulated cameras on every side; the relay is not the code under test."""

from __future__ import annotations

import asyncio
from typing import Any

from hardware.simulated import SimulatedMedia
from remote_call import protocol as p
from remote_call.conference import Conference
from remote_call.events import EventHub
from remote_call.party import CallParty

TIMEOUT = 30.0
CALL = "call-3way"
TONES = {"caller": 440.0, "officer": 660.0, "interpreter": 880.0}


class Member:
    def __init__(self, name: p.PartyId, relay: Relay) -> None:
        self.name = name
        self.events = EventHub()
        media = SimulatedMedia(name, 160, 120, 15, TONES[name])
        self.party = CallParty(lambda m: relay.route(name, m), media, self.events)
        self.conference = Conference(lambda m: relay.route(name, m), media, self.events)
        self.sent: list[p.Wire] = []
        self.events.subscribe(lambda event, data: self._watch(relay, event, data))

    def _watch(self, relay: Relay, event: str, data: dict[str, Any]) -> None:
        """Every session this member builds tells the relay of each video frame it receives."""
        if event == "call_connecting":
            session = self.party.session
        elif event == "peer_connecting":
            session = self.conference.session(data["peer"])
        else:
            return
        if session is not None:
            session.remote_video.listeners.append(lambda _frame: relay.frame.set())

    async def receive(self, message: p.Wire) -> None:
        if not await self.conference.handle(message):
            await self.party.handle(message)

    def frames_from(self, other: str) -> int:
        session = self.conference.session(other)  # type: ignore[arg-type]
        if session is None and self.party.session is not None and {self.name, other} == {"caller", "officer"}:
            session = self.party.session
        return session.remote_video.count if session is not None else 0


class Relay:
    def __init__(self) -> None:
        self.members: dict[str, Member] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.frame = asyncio.Event()  # set at every video frame any member receives

    async def route(self, sender: p.PartyId, message: p.Wire) -> None:
        self.members[sender].sent.append(message)
        peer = getattr(message, "peer", None)
        if isinstance(message, p.MediaConnected | p.RestartMedia):
            return
        if peer is None:
            target = "officer" if sender == "caller" else "caller"
        else:
            target, message = peer, message.model_copy(update={"peer": sender})
        self.deliver(target, message)

    def deliver(self, target: str, message: p.Wire) -> None:
        task = asyncio.ensure_future(self.members[target].receive(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def connecting(peer: p.PartyId | None, offerer: bool, restart: bool = False) -> p.CallConnecting:
    return p.CallConnecting(
        call_id=CALL, offerer=offerer, department="kosodate", peer_name="x", peer=peer, restart=restart
    )


async def until(relay: Relay, predicate, timeout: float = TIMEOUT) -> None:
    """Wait for ``predicate`` to hold, re-checking after each video frame any member receives."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        relay.frame.clear()
        try:
            await asyncio.wait_for(relay.frame.wait(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise AssertionError("condition not reached in time") from None


async def three_way() -> tuple[Relay, Member, Member, Member]:
    relay = Relay()
    caller, officer, interpreter = (Member(n, relay) for n in ("caller", "officer", "interpreter"))
    relay.members = {m.name: m for m in (caller, officer, interpreter)}
    await caller.receive(connecting(None, True))
    await officer.receive(connecting(None, False))
    # The interpreter joins: it offers to both; the others answer.
    await caller.receive(connecting("interpreter", False))
    await officer.receive(connecting("interpreter", False))
    await interpreter.receive(connecting("caller", True))
    await interpreter.receive(connecting("officer", True))
    return relay, caller, officer, interpreter


async def close(*members: Member) -> None:
    for member in members:
        await member.conference.close_all()
        await member.party.hang_up()


async def test_every_pair_has_media_and_the_interpreter_leaves_without_touching_the_others():
    relay, caller, officer, interpreter = await three_way()
    members = {"caller": caller, "officer": officer, "interpreter": interpreter}
    try:
        pairs = [(a, b) for a in members for b in members if a != b]
        await until(relay, lambda: all(members[a].frames_from(b) >= 30 for a, b in pairs))
        primary = caller.party.session
        # Every outgoing signal of the extra connections named its peer; the primary pair's named none.
        assert all(
            getattr(m, "peer", None) == "caller" for m in interpreter.sent if isinstance(m, p.IceCandidate)
        )
        assert all(
            getattr(m, "peer", None) is None
            for m in caller.sent
            if isinstance(m, p.SessionDescription) and m.sdp_type == "offer"
        )

        left = asyncio.ensure_future(officer.events.wait("peer_left", TIMEOUT, peer="interpreter"))
        await interpreter.conference.close_all()
        for member in (caller, officer):
            relay.deliver(member.name, p.PartyLeft(call_id=CALL, party="interpreter", reason="left"))
        assert (await left)["reason"] == "left"
        await until(relay, lambda: not caller.conference.links)
        assert caller.party.session is primary and officer.party.session is not None
        base = (caller.frames_from("officer"), officer.frames_from("caller"))
        await until(
            relay,
            lambda: (
                caller.frames_from("officer") >= base[0] + 30
                and officer.frames_from("caller") >= base[1] + 30
            ),
        )
        assert not primary.closed.is_set()
    finally:
        await close(caller, officer, interpreter)


async def test_one_peer_rebuilt_alone_and_a_failure_asks_for_that_peer_only():
    relay, caller, officer, interpreter = await three_way()
    try:
        await until(
            relay, lambda: caller.frames_from("interpreter") >= 5 and officer.frames_from("interpreter") >= 5
        )
        officer_link = officer.conference.session("interpreter")
        old_caller_side = caller.conference.session("interpreter")
        # The server restarts the caller<->interpreter connection only.
        await caller.receive(connecting("interpreter", False, restart=True))
        await interpreter.receive(connecting("caller", True, restart=True))
        new_caller_side = caller.conference.session("interpreter")
        assert new_caller_side is not old_caller_side and old_caller_side is not None
        assert old_caller_side.closed.is_set()
        await until(relay, lambda: caller.frames_from("interpreter") >= 10)
        assert officer.conference.session("interpreter") is officer_link and not officer_link.closed.is_set()

        # That connection fails: the caller asks for a restart of it alone (peer named).
        assert new_caller_side is not None
        await (
            new_caller_side.pc.close()
        )  # a dead ICE transport reports "failed"... closing is what aiortc has
        new_caller_side.failed.set()
        await until(relay, lambda: any(isinstance(m, p.RestartMedia) for m in caller.sent))
        restart = next(m for m in caller.sent if isinstance(m, p.RestartMedia))
        assert restart.peer == "interpreter" and restart.reason == "ice_failed"
        assert caller.party.session is not None and not caller.party.session.closed.is_set()
    finally:
        await close(caller, officer, interpreter)


async def test_call_ended_closes_every_extra_peer_and_the_party_still_hears_it():
    relay, caller, officer, interpreter = await three_way()
    try:
        await until(relay, lambda: caller.frames_from("interpreter") >= 1)
        ended = asyncio.ensure_future(caller.events.wait("call_ended", TIMEOUT))
        await caller.receive(p.CallEnded(call_id=CALL, reason=p.EndReason.COMPLETED))
        await ended
        assert not caller.conference.links and caller.party.session is None
    finally:
        await close(caller, officer, interpreter)


async def test_messages_without_a_peer_are_not_the_conferences():
    conference = Conference(lambda m: asyncio.sleep(0), SimulatedMedia("x", 160, 120, 15, 440), EventHub())
    assert not await conference.handle(connecting(None, True))
    assert not await conference.handle(p.SessionDescription(call_id=CALL, sdp_type="offer", sdp="v=0"))
    assert not conference.links
    status = p.InterpreterStatus(call_id=CALL, language="ne", state="waiting", position=2, estimate_s=90)
    assert await conference.handle(status) and conference.interpreter == status
