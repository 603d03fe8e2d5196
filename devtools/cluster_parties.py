"""The parties of the cluster chaos test: headless kiosks placing calls and headless officer consoles
answering them, real controllers with simulated camera and microphone (real aiortc media on loopback).

Each call is checked from both ends: the officer ends it only after its console received video frames
from the kiosk and the kiosk received frames from the console. Offers are recorded on the console side: an
offer for a second caller while the console still rings for, or talks with, another is a double offer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from kiosk_client.flow import KioskState
from staff_console.controller import ConsoleController

log = logging.getLogger("madoguchi.cluster-chaos")

BACKOFF_S = (0.2, 1.0)  # the reconnect backoff, first and longest (a test's pace)
FRAMES = 12  # video frames each way that prove a call's media flowed
STEP_TIMEOUT = 60.0  # one step of a call (queued, answered, frames) under faults
CALL_TIMEOUT = 150.0  # a whole call, from queued to ended
TRACED = {"ring", "ring_withdrawn", "call_connecting", "call_started", "call_ended", "call_requeued"}
TRACED |= {"online", "offline", "officer_state"}


def kiosk_party(url: str | list[str], kiosk_id: str, token: str) -> KioskController:
    media = SimulatedMedia(kiosk_id, 160, 120, 10, 440)
    first, longest = BACKOFF_S
    return KioskController(
        url, kiosk_id, token, media, telemetry=False, backoff_initial_s=first, backoff_max_s=longest
    )


def officer_party(url: str | list[str], username: str, password: str) -> ConsoleController:
    media = SimulatedMedia(username, 160, 120, 10, 660)
    first, longest = BACKOFF_S
    return ConsoleController(
        url, username, password, media, telemetry=False, backoff_initial_s=first, backoff_max_s=longest
    )


async def frames(session: Any, count: int, timeout: float) -> int:
    """Wait until ``count`` more video frames arrived on ``session``; how many arrived in all."""
    start = session.remote_video.count
    arrived = asyncio.Event()

    def seen(_frame: Any) -> None:
        if session.remote_video.count - start >= count:
            arrived.set()

    session.remote_video.listeners.append(seen)
    try:
        await asyncio.wait_for(arrived.wait(), timeout)
    finally:
        session.remote_video.listeners.remove(seen)
    return int(session.remote_video.count)


async def frames_on_current_session(app: Any, call_id: str, over: Callable[[], bool]) -> bool:
    """Wait for ``FRAMES`` video frames on whichever media session ``app`` (a kiosk or console controller)
    has now, until ``over()``; whether they came. A media restart replaces the session mid-call, so a wait on
    the first session alone can miss media that flows. The officer's check once did (a CI run of stop 26): no
    frames for 60 s, on a call whose kiosk saw the officer's video, placed between a Redis restart and a
    leader kill."""
    while not over():
        session = app.party.session
        if session is None:  # media being rebuilt: the next session
            with contextlib.suppress(TimeoutError):
                await app.events.wait("call_connecting", 5, call_id=call_id)
            continue
        try:
            await frames(session, FRAMES, STEP_TIMEOUT / 4)
        except TimeoutError:
            continue
        return True
    return False


@dataclass
class CallRecord:
    """One resident's call, as the kiosk saw it."""

    kiosk: str
    call_id: str
    answered: bool = False
    kiosk_frames: bool = False
    officer_frames: bool = False
    reason: str | None = None  # how the call ended; None: the resident was never told (lost)
    officers: list[str] = field(default_factory=list)
    note: str = ""
    placed_at: float = field(default_factory=time.monotonic)
    ended_at: float | None = None


@dataclass
class Ledger:
    """Everything both sides saw, shared by the parties of one run."""

    calls: dict[str, CallRecord] = field(default_factory=dict)
    kiosk_media: dict[str, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))
    double_offers: list[str] = field(default_factory=list)
    offers: int = 0
    not_placed: int = 0  # requests that reached no queue (the kiosk tried again: nobody to lose)

    def lost(self) -> list[CallRecord]:
        return [c for c in self.calls.values() if c.reason is None]

    def unanswered(self) -> list[CallRecord]:
        return [c for c in self.calls.values() if not c.answered or c.reason != "completed"]

    def without_media(self) -> list[CallRecord]:
        return [c for c in self.calls.values() if not (c.kiosk_frames and c.officer_frames)]


