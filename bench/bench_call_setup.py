"""Call setup: ours (kiosk + console controllers through the signaling server) vs bare aiortc loopback.

Ours: a KioskController and a ConsoleController (the code behind the GUIs) with simulated camera and
microphone, through an embedded signaling server on loopback; the time from the officer pressing accept to
the first decoded video frame at *both* ends (signaling hops, both peer connections, DTLS, first keyframe).
Baseline: two bare RTCPeerConnections in this process with the same tracks, from createOffer to the first
decoded frame at both ends. Calls alternate between the two, several repetitions each; medians compared.
Goal: ours <= 1.5x the baseline.
"""

from __future__ import annotations

import sys

try:
    from bench.common import CallRig, bare_loopback_call, bench_main, median, ratio_result
except ModuleNotFoundError:  # run as a script: bench/ is on sys.path, the project root is added by common
    from common import CallRig, bare_loopback_call, bench_main, median, ratio_result  # type: ignore[no-redef]

WIDTH, HEIGHT, FPS = 640, 480, 15
GOAL = 1.5


async def run(quick: bool) -> dict:
    reps = 3 if quick else 15
    ours: list[float] = []
    bare: list[float] = []
    async with CallRig(WIDTH, HEIGHT, FPS) as rig:
        await rig.call(0.0)  # warm-up: codecs loaded, connections pooled
        await bare_loopback_call(WIDTH, HEIGHT, FPS)
        for _ in range(reps):  # interleaved, so drifting machine load hits both alike
            ours.append((await rig.call(0.0))["setup_ms"])
            bare.append((await bare_loopback_call(WIDTH, HEIGHT, FPS))["setup_ms"])
    return ratio_result(
        "call setup (accept → first frame both ends)",
        median(ours),
        median(bare),
        "ms",
        goal=GOAL,
        higher_is_better=False,
        details={
            "repetitions": reps,
            "resolution": f"{WIDTH}x{HEIGHT}@{FPS}",
            "ours_ms": [round(v, 1) for v in ours],
            "baseline_ms": [round(v, 1) for v in bare],
        },
    )


if __name__ == "__main__":
    sys.exit(bench_main(__doc__.splitlines()[0], run))
