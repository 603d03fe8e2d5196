"""Shared helpers for the benchmarks: the machine, medians, the JSON result shape and a small CLI.

Every benchmark measures our code and a baseline in the same run on the same machine and reports the
ratio, so a slower or busier machine changes both sides alike. A result is one JSON object::

    {"name": ..., "value": ..., "baseline": ..., "unit": ..., "ratio": ..., "goal": ..., "pass": ...,
     "details": {...}}

``ratio`` is value / baseline; ``goal`` is a readable bound on it (``"<= 1.5"`` or ``">= 0.5"``) and ``pass``
says whether the ratio met it. Benchmarks with several cases add ``"cases": [...]`` (each of the same shape)
and report the worst case at the top level.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/x.py` from anywhere
    sys.path.insert(0, str(ROOT))

from remote_call.session import restrict_to_loopback  # noqa: E402  (after the path above)

# Benchmarks keep media on 127.0.0.1: every peer connection of this process gathers the loopback host
# candidate only, and the child processes a benchmark starts follow (MADOGUCHI_MEDIA_LOOPBACK=1).
restrict_to_loopback()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import aiohttp
    import aiortc
    import av

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "aiortc": aiortc.__version__,
        "aiohttp": aiohttp.__version__,
        "av": av.__version__,
        "os": f"{platform.system()} {platform.release()}",
        "loadavg_1m": round(load[0], 2) if load else None,
    }


def median(values: list[float]) -> float:
    if not values:
        raise ValueError("no measurements to take the median of")
    return statistics.median(values)


def ratio_result(
    name: str,
    value: float,
    baseline: float,
    unit: str,
    *,
    goal: float,
    higher_is_better: bool,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One result: ``ratio = value / baseline`` checked against ``goal`` (an upper bound on the ratio when
    lower values are better, a lower bound when higher values are better)."""
    if baseline <= 0:
        raise ValueError(f"{name}: the baseline must be positive to form a ratio, got {baseline}")
    ratio = value / baseline
    passed = ratio >= goal if higher_is_better else ratio <= goal
    return {
        "name": name,
        "value": round(value, 3),
        "baseline": round(baseline, 3),
        "unit": unit,
        "ratio": round(ratio, 3),
        "goal": f"{'>=' if higher_is_better else '<='} {goal:g}",
        "pass": bool(passed),
        "details": details or {},
    }


