"""`madoguchi-sim --three-way`: calls with an interpreter, end to end against an embedded server.

Each call: a headless kiosk (KioskController) asks for an officer; a headless officer (ConsoleController)
answers and requests an interpreter of ``language``; a headless interpreter (the console's interpreter mode)
accepts and joins with two peer connections. Media must flow between every pair (``frames`` video frames in
each of the six directions), then the interpreter leaves and the kiosk and the officer must keep receiving
(``frames`` more each way) before the officer ends the call. Real aiortc everywhere, simulated cameras and
microphones, loopback only.

The summary: ``calls_completed``, ``callers_lost`` (a resident whose call never ended), the fewest video
frames seen in any direction of any call, the frames after the interpreter left, and
``interpreter_wait_ms`` (the officer's request to the interpreter's ``joined``) as p50/p95.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.schema import AppConfig
from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController, KioskState
from remote_call.events import EventHub
from remote_call.session import CallSession, restrict_to_loopback
from signaling_server.auth import hash_password
from signaling_server.embedded import EmbeddedServer, provision
from staff_console.controller import ConsoleController
from staff_console.interpreter import InterpreterController

log = logging.getLogger(__name__)

DEPARTMENT = "kosodate"
INTERPRETER = "sim-interpreter"
PASSWORD = "simulated interpreter pass"
DIRECTIONS = (
    ("caller", "officer"),
    ("officer", "caller"),
    ("caller", "interpreter"),
    ("interpreter", "caller"),
    ("officer", "interpreter"),
    ("interpreter", "officer"),
)


@dataclass(frozen=True)
class ThreeWayOptions:
    calls: int = 3
    frames: int = 30  # video frames each direction must carry, with three parties and after the leave
    language: str = "ne"
    width: int = 160
    height: int = 120
    fps: int = 15
    timeout_s: float = 60.0


@dataclass
class ThreeWayResult:
    call_id: str = ""
    completed: bool = False
    ended: bool = False
    frames_min: int = 0  # the fewest frames in any of the six directions (three parties)
    frames_after_leave_min: int = 0  # kiosk<->officer after the interpreter left
    interpreter_wait_ms: float | None = None
    error: str | None = None


@dataclass
class ThreeWayReport:
    results: list[ThreeWayResult] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self, calls: int) -> dict[str, Any]:
        done = [r for r in self.results if r.completed]
        waits = [r.interpreter_wait_ms for r in done if r.interpreter_wait_ms is not None]
        wait = percentiles(waits)
        return {
            "calls_requested": calls,
            "calls_completed": len(done),
            "callers_lost": sum(1 for r in self.results if not r.ended),
            "video_frames_min_any_direction": min((r.frames_min for r in done), default=0),
            "video_frames_after_leave_min": min((r.frames_after_leave_min for r in done), default=0),
            "interpreter_wait_ms": {"p50": wait["p50"], "p95": wait["p95"]},
            "wall_s": round(self.wall_s, 2),
            "errors": [f"{r.call_id or '?'}: {r.error}" for r in self.results if r.error][:20],
        }


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"p50": round(statistics.median(ordered), 1), "p95": round(p95, 1)}


def succeeded(summary: dict[str, Any], options: ThreeWayOptions) -> bool:
    return (
        summary["calls_completed"] == summary["calls_requested"] == options.calls
        and summary["callers_lost"] == 0
        and summary["video_frames_min_any_direction"] >= options.frames
        and summary["video_frames_after_leave_min"] >= options.frames
    )


class FrameWatch:
    """Wakes a waiter at every video frame any of the watched parties receives, on any of its sessions."""

    def __init__(self) -> None:
        self.frame = asyncio.Event()

    def watch(
        self, events: EventHub, session_of: Callable[[str, dict[str, Any]], CallSession | None]
    ) -> None:
        def on_event(event: str, data: dict[str, Any]) -> None:
            session = session_of(event, data)
            if session is not None:
                session.remote_video.listeners.append(lambda _frame: self.frame.set())

        events.subscribe(on_event)

    async def until(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Wait until ``predicate()`` holds, re-checking after each frame; TimeoutError after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            self.frame.clear()
            await asyncio.wait_for(self.frame.wait(), max(0.0, deadline - loop.time()))


class Parties:
    """The three headless parties of the simulated calls, and what each received from whom."""

    def __init__(
        self, kiosk: KioskController, officer: ConsoleController, interpreter: InterpreterController
    ):
        self.kiosk, self.officer, self.interpreter = kiosk, officer, interpreter
        self.watch = FrameWatch()
        self.watch.watch(kiosk.events, lambda e, d: _session(kiosk.party.session, kiosk.conference, e, d))
        self.watch.watch(
            officer.events, lambda e, d: _session(officer.party.session, officer.conference, e, d)
        )
        self.watch.watch(interpreter.events, lambda e, d: _session(None, interpreter.conference, e, d))

    def frames(self, receiver: str, sender: str) -> int:
        """Video frames ``receiver`` got from ``sender`` on their current connection."""
        if receiver == "interpreter":
            return self.interpreter.conference.frames_from(sender)  # type: ignore[arg-type]
        controller = self.kiosk if receiver == "caller" else self.officer
        if sender == "interpreter":
            return controller.conference.frames_from("interpreter")
        session = controller.party.session
        return session.remote_video.count if session is not None else 0

    def counts(self, directions: Iterable[tuple[str, str]] = DIRECTIONS) -> dict[tuple[str, str], int]:
        return {(sender, receiver): self.frames(receiver, sender) for sender, receiver in directions}


def _session(
    primary: CallSession | None, conference: Any, event: str, data: dict[str, Any]
) -> CallSession | None:
    if event == "call_connecting":
        return primary
    if event == "peer_connecting":
        session: CallSession | None = conference.session(data["peer"])
        return session
    return None


async def three_way_call(parties: Parties, options: ThreeWayOptions) -> ThreeWayResult:
    """One call with an interpreter who joins, is seen and heard by both, and leaves."""
    kiosk, officer, interpreter = parties.kiosk, parties.officer, parties.interpreter
    result = ThreeWayResult()
    timeout = options.timeout_s
    ringing = asyncio.ensure_future(officer.events.wait("ring", timeout))
    await kiosk.request_call(DEPARTMENT)
    result.call_id = (await ringing)["call_id"]
    ended = asyncio.ensure_future(kiosk.events.wait("call_ended", timeout * 4, call_id=result.call_id))
    try:
        started = asyncio.ensure_future(officer.events.wait("call_started", timeout, call_id=result.call_id))
        await officer.accept()
        await started

        offered = asyncio.ensure_future(interpreter.events.wait("ring", timeout, call_id=result.call_id))
        joined = asyncio.ensure_future(officer.events.wait("interpreter_status", timeout, state="joined"))
        requested_at = time.perf_counter()
        await officer.interpreter.request(options.language)
        await offered
        await interpreter.accept()
        await joined
        result.interpreter_wait_ms = (time.perf_counter() - requested_at) * 1000

        await parties.watch.until(lambda: min(parties.counts().values()) >= options.frames, timeout)
        result.frames_min = min(parties.counts().values())

        pair = (("caller", "officer"), ("officer", "caller"))
        before = parties.counts(pair)
        left = asyncio.ensure_future(kiosk.events.wait("peer_left", timeout, peer="interpreter"))
        await interpreter.leave()
        await left

        def after() -> int:
            return min(count - before[key] for key, count in parties.counts(pair).items())

        await parties.watch.until(lambda: after() >= options.frames, timeout)
        result.frames_after_leave_min = after()
        wrapping = asyncio.ensure_future(officer.events.wait("officer_state", timeout, state="wrap_up"))
        await officer.end_call("resolved", "simulated call with an interpreter")
        result.completed = (await ended).get("reason") == "completed"
        result.ended = True
        await wrapping
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            if officer.call_id is not None:
                await officer.end_call("other", "simulator error")
            await asyncio.wait_for(ended, timeout)
            result.ended = True
    finally:
        ended.cancel()
    return result


async def _ready(parties: Parties, timeout: float) -> None:
    """Between calls: the kiosk back at its start, the officer and the interpreter available."""
    if parties.kiosk.state is not KioskState.IDLE:
        await parties.kiosk.reset()
    await parties.officer.set_available()
    if parties.interpreter.state != "available":
        available = asyncio.ensure_future(
            parties.interpreter.events.wait("state", timeout, state="available")
        )
        await parties.interpreter.set_available()
        await available


async def run_calls(
    url: str, kiosk: tuple[str, str], officer: tuple[str, str], options: ThreeWayOptions
) -> ThreeWayReport:
    """``options.calls`` calls one after the other; ``kiosk`` and ``officer`` are (id, secret) pairs, the
    interpreter is ``INTERPRETER`` (``add_interpreter``)."""
    o = options
    kiosk_c = KioskController(url, kiosk[0], kiosk[1], SimulatedMedia("kiosk", o.width, o.height, o.fps, 440))
    officer_c = ConsoleController(
        url, officer[0], officer[1], SimulatedMedia("officer", o.width, o.height, o.fps, 660)
    )
    interpreter = InterpreterController(
        url, INTERPRETER, PASSWORD, SimulatedMedia("interpreter", o.width, o.height, o.fps, 880)
    )
    parties = Parties(kiosk_c, officer_c, interpreter)
    report = ThreeWayReport()
    started = time.perf_counter()
    try:
        await asyncio.gather(kiosk_c.start(), officer_c.start(), interpreter.start())
        for _ in range(o.calls):
            await _ready(parties, 5.0)
            report.results.append(await three_way_call(parties, o))
    finally:
        await asyncio.gather(kiosk_c.stop(), officer_c.stop(), interpreter.stop(), return_exceptions=True)
        report.wall_s = time.perf_counter() - started
    return report


def add_interpreter(server: EmbeddedServer, username: str, password: str, languages: Iterable[str]) -> None:
    """An interpreter account (as madoguchi-admin makes one) speaking ``languages``."""
    skills = {language: "primary" for language in languages}
    server.store.add_officer(
        username, "通訳 シミュレーション", "interpreter", hash_password(password), skills
    )


async def run_three_way(config: AppConfig, options: ThreeWayOptions) -> dict[str, Any]:
    restrict_to_loopback()
    with tempfile.TemporaryDirectory(prefix="madoguchi-3way-") as tmp:
        async with EmbeddedServer(config, Path(tmp) / "sim.sqlite3") as server:
            creds = provision(
                server.store, config, kiosk_ids=["sim-kiosk-0000"], officers=["sim-officer-0000"]
            )
            add_interpreter(server, INTERPRETER, PASSWORD, [options.language])
            kiosk = ("sim-kiosk-0000", creds.kiosk_tokens["sim-kiosk-0000"])
            officer = ("sim-officer-0000", creds.officer_passwords["sim-officer-0000"])
            report = await run_calls(server.url, kiosk, officer, options)
            return report.summary(options.calls)


def main_three_way(parser: Any, args: Any) -> int:
    """``madoguchi-sim --three-way``: exit 0 only when every call held (see ``succeeded``)."""
    import json
    import sys

    from config import ConfigError, load_config
    from signaling_server.testing import always_open

    if args.server:
        parser.error("--three-way starts its own embedded server; it cannot use --server")
    if args.calls < 1:
        parser.error("--three-way needs --calls of at least 1")
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    options = ThreeWayOptions(calls=args.calls, fps=args.fps if args.fps else 15)
    try:
        config = always_open(load_config(args.config))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    summary = asyncio.run(run_three_way(config, options))
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for key, value in summary.items():
            print(f"{key:32} {value}")
    return 0 if succeeded(summary, options) else 1
