"""A call with an interpreter through a real server, for the three-way tests: a headless kiosk (with its
simulated scanner), officers and an interpreter, all real aiortc on loopback with simulated cameras."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from hardware.printer import SimulatedPrinter
from hardware.scanner import SimulatedScanner
from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from kiosk_client.peripherals import Peripherals, PrinterAdapter, ScannerAdapter
from simulator.three_way import Parties, add_interpreter
from staff_console.controller import ConsoleController
from staff_console.interpreter import InterpreterController

PASSWORD = "correct horse battery"
TIMEOUT = 40.0
FRAMES = 30
# Link pings that give up only after this long: for tests about something else, on a machine so loaded that
# a healthy pair can miss 5 s of pongs (a rebuilt pair would lose what was in flight on it).
QUIET_S = 30.0


def media(label: str, tone: float) -> SimulatedMedia:
    return SimulatedMedia(label, 160, 120, 15, tone)


@dataclass
class ThreeWay:
    kiosk: KioskController
    officer: ConsoleController
    interpreter: InterpreterController
    parties: Parties
    call_id: str = ""


@contextlib.asynccontextmanager
async def three_parties(server, *, link_dead_s: float | None = None) -> AsyncIterator[ThreeWay]:
    """Kiosk, officer ``hanako`` and interpreter ``mai`` (ne) signed in; nothing called yet. With
    ``link_dead_s``, every extra pair gives up on a silent peer after that long (and pings 4× as often);
    with ``QUIET_S``, the caller<->officer pair too."""
    add_interpreter(server, "mai", PASSWORD, ["ne", "jsl"])
    token = server.fleet.kiosk_tokens["kiosk-ueda"]
    scanner = ScannerAdapter(SimulatedScanner(75))  # a 75 dpi page (~50 KB): one scan, shared twice
    peripherals = Peripherals(scanner, PrinterAdapter(SimulatedPrinter()))
    kiosk = KioskController(server.url, "kiosk-ueda", token, media("kiosk", 440), peripherals=peripherals)
    officer = ConsoleController(server.url, "hanako", PASSWORD, media("officer", 660))
    interpreter = InterpreterController(server.url, "mai", PASSWORD, media("interpreter", 880), quality_s=0.5)
    if link_dead_s is not None:
        for conference in (kiosk.conference, officer.conference, interpreter.conference):
            conference.link_dead_s, conference.link_ping_s = link_dead_s, link_dead_s / 4
    if link_dead_s == QUIET_S:
        for party in (kiosk.party, officer.party):
            party.link_dead_s = QUIET_S  # the caller<->officer pair as patient
    three = ThreeWay(kiosk, officer, interpreter, Parties(kiosk, officer, interpreter))
    try:
        await asyncio.gather(kiosk.start(TIMEOUT), officer.start(TIMEOUT), interpreter.start(TIMEOUT))
        yield three
    finally:
        await asyncio.gather(kiosk.stop(), officer.stop(), interpreter.stop(), return_exceptions=True)


async def answered(three: ThreeWay, officer: ConsoleController | None = None) -> str:
    """The kiosk calls 子育て; ``officer`` (the first) answers; media up on the pair."""
    officer = officer or three.officer
    await officer.set_available()
    ringing = asyncio.ensure_future(officer.events.wait("ring", TIMEOUT))
    await three.kiosk.request_call("kosodate")
    three.call_id = (await ringing)["call_id"]
    started = asyncio.ensure_future(officer.events.wait("call_started", TIMEOUT, call_id=three.call_id))
    await officer.accept()
    await started
    return three.call_id


async def interpreter_joins(three: ThreeWay, frames: int = 5) -> None:
    """The officer asks for a Nepali interpreter, ``mai`` accepts; frames flow in all six directions."""
    await three.interpreter.set_available()
    offered = asyncio.ensure_future(three.interpreter.events.wait("ring", TIMEOUT, call_id=three.call_id))
    joined = asyncio.ensure_future(three.officer.events.wait("interpreter_status", TIMEOUT, state="joined"))
    await three.officer.interpreter.request("ne")
    await offered
    await three.interpreter.accept()
    await joined
    await three.parties.watch.until(lambda: min(three.parties.counts().values()) >= frames, TIMEOUT)


def cut_outgoing_media(session) -> None:
    """Drop every datagram this peer connection sends: its network is gone, nothing is closed cleanly."""
    ice = session.pc.getTransceivers()[0].sender.transport.transport
    for protocol in ice._connection._protocols:
        protocol.transport.sendto = lambda *args, **kwargs: None
