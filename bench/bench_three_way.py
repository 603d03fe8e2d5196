"""Kiosk CPU in a three-way call (kiosk, officer, interpreter: a mesh) as a ratio to a two-way call, same run.

The kiosk (KioskController, simulated camera and microphone) runs in its own process and measures its own
CPU time (``time.process_time``, every thread) over N seconds of an established call, after the first video
frame from every other party and a warm-up; the result is % of one core. The embedded server, the officer
(ConsoleController) and the interpreter (the console's interpreter mode) run in this process. Two-way and
three-way calls alternate. In a mesh the kiosk encodes and sends its camera once per other party and decodes
each party's video: the cost should grow about linearly with the number of other parties, so the goal is a
ratio of at most 2.3 (two peer connections against one, plus a little); the figures also give the
per-peer cost from which docs/performance.md reads where a media server (an SFU such as Janus) would be
needed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

try:
    from bench.common import ROOT, bench_main, median, ratio_result
except ModuleNotFoundError:
    from common import ROOT, bench_main, median, ratio_result  # type: ignore[no-redef]

GOAL = 2.3
FPS = 15
WIDTH, HEIGHT = 640, 480
DEPARTMENT = "kosodate"
LANGUAGE = "ne"
ROLE_TIMEOUT_S = 60.0
INTERPRETER, INTERPRETER_PASSWORD = "bench-interpreter", "bench interpreter password"


# ----------------------------------------------------------------------------- the kiosk process


async def _role_kiosk(a: argparse.Namespace) -> dict:
    from hardware.simulated import SimulatedMedia
    from kiosk_client.controller import KioskController

    kiosk = KioskController(a.url, a.name, a.secret, SimulatedMedia("kiosk", a.width, a.height, FPS, 440.0))
    await kiosk.start()
    try:
        started = asyncio.ensure_future(kiosk.events.wait("call_started", ROLE_TIMEOUT_S))
        joined = asyncio.ensure_future(
            kiosk.events.wait("peer_connected", ROLE_TIMEOUT_S * 2, peer="interpreter")
        )
        await kiosk.request_call(DEPARTMENT)
        await started
        session = kiosk.party.session
        if session is None:
            raise RuntimeError("the call started without a media session")
        await asyncio.wait_for(session.remote_video.first.wait(), ROLE_TIMEOUT_S)
        sessions = [session]
        if a.parties == 3:
            await joined
            third = kiosk.conference.session("interpreter")
            if third is None:
                raise RuntimeError("the interpreter joined without a media session")
            await asyncio.wait_for(third.remote_video.first.wait(), ROLE_TIMEOUT_S)
            sessions.append(third)
        joined.cancel()
        await asyncio.sleep(a.warmup)  # codec start-up and the first keyframes are not the steady state
        frames0 = [s.remote_video.count for s in sessions]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(a.seconds)  # the call running: the measured interval
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        frames = [s.remote_video.count - f for s, f in zip(sessions, frames0, strict=True)]
        ended = asyncio.ensure_future(kiosk.events.wait("call_ended", ROLE_TIMEOUT_S))
        await kiosk.end_call()
        await ended
        return {"cpu_pct": 100 * cpu / wall, "wall_s": wall, "frames_in": frames}
    finally:
        await kiosk.stop()


def _child(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--parties", type=int, choices=(2, 3), required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--height", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=1.0)
    a = parser.parse_args(argv)
    a.secret = os.environ.get("BENCH_SECRET", "")  # never on a command line
    print(json.dumps({"result": asyncio.run(_role_kiosk(a))}), flush=True)
    return 0


# ----------------------------------------------------------------------------- this process: the staff


class Staff:
    """The officer and the interpreter, answering whatever comes (the interpreter only when asked)."""

    def __init__(self, url: str, officer: tuple[str, str], width: int, height: int) -> None:
        from hardware.simulated import SimulatedMedia
        from staff_console.controller import ConsoleController
        from staff_console.interpreter import InterpreterController

        self.officer = ConsoleController(
            url, officer[0], officer[1], SimulatedMedia("officer", width, height, FPS, 660.0), telemetry=False
        )
        self.interpreter = InterpreterController(
            url, INTERPRETER, INTERPRETER_PASSWORD, SimulatedMedia("interpreter", width, height, FPS, 880.0)
        )

    async def start(self) -> None:
        await asyncio.gather(self.officer.start(), self.interpreter.start())
        await self.interpreter.set_available()

    async def stop(self) -> None:
        await asyncio.gather(self.officer.stop(), self.interpreter.stop(), return_exceptions=True)

    async def serve(self, parties: int) -> None:
        """Answer one call; with three parties request the interpreter and have them answer."""
        o, i = self.officer, self.interpreter
        ring = asyncio.ensure_future(o.events.wait("ring", ROLE_TIMEOUT_S))
        await o.set_available()
        call_id = (await ring)["call_id"]
        started = asyncio.ensure_future(o.events.wait("call_started", ROLE_TIMEOUT_S, call_id=call_id))
        ended = asyncio.ensure_future(o.events.wait("call_ended", ROLE_TIMEOUT_S * 3, call_id=call_id))
        await o.accept()
        await started
        if parties == 3:
            offered = asyncio.ensure_future(i.events.wait("ring", ROLE_TIMEOUT_S, call_id=call_id))
            await o.interpreter.request(LANGUAGE)
            await offered
            await i.accept()
        await ended
        if i.in_call:
            await i.leave()
        if i.state != "available":
            await i.set_available()


async def _one(
    server, kiosk: tuple[str, str], staff: Staff, parties: int, seconds: float, warmup: float
) -> dict:
    serving = asyncio.ensure_future(staff.serve(parties))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        *("--url", server.url, "--name", kiosk[0], "--parties", str(parties)),
        *("--width", str(WIDTH), "--height", str(HEIGHT), "--seconds", str(seconds), "--warmup", str(warmup)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=dict(os.environ, BENCH_SECRET=kiosk[1]),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), ROLE_TIMEOUT_S * 3 + seconds)
        await asyncio.wait_for(serving, ROLE_TIMEOUT_S)
    finally:
        serving.cancel()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    for line in reversed(out.decode().splitlines()):
        if line.startswith('{"result"'):
            return json.loads(line)["result"]
    raise RuntimeError(f"the kiosk process failed (exit {proc.returncode}): {err.decode()[-1500:]}")


async def run(quick: bool) -> dict:
    from remote_call.session import restrict_to_loopback
    from signaling_server.embedded import EmbeddedServer, provision
    from signaling_server.testing import always_open, test_config
    from simulator.three_way import add_interpreter

    restrict_to_loopback()
    seconds, warmup, reps = (2.0, 1.0, 1) if quick else (10.0, 2.0, 2)
    config = always_open(test_config())
    two, three, frames = [], [], []
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-3way-") as tmp:
        async with EmbeddedServer(config, Path(tmp) / "3way.sqlite3") as server:
            creds = provision(server.store, config, kiosk_ids=["cpu-kiosk"], officers=["cpu-officer"])
            add_interpreter(server, INTERPRETER, INTERPRETER_PASSWORD, [LANGUAGE])
            kiosk = ("cpu-kiosk", creds.kiosk_tokens["cpu-kiosk"])
            staff = Staff(server.url, ("cpu-officer", creds.officer_passwords["cpu-officer"]), WIDTH, HEIGHT)
            await staff.start()
            try:
                for _ in range(reps):  # interleaved: the machine's state drifts alike for both
                    a = await _one(server, kiosk, staff, 2, seconds, warmup)
                    b = await _one(server, kiosk, staff, 3, seconds, warmup)
                    two.append(a["cpu_pct"])
                    three.append(b["cpu_pct"])
                    frames.append({"two_way": a["frames_in"], "three_way": b["frames_in"]})
            finally:
                await staff.stop()
    per_peer = median(three) - median(two)
    return ratio_result(
        f"kiosk CPU three-way / two-way {WIDTH}x{HEIGHT}",
        median(three),
        median(two),
        "% of a core",
        goal=GOAL,
        higher_is_better=False,
        details={
            "seconds": seconds,
            "fps": FPS,
            "repetitions": reps,
            "two_way_pct": [round(v, 1) for v in two],
            "three_way_pct": [round(v, 1) for v in three],
            "per_extra_peer_pct": round(per_peer, 1),
            "four_way_estimate_pct": round(median(three) + per_peer, 1),
            "frames_in": frames,
        },
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        sys.exit(_child([a for a in sys.argv[1:] if a != "--child"]))
    sys.exit(bench_main(__doc__.splitlines()[0], run))
