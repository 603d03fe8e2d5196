"""Kiosk CPU per call at 640×480 and 1280×720: our kiosk controller vs a bare aiortc peer connection.

Ours: the kiosk (KioskController with the simulated camera and microphone) runs in its own process and
calls an officer (ConsoleController, another process) through an embedded signaling server (this process).
Baseline: two bare RTCPeerConnections, each in its own process, with the same tracks (test pattern video at
the same size and frame rate, a tone) both ways, SDP passed through pipes. In both, the kiosk-side process
(the offerer) measures its own CPU time (``time.process_time``, every thread) over N seconds of an
established call, after the first decoded frame and a warm-up; the result is % of one core. Everything the
kiosk does beyond media (data channels, link pings, telemetry, signaling) is what the ratio shows.
Goal: ours <= 1.2x at both resolutions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

try:
    from bench.common import ROOT, bench_main, median, ratio_result, worst_of
except ModuleNotFoundError:
    from common import ROOT, bench_main, median, ratio_result, worst_of  # type: ignore[no-redef]

GOAL = 1.2
FPS = 15
DEPARTMENT = "shimin-toroku"
RESOLUTIONS = ((640, 480), (1280, 720))
ROLE_TIMEOUT_S = 60.0


# ----------------------------------------------------------------------------- child roles


async def _measure(first: asyncio.Event, frames, warmup_s: float, seconds: float) -> dict:
    await asyncio.wait_for(first.wait(), ROLE_TIMEOUT_S)
    await asyncio.sleep(warmup_s)  # codec start-up and the first keyframes are not the steady state
    frames0, cpu0, wall0 = frames(), time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)  # the call running: the measured interval
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cpu_s": cpu, "wall_s": wall, "cpu_pct": 100 * cpu / wall, "frames_in": frames() - frames0}


async def _role_kiosk(a: argparse.Namespace) -> dict:
    from hardware.simulated import SimulatedMedia
    from kiosk_client.controller import KioskController

    kiosk = KioskController(a.url, a.name, a.secret, SimulatedMedia("kiosk", a.width, a.height, FPS, 440.0))
    await kiosk.start()
    try:
        started = asyncio.ensure_future(kiosk.events.wait("call_started", ROLE_TIMEOUT_S))
        await kiosk.request_call(DEPARTMENT)
        await started
        session = kiosk.party.session
        if session is None:
            raise RuntimeError("the call started without a media session")
        result = await _measure(
            session.remote_video.first, lambda: session.remote_video.count, a.warmup, a.seconds
        )
        ended = asyncio.ensure_future(kiosk.events.wait("call_ended", ROLE_TIMEOUT_S))
        await kiosk.end_call()
        await ended
        return result
    finally:
        await kiosk.stop()


async def _role_officer(a: argparse.Namespace) -> dict:
    from hardware.simulated import SimulatedMedia
    from staff_console.controller import ConsoleController

    officer = ConsoleController(
        a.url, a.name, a.secret, SimulatedMedia("officer", a.width, a.height, FPS, 660.0)
    )
    await officer.start()
    try:
        ring = asyncio.ensure_future(officer.events.wait("ring", ROLE_TIMEOUT_S))
        await officer.set_available()
        await ring
        ended = asyncio.ensure_future(officer.events.wait("call_ended", ROLE_TIMEOUT_S + a.seconds))
        await officer.accept()
        await ended
        return {"ok": True}
    finally:
        await officer.stop()


async def _role_bare(a: argparse.Namespace) -> dict:
    """One bare peer connection; SDP in and out as JSON lines on stdin/stdout."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    from hardware.simulated import TestPatternVideoTrack, ToneAudioTrack

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    first = asyncio.Event()
    frames = [0]
    tasks: list[asyncio.Task] = []

    @pc.on("track")
    def on_track(track) -> None:
        async def drain() -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    await track.recv()
                    if track.kind == "video":
                        frames[0] += 1
                        first.set()

        tasks.append(asyncio.ensure_future(drain()))

    video = TestPatternVideoTrack(a.role, a.width, a.height, FPS)
    audio = ToneAudioTrack(440.0 if a.role == "bare-offer" else 660.0)

    def emit(description) -> None:
        print(json.dumps({"type": description.type, "sdp": description.sdp}), flush=True)

    async def read() -> RTCSessionDescription:
        line = await asyncio.wait_for(reader.readline(), ROLE_TIMEOUT_S)
        data = json.loads(line)
        return RTCSessionDescription(sdp=data["sdp"], type=data["type"])

    try:
        if a.role == "bare-offer":
            pc.addTransceiver(audio, direction="sendrecv")
            transceiver = pc.addTransceiver(video, direction="sendrecv")
            transceiver.setCodecPreferences(
                [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
            )
            await pc.setLocalDescription(await pc.createOffer())
            emit(pc.localDescription)
            await pc.setRemoteDescription(await read())
            return await _measure(first, lambda: frames[0], a.warmup, a.seconds)
        await pc.setRemoteDescription(await read())
        pc.addTrack(audio)
        pc.addTrack(video)
        await pc.setLocalDescription(await pc.createAnswer())
        emit(pc.localDescription)
        await asyncio.wait_for(reader.read(), ROLE_TIMEOUT_S + a.seconds)  # until the parent closes stdin
        return {"ok": True, "frames_in": frames[0]}
    finally:
        for task in tasks:
            task.cancel()
        await pc.close()


def _child(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", required=True, choices=("kiosk", "officer", "bare-offer", "bare-answer"))
    parser.add_argument("--url", default="")
    parser.add_argument("--name", default="")
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--height", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=1.0)
    a = parser.parse_args(argv)
    a.secret = os.environ.get("BENCH_SECRET", "")  # never on a command line
    role = {"kiosk": _role_kiosk, "officer": _role_officer}.get(a.role, _role_bare)
    result = asyncio.run(role(a))
    print(json.dumps({"result": result}), flush=True)
    return 0


# ----------------------------------------------------------------------------- parent


async def _spawn(
    role: str,
    width: int,
    height: int,
    seconds: float,
    warmup: float,
    *,
    url: str = "",
    name: str = "",
    secret: str = "",
) -> asyncio.subprocess.Process:
    env = dict(os.environ, BENCH_SECRET=secret)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--role",
        role,
        "--url",
        url,
        "--name",
        name,
        "--width",
        str(width),
        "--height",
        str(height),
        "--seconds",
        str(seconds),
        "--warmup",
        str(warmup),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )


async def _result(proc: asyncio.subprocess.Process, timeout: float) -> dict:
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError("a benchmark process did not finish in time") from None
    for line in reversed(out.decode().splitlines()):
        if line.startswith('{"result"'):
            return json.loads(line)["result"]
    raise RuntimeError(f"a benchmark process failed (exit {proc.returncode}): {err.decode()[-1500:]}")


async def _ours(server, creds, width: int, height: int, seconds: float, warmup: float) -> dict:
    kiosk_id, token = next(iter(creds.kiosk_tokens.items()))
    name, password = next(iter(creds.officer_passwords.items()))
    officer = await _spawn(
        "officer", width, height, seconds, warmup, url=server.url, name=name, secret=password
    )
    kiosk = await _spawn("kiosk", width, height, seconds, warmup, url=server.url, name=kiosk_id, secret=token)
    try:
        result = await _result(kiosk, ROLE_TIMEOUT_S + seconds + warmup)
        await _result(officer, ROLE_TIMEOUT_S)
        return result
    finally:
        for proc in (kiosk, officer):
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def _bare(width: int, height: int, seconds: float, warmup: float) -> dict:
    offer = await _spawn("bare-offer", width, height, seconds, warmup)
    answer = await _spawn("bare-answer", width, height, seconds, warmup)
    try:
        assert offer.stdout and offer.stdin and answer.stdout and answer.stdin
        line = await asyncio.wait_for(offer.stdout.readline(), ROLE_TIMEOUT_S)
        answer.stdin.write(line)
        await answer.stdin.drain()
        line = await asyncio.wait_for(answer.stdout.readline(), ROLE_TIMEOUT_S)
        offer.stdin.write(line)
        await offer.stdin.drain()
        result = await _result(offer, ROLE_TIMEOUT_S + seconds + warmup)
        answer.stdin.close()
        await _result(answer, ROLE_TIMEOUT_S)
        return result
    finally:
        for proc in (offer, answer):
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def run(quick: bool) -> dict:
    from signaling_server.embedded import EmbeddedServer, provision
    from signaling_server.testing import test_config

    seconds, warmup, reps = (1.0, 0.5, 1) if quick else (10.0, 2.0, 2)
    resolutions = RESOLUTIONS[:1] if quick else RESOLUTIONS  # quick: a smoke run of the smaller size
    cases = []
    config = test_config()
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-") as tmp:
        async with EmbeddedServer(config, Path(tmp) / "cpu.sqlite3") as server:
            creds = provision(server.store, config, kiosk_ids=["cpu-kiosk"], officers=["cpu-officer"])
            for width, height in resolutions:
                ours, bare, frames = [], [], []
                for _ in range(reps):  # interleaved
                    o = await _ours(server, creds, width, height, seconds, warmup)
                    b = await _bare(width, height, seconds, warmup)
                    ours.append(o["cpu_pct"])
                    bare.append(b["cpu_pct"])
                    frames.append({"ours": o["frames_in"], "baseline": b["frames_in"]})
                cases.append(
                    ratio_result(
                        f"kiosk CPU per call {width}x{height}",
                        median(ours),
                        median(bare),
                        "% of a core",
                        goal=GOAL,
                        higher_is_better=False,
                        details={
                            "seconds": seconds,
                            "fps": FPS,
                            "repetitions": reps,
                            "ours_pct": [round(v, 1) for v in ours],
                            "baseline_pct": [round(v, 1) for v in bare],
                            "frames_in": frames,
                        },
                    )
                )
    return worst_of("kiosk CPU per call", cases, higher_is_better=False)


if __name__ == "__main__":
    if "--child" in sys.argv:
        sys.exit(_child([a for a in sys.argv[1:] if a != "--child"]))
    sys.exit(bench_main(__doc__.splitlines()[0], run))