def worst_of(name: str, cases: list[dict[str, Any]], *, higher_is_better: bool) -> dict[str, Any]:
    """A result made of several cases: the top level is the case furthest from its goal."""
    if not cases:
        raise ValueError(f"{name}: no cases")
    worst = min(cases, key=lambda c: c["ratio"]) if higher_is_better else max(cases, key=lambda c: c["ratio"])
    result = dict(worst)
    result["name"] = name
    result["pass"] = all(c["pass"] for c in cases)
    result["cases"] = cases
    return result


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def bench_main(
    description: str, run: Callable[[bool], Awaitable[dict[str, Any]]], argv: list[str] | None = None
) -> int:
    """The benchmarks' command line: ``--json`` prints one JSON object, ``--quick`` is a short smoke run."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--quick", action="store_true", help="a short run for CI smoke tests (noisy figures)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    result = asyncio.run(run(args.quick))
    result["quick"] = args.quick
    result["machine"] = machine()
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        rows = result.get("cases", [result])
        for row in rows:
            verdict = "PASS" if row["pass"] else "FAIL"
            print(
                f"{row['name']:44} {row['value']:>12.3f} {row['unit']:10} "
                f"baseline {row['baseline']:>12.3f} ratio {row['ratio']:.2f} (goal {row['goal']}) "
                f"{verdict}"
            )
    return 0


# ----------------------------------------------------------------------------- a real call rig

RIG_DEPARTMENT = "shimin-toroku"  # a one-to-one counter (a one-stop case would move on, not end)
RIG_TIMEOUT_S = 30.0


class CallRig:
    """An embedded signaling server, one KioskController and one ConsoleController (the code the GUIs run)
    with simulated camera and microphone; ``await rig.call(seconds)`` places one real call and returns its
    timings. Used by the call-setup and memory benchmarks."""

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15, *, telemetry: bool = True):
        self.width, self.height, self.fps = width, height, fps
        self.telemetry = telemetry
        self._stack: Any = None

    async def __aenter__(self) -> CallRig:
        import contextlib
        import tempfile

        from hardware.simulated import SimulatedMedia
        from kiosk_client.controller import KioskController
        from signaling_server.embedded import EmbeddedServer, provision
        from signaling_server.testing import test_config
        from staff_console.controller import ConsoleController

        self._stack = contextlib.AsyncExitStack()
        tmp = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="madoguchi-bench-"))
        self.server = await self._stack.enter_async_context(
            EmbeddedServer(test_config(), Path(tmp) / "bench.sqlite3")
        )
        creds = provision(
            self.server.store, self.server.config, kiosk_ids=["bench-kiosk"], officers=["bench-officer"]
        )
        w, h, fps = self.width, self.height, self.fps
        self.kiosk = KioskController(
            self.server.url,
            "bench-kiosk",
            creds.kiosk_tokens["bench-kiosk"],
            SimulatedMedia("kiosk", w, h, fps, 440.0),
            telemetry=self.telemetry,
        )
        self.officer = ConsoleController(
            self.server.url,
            "bench-officer",
            creds.officer_passwords["bench-officer"],
            SimulatedMedia("officer", w, h, fps, 660.0),
            telemetry=self.telemetry,
        )
        await self.kiosk.start()
        self._stack.push_async_callback(self.kiosk.stop)
        await self.officer.start()
        self._stack.push_async_callback(self.officer.stop)
        await self.officer.set_available()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def call(self, seconds: float = 0.0) -> dict[str, float]:
        """One call: request → ring → accept → first decoded video frame at both ends → ``seconds`` of
        media → the officer ends it → both sides back to idle. Times in ms from the accept."""
        import time

        from kiosk_client.controller import KioskState

        kiosk, officer, t = self.kiosk, self.officer, RIG_TIMEOUT_S
        ring = asyncio.ensure_future(officer.events.wait("ring", t))
        await kiosk.request_call(RIG_DEPARTMENT)
        call_id = (await ring)["call_id"]
        started = asyncio.ensure_future(officer.events.wait("call_started", t, call_id=call_id))
        accepted_at = time.perf_counter()
        await officer.accept()
        await started
        o_session = officer.party.session
        k_session = kiosk.party.session
        if o_session is None or k_session is None:
            raise RuntimeError("the call started without a media session on both sides")
        await asyncio.wait_for(o_session.remote_video.first.wait(), t)
        await asyncio.wait_for(k_session.remote_video.first.wait(), t)
        first_o = o_session.remote_video.first_at or 0.0
        first_k = k_session.remote_video.first_at or 0.0
        if seconds > 0:
            await asyncio.sleep(seconds)  # the call's media flowing: what is measured, not a synchronisation
        frames = (o_session.remote_video.count, k_session.remote_video.count)
        wrapping = asyncio.ensure_future(officer.events.wait("officer_state", t, state="wrap_up"))
        ended = asyncio.ensure_future(kiosk.events.wait("call_ended", t, call_id=call_id))
        await officer.end_call("resolved", "benchmark")
        await wrapping
        await ended
        await officer.set_available()
        if kiosk.state is not KioskState.IDLE:
            await kiosk.reset()
        return {
            "setup_ms": (max(first_o, first_k) - accepted_at) * 1000,
            "first_frame_officer_ms": (first_o - accepted_at) * 1000,
            "first_frame_kiosk_ms": (first_k - accepted_at) * 1000,
            "frames_to_officer": frames[0],
            "frames_to_kiosk": frames[1],
        }


async def bare_loopback_call(width: int, height: int, fps: int, seconds: float = 0.0) -> dict[str, float]:
    """The baseline: two bare RTCPeerConnections in this process (no ICE servers), the same simulated
    tracks both ways (VP8 preferred, as ours), offer → first decoded video frame at both ends."""
    import contextlib
    import time

    from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender
    from aiortc.mediastreams import MediaStreamError

    from hardware.simulated import TestPatternVideoTrack, ToneAudioTrack

    pcs = [RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(2)]
    first: list[asyncio.Event] = [asyncio.Event(), asyncio.Event()]
    first_at = [0.0, 0.0]
    counts = [0, 0]
    tasks: list[asyncio.Task] = []

    def on_track_for(i: int):
        def on_track(track) -> None:
            async def drain() -> None:
                with contextlib.suppress(MediaStreamError):
                    while True:
                        await track.recv()
                        if track.kind == "video":
                            counts[i] += 1
                            if not first[i].is_set():
                                first_at[i] = time.perf_counter()
                                first[i].set()

            tasks.append(asyncio.ensure_future(drain()))

        return on_track

    for i, pc in enumerate(pcs):
        pc.on("track", on_track_for(i))
    tracks = [
        (TestPatternVideoTrack(f"bare{i}", width, height, fps), ToneAudioTrack(440.0 + 220 * i))
        for i in range(2)
    ]
    try:
        started = time.perf_counter()
        video, audio = tracks[0]
        pcs[0].addTransceiver(audio, direction="sendrecv")
        transceiver = pcs[0].addTransceiver(video, direction="sendrecv")
        transceiver.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
        )
        await pcs[0].setLocalDescription(await pcs[0].createOffer())
        await pcs[1].setRemoteDescription(pcs[0].localDescription)
        for track in (tracks[1][1], tracks[1][0]):
            pcs[1].addTrack(track)
        await pcs[1].setLocalDescription(await pcs[1].createAnswer())
        await pcs[0].setRemoteDescription(pcs[1].localDescription)
        await asyncio.wait_for(first[0].wait(), RIG_TIMEOUT_S)
        await asyncio.wait_for(first[1].wait(), RIG_TIMEOUT_S)
        if seconds > 0:
            await asyncio.sleep(seconds)  # media flowing: what is measured
        return {"setup_ms": (max(first_at) - started) * 1000, "frames_a": counts[0], "frames_b": counts[1]}
    finally:
        for task in tasks:
            task.cancel()
        for pc in pcs:
            await pc.close()
        for video, audio in tracks:
            video.stop()
            audio.stop()