class KioskDriver:
    """A kiosk placing ``calls`` calls one after the other, each to the end."""

    def __init__(self, kiosk: KioskController, ledger: Ledger, rng: random.Random, departments: list[str]):
        self.kiosk = kiosk
        self.ledger = ledger
        self.rng = rng
        self.departments = departments
        self.started: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.ended: dict[str, asyncio.Future[str]] = {}
        kiosk.events.subscribe(self._on_event)

    def _ending(self, call_id: str) -> asyncio.Future[str]:
        if call_id not in self.ended:
            self.ended[call_id] = asyncio.get_running_loop().create_future()
        return self.ended[call_id]

    def _on_event(self, event: str, data: dict[str, Any]) -> None:
        if event == "call_started":
            self.started[data["call_id"]].set()
        elif event == "call_ended" and not self._ending(data["call_id"]).done():
            self._ending(data["call_id"]).set_result(data["reason"])

    async def run(self, calls: int) -> None:
        await self.kiosk.start(timeout=STEP_TIMEOUT)
        for _ in range(calls):
            call_id = await self._place()
            await self._follow(call_id)
            await self.kiosk.reset()

    async def _place(self) -> str:
        """Ask until the request reaches a queue (a request lost with its connection is asked again). A
        request given up on may still have reached one, its answer lost: its call then comes to the idle
        kiosk (``call_connecting``, as after an app restart), which follows that call instead of asking
        again (``request_call`` refuses while connecting: a cluster chaos run at load 4 failed on it)."""
        kiosk = self.kiosk
        while True:
            if not kiosk.online:
                await kiosk.events.wait("online", STEP_TIMEOUT)
            queued = asyncio.ensure_future(kiosk.events.wait("queue", STEP_TIMEOUT / 3))
            try:
                if kiosk.state is not KioskState.IDLE and kiosk.resident.call_id is not None:
                    raise RuntimeError(f"a call came to the kiosk: {kiosk.state.value}")
                await kiosk.request_call(self.rng.choice(self.departments))
                await queued
            except (ConnectionError, TimeoutError, RuntimeError) as exc:
                queued.cancel()
                if kiosk.resident.call_id is None:
                    self.ledger.not_placed += 1
                    log.info("%s: request reached no queue (%r); again", kiosk.kiosk_id, exc)
                    await kiosk.reset()
                    if isinstance(exc, ConnectionError):  # at once, the drop not noticed yet: a welcome
                        with contextlib.suppress(TimeoutError):
                            await kiosk.events.wait("online", STEP_TIMEOUT / 3)
                    continue
            call_id = kiosk.resident.call_id
            assert call_id is not None
            self.ledger.calls[call_id] = CallRecord(kiosk.kiosk_id, call_id)
            return call_id

    async def _follow(self, call_id: str) -> None:
        record = self.ledger.calls[call_id]
        ended = self._ending(call_id)
        try:
            await asyncio.wait_for(self._media(call_id, record), CALL_TIMEOUT)
            record.reason = await asyncio.wait_for(asyncio.shield(ended), CALL_TIMEOUT)
            record.ended_at = time.monotonic()
        except TimeoutError:
            record.note = f"kiosk {self.kiosk.state.value}, online {self.kiosk.online}"
            if ended.done():
                record.reason = ended.result()
            with contextlib.suppress(ConnectionError):
                await self.kiosk.cancel()

    async def _media(self, call_id: str, record: CallRecord) -> None:
        """Answered, and frames from the officer on the kiosk's screen (ended first: stop looking)."""
        ended = self._ending(call_id)
        started = asyncio.ensure_future(self.started[call_id].wait())
        either: set[asyncio.Future[Any]] = {started, ended}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if ended.done():
            return
        record.answered = True
        if await frames_on_current_session(self.kiosk, call_id, ended.done):
            record.kiosk_frames = True
            self.ledger.kiosk_media[call_id].set()


class OfficerDriver:
    """An officer answering whatever rings, checking media, ending the call once both ends saw video."""

    def __init__(self, console: ConsoleController, ledger: Ledger):
        self.console = console
        self.ledger = ledger
        self.engaged: str | None = None  # the call this console rings for or talks in, as it sees it
        self.talking: set[str] = set()
        self.trace: list[str] = []  # what the console heard, for the report of a double offer
        self.tasks: set[asyncio.Task[None]] = set()
        console.events.subscribe(self._on_event)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _on_event(self, event: str, data: dict[str, Any]) -> None:
        call_id = data.get("call_id")
        if event in TRACED:
            self.trace.append(f"{time.monotonic():.1f} {event} {call_id or data.get('state') or ''}")
        if event == "ring":
            self.ledger.offers += 1
            if self.engaged is not None and self.engaged != call_id:
                self.ledger.double_offers.append(
                    f"{self.console.username}: offered {call_id} while engaged with {self.engaged} "
                    f"(heard: {self.trace[-12:]})"
                )
            self.engaged = call_id
            self._spawn(_quietly(self.console.accept))
        elif event in ("ring_withdrawn", "call_ended", "call_requeued") and call_id == self.engaged:
            self.engaged = None
        elif event == "offline":
            self.engaged = self.console.call_id  # an offer dies with its connection; a call does not
        elif event == "call_started" and isinstance(call_id, str) and call_id not in self.talking:
            self.talking.add(call_id)
            self._spawn(self._talk(call_id))
        elif event == "officer_state" and data["state"] in ("wrap_up", "away"):
            self._spawn(_quietly(self.console.set_available))

    async def _talk(self, call_id: str) -> None:
        console = self.console
        record = self.ledger.calls.get(call_id)
        try:
            if record is not None:
                record.officers.append(console.username)

            def over() -> bool:
                return console.call_id != call_id

            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STEP_TIMEOUT):
                    seen = await frames_on_current_session(console, call_id, over)
                    if record is not None:
                        record.officer_frames = seen
            with contextlib.suppress(TimeoutError):  # the resident saw the officer too (or gave up)
                await asyncio.wait_for(self.ledger.kiosk_media[call_id].wait(), STEP_TIMEOUT)
            await self._end(call_id)
        finally:
            self.talking.discard(call_id)

    async def _end(self, call_id: str) -> None:
        """Press "end" until the server has it, as an officer would through reconnects."""
        console = self.console
        while console.call_id == call_id:
            ended = asyncio.ensure_future(console.events.wait("call_ended", 10, call_id=call_id))
            try:
                await console.end_call("resolved", "クラスタ障害試験")
                await ended
            except TimeoutError:
                continue  # not heard: press again
            except ConnectionError:
                # Raised at once, before the client has noticed the drop (``online`` still true): wait
                # for the next welcome, never retry in a loop that does not yield (it once blocked the
                # event loop and grew the test process to 24 GB).
                ended.cancel()
                with contextlib.suppress(TimeoutError):
                    await console.events.wait("online", 10)

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.console.stop()


async def _quietly(action: Callable[[], Awaitable[None]]) -> None:
    """A button pressed (the coroutine made only when its task runs: a task cancelled first leaves none)."""
    with contextlib.suppress(ConnectionError, RuntimeError):
        await action()
