"""A headless fleet: N kiosks and M officers placing K real calls through a signaling server.

Kiosks and officers are the same controllers the GUIs drive, with simulated devices. Each kiosk asks for
a random open department; officers accept every ring, keep the call for ``call_seconds`` after media is
up, then end it. The result is the JSON summary documented in the README.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController, KioskState
from staff_console.controller import ConsoleController

log = logging.getLogger(__name__)


@dataclass
class CallResult:
    call_id: str
    kiosk: str
    officer: str
    department: str
    requested_at: float
    ring_at: float | None = None
    accepted_at: float | None = None
    first_video_kiosk_at: float | None = None
    first_video_officer_at: float | None = None
    video_to_officer: int = 0
    video_to_kiosk: int = 0
    audio_to_officer: int = 0
    audio_to_kiosk: int = 0
    first_ewt_s: float | None = None  # the estimate the resident saw on joining
    connected_at: float | None = None  # when media set-up began at the kiosk: the real wait ended
    completed: bool = False
    end_reason: str | None = None  # None: the kiosk was never told how its call ended
    error: str | None = None


@dataclass
class FleetOptions:
    kiosks: int = 2
    officers: int = 2
    calls: int = 6
    call_seconds: float = 3.0
    width: int = 320
    height: int = 240
    fps: int = 20
    call_timeout_s: float = 60.0
    wrap_up_s: float = 0.0  # how long a simulated officer takes for notes before pressing "ready"
    abandon_rate: float = 0.0  # share of residents who give up waiting after a random patience
    patience_s: tuple[float, float] = (0.5, 4.0)
    seed: int | None = None


@dataclass
class FleetReport:
    results: list[CallResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    calls_requested: int = 0
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        done = [r for r in self.results if r.completed]
        abandoned = [r for r in self.results if r.end_reason == "cancelled"]
        setup = [
            (max(r.first_video_kiosk_at, r.first_video_officer_at) - r.accepted_at) * 1000
            for r in done
            if r.accepted_at and r.first_video_kiosk_at and r.first_video_officer_at
        ]
        route = [(r.ring_at - r.requested_at) * 1000 for r in self.results if r.ring_at]
        # Lost: a resident who was never served and never told the call ended (still waiting at the end).
        lost = sum(1 for r in self.results if not r.completed and r.end_reason is None)
        waits = [
            (r.first_ewt_s, r.connected_at - r.requested_at)
            for r in self.results
            if r.first_ewt_s is not None and r.connected_at is not None
        ]
        return {
            "calls_requested": self.calls_requested,
            "calls_completed": len(done),
            "calls_failed": self.calls_requested - len(done) - len(abandoned),
            "callers_lost": lost,
            "abandoned": sum(1 for r in self.results if r.end_reason == "cancelled"),
            "ewt_mae_s": round(statistics.fmean(abs(e - w) for e, w in waits), 2) if waits else None,
            "setup_ms": _percentiles(setup),
            "route_ms": _percentiles(route),
            "video_frames_to_officer_min": min((r.video_to_officer for r in done), default=0),
            "video_frames_to_kiosk_min": min((r.video_to_kiosk for r in done), default=0),
            "audio_frames_to_officer_min": min((r.audio_to_officer for r in done), default=0),
            "audio_frames_to_kiosk_min": min((r.audio_to_kiosk for r in done), default=0),
            "wall_s": round(self.wall_s, 2),
            "errors": self.errors[:50],
        }


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"p50": round(statistics.median(ordered), 1), "p95": round(p95, 1), "max": round(ordered[-1], 1)}


class Fleet:
    def __init__(
        self, url: str, kiosk_tokens: dict[str, str], officer_passwords: dict[str, str], options: FleetOptions
    ):
        self.url = url
        self.options = options
        self.rng = random.Random(options.seed)
        o = options
        self.kiosks = [
            KioskController(url, kiosk_id, token, SimulatedMedia(kiosk_id, o.width, o.height, o.fps, 440.0))
            for kiosk_id, token in list(kiosk_tokens.items())[: o.kiosks]
        ]
        self.officers = [
            ConsoleController(url, name, password, SimulatedMedia(name, o.width, o.height, o.fps, 660.0))
            for name, password in list(officer_passwords.items())[: o.officers]
        ]
        self.report = FleetReport()
        self._ring_at: dict[str, float] = {}
        self._officer_side: dict[str, dict[str, Any]] = {}  # call id -> what the answering officer measured
        self._remaining = options.calls
        self._officer_tasks: list[asyncio.Task] = []

    async def run(self) -> FleetReport:
        started = time.perf_counter()
        try:
            await asyncio.gather(*(k.start() for k in self.kiosks), *(o.start() for o in self.officers))
            for officer in self.officers:
                officer.events.subscribe(self._officer_listener(officer))
                await officer.set_available()
            await asyncio.gather(*(self._kiosk_loop(k) for k in self.kiosks))
        except Exception as exc:  # a failure of the fleet itself, reported rather than raised
            self.report.errors.append(f"fleet: {type(exc).__name__}: {exc}")
        finally:
            for task in self._officer_tasks:
                task.cancel()
            await asyncio.gather(
                *(k.stop() for k in self.kiosks), *(o.stop() for o in self.officers), return_exceptions=True
            )
            self.report.wall_s = time.perf_counter() - started
        return self.report

    def _take_call(self) -> bool:
        if self._remaining <= 0:
            return False
        self._remaining -= 1
        self.report.calls_requested += 1
        return True

    async def _kiosk_loop(self, kiosk: KioskController) -> None:
        while self._take_call():
            open_departments = [d.id for d in kiosk.departments.values() if d.open]
            if not open_departments:
                self.report.errors.append(f"{kiosk.kiosk_id}: no open department")
                return
            department = self.rng.choice(sorted(open_departments))
            result = CallResult(
                call_id="",
                kiosk=kiosk.kiosk_id,
                officer="",
                department=department,
                requested_at=time.perf_counter(),
            )
            self.report.results.append(result)
            unsubscribe = kiosk.events.subscribe(self._kiosk_listener(result))
            try:
                queued = asyncio.ensure_future(kiosk.events.wait("queue", self.options.call_timeout_s))
                await kiosk.request_call(department)
                first = await queued
                result.first_ewt_s = first.get("ewt_s")
                result.call_id = kiosk.resident.call_id or ""
                ending = asyncio.ensure_future(
                    kiosk.events.wait("call_ended", self.options.call_timeout_s, call_id=result.call_id)
                )
                if self.rng.random() < self.options.abandon_rate:
                    patience = self.rng.uniform(*self.options.patience_s)
                    done, _ = await asyncio.wait({ending}, timeout=patience)
                    if not done and result.connected_at is None:
                        await kiosk.cancel()  # the resident gives up waiting
                ended = await ending
                result.end_reason = ended.get("reason")
                result.video_to_kiosk = ended.get("video_frames_in", 0)
                result.audio_to_kiosk = ended.get("audio_frames_in", 0)
                result.first_video_kiosk_at = ended.get("first_video_at")
                result.ring_at = self._ring_at.get(result.call_id)
                for key, value in self._officer_side.pop(result.call_id, {}).items():
                    setattr(result, key, value)
                result.completed = ended.get("reason") == "completed" and result.accepted_at is not None
                if not result.completed and result.end_reason != "cancelled":
                    result.error = f"ended: {ended.get('reason')}"
            except TimeoutError:
                result.error = f"timed out in state {kiosk.state.value}"
            except Exception as exc:
                result.error = f"{type(exc).__name__}: {exc}"
            finally:
                unsubscribe()
            if result.error:
                self.report.errors.append(f"{kiosk.kiosk_id} call {result.call_id or '?'}: {result.error}")
            if kiosk.state is not KioskState.IDLE:
                await kiosk.reset()

    @staticmethod
    def _kiosk_listener(result: CallResult):
        def listener(event: str, data: dict) -> None:
            if event == "call_connecting" and result.connected_at is None:
                result.connected_at = time.perf_counter()

        return listener

    def _officer_listener(self, officer: ConsoleController):
        def listener(event: str, data: dict) -> None:
            if event == "ring":
                self._ring_at.setdefault(data["call_id"], time.perf_counter())
                self._officer_tasks.append(asyncio.ensure_future(self._answer(officer, data["call_id"])))

        return listener

    async def _answer(self, officer: ConsoleController, call_id: str) -> None:
        timeout = self.options.call_timeout_s
        try:
            started = asyncio.ensure_future(officer.events.wait("call_started", timeout, call_id=call_id))
            accepted_at = time.perf_counter()
            await officer.accept()
            await started
            session = officer.party.session
            if session is None:
                raise RuntimeError("the call started without a session")
            await asyncio.wait_for(session.remote_video.first.wait(), timeout)
            await asyncio.sleep(self.options.call_seconds)  # the simulated conversation, not synchronisation
            self._officer_side[call_id] = {
                "accepted_at": accepted_at,
                "officer": officer.username,
                "video_to_officer": session.remote_video.count,
                "audio_to_officer": session.remote_audio.count,
                "first_video_officer_at": session.remote_video.first_at,
            }
            wrapping = asyncio.ensure_future(officer.events.wait("officer_state", timeout, state="wrap_up"))
            await officer.end_call("resolved", "simulated call")
            await wrapping
            await asyncio.sleep(self.options.wrap_up_s)  # the simulated officer writing notes
            await officer.set_available()
        except Exception as exc:
            self.report.errors.append(f"{officer.username} call {call_id}: {type(exc).__name__}: {exc}")
            with contextlib.suppress(Exception):
                if officer.call_id == call_id:
                    await officer.end_call("other", "simulator error")
