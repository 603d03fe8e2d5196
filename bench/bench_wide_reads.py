"""How soon a busy node's subscription takes in one large batch of frames (``cluster/wide_reads.py``).

At a term change a follower sends the new leader one batch for all its connections (some 2 MB at 20,000
kiosks) and the leader answers that follower's clients in batches of several MB (their welcomes). asyncio
reads a socket once per turn of the loop, at most 256 KiB, and a stream stops reading at twice its 64 KiB
limit: on a loop busy for tens of milliseconds a turn, a batch of megabytes waits for dozens of turns.

One redis-server on TCP loopback, as nodes on several machines reach it (started and stopped here; on a
unix socket redis-server's send buffer, some 200 KB, bounds what one turn can read whatever the reader).
The node's loop is kept busy by a callback that works ``TURN_S`` per turn (a loaded node's turn). Another
process publishes one batch of frames (a welcome's size each) as one PUBLISH; measured: seconds from the
PUBLISH to the whole batch handed on, and the loop's turns meanwhile. Ours: the ``Subscriber`` on a client
widened by ``with_wide_reads``. Baseline: the same ``Subscriber`` on a plain client (redis-py's defaults).
Rounds alternate; medians compared. Goal: ours takes the batch in at least 3x the baseline's speed
(batches per second).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

try:
    from bench.bench_cluster_relay import _redis
    from bench.common import ROOT, bench_main, median, ratio_result
except ModuleNotFoundError:  # run as a script
    from bench_cluster_relay import _redis  # type: ignore[no-redef]
    from common import ROOT, bench_main, median, ratio_result  # type: ignore[no-redef]

from signaling_server.cluster.bus import Frame, Subscriber
from signaling_server.cluster.wide_reads import with_wide_reads

GOAL = 3.0
CHANNEL = "bench:node:node-b"
TURN_S = 0.02  # a loaded node's turn of the loop (the 20,000-kiosk run: 20-100 ms)

PUBLISHER = """
import sys, time
import redis
from signaling_server.cluster.bus import SEPARATOR, Frame
url, channel, frames, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
text = '{"type":"welcome","padding":"' + "x" * size + '"}'
message = SEPARATOR.join(Frame("send", 2, "node-b", f"{i:x}", text).encode() for i in range(frames))
client = redis.Redis.from_url(url)
print(time.monotonic(), flush=True)
client.publish(channel, message)
"""


async def _redis_tcp(directory: Path) -> tuple[asyncio.subprocess.Process, str]:
    """redis-server on 127.0.0.1 and a free port; (the process, its URL)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return await _redis(directory, tcp_port=port)


class Batch:
    def __init__(self, frames: int) -> None:
        self.frames, self.seen, self.done, self.finished_at = frames, 0, asyncio.Event(), 0.0

    def on_frame(self, _channel: str, _frame: Frame) -> None:
        self.seen += 1
        if self.seen == self.frames:
            self.finished_at = time.monotonic()
            self.done.set()


class BusyLoop:
    """A callback that works ``TURN_S`` in every turn of the loop, counting the turns."""

    def __init__(self) -> None:
        self.turns = 0
        self.stopped = False

    def start(self) -> None:
        asyncio.get_running_loop().call_soon(self._turn)

    def _turn(self) -> None:
        self.turns += 1
        until = time.perf_counter() + TURN_S
        while time.perf_counter() < until:
            pass
        if not self.stopped:
            asyncio.get_running_loop().call_soon(self._turn)


async def _round(url: str, ours: bool, frames: int, size: int) -> tuple[float, int]:
    """One batch taken in under load: (seconds from the PUBLISH, turns of the loop meanwhile)."""
    redis = Redis.from_url(url)
    client = with_wide_reads(redis) if ours else redis
    batch, busy = Batch(frames), BusyLoop()
    subscriber = Subscriber(client, [CHANNEL], batch.on_frame, on_error=lambda exc: None, name="bench")
    assert await subscriber.start(timeout=10)
    busy.start()
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", PUBLISHER, url, CHANNEL, str(frames), str(size),
            stdout=asyncio.subprocess.PIPE, cwd=ROOT,
        )  # fmt: skip
        assert process.stdout is not None
        started = float(await asyncio.wait_for(process.stdout.readline(), 60))
        turns = busy.turns
        await asyncio.wait_for(batch.done.wait(), 120)
        if await process.wait() != 0:
            raise RuntimeError(f"the publisher exited with {process.returncode}")
        return batch.finished_at - started, busy.turns - turns
    finally:
        busy.stopped = True
        await subscriber.stop()
        await redis.aclose()


async def run(quick: bool) -> dict[str, Any]:
    frames, size, rounds = (500, 1000, 1) if quick else (4_000, 1200, 5)  # 0.5 MB quick, 5 MB full
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-wide-") as tmp:
        process, url = await _redis_tcp(Path(tmp))
        try:
            measured: dict[bool, list[tuple[float, int]]] = {True: [], False: []}
            for _ in range(rounds):
                for ours in (False, True):
                    measured[ours].append(await _round(url, ours, frames, size))
        finally:
            process.terminate()
            await process.wait()
    return ratio_result(
        "one large batch taken in by a busy node (batches/s)",
        1 / median([s for s, _ in measured[True]]),
        1 / median([s for s, _ in measured[False]]),
        "batches/s",
        goal=GOAL,
        higher_is_better=True,
        details={
            "frames": frames,
            "batch_bytes": frames * (size + 40),
            "busy_turn_s": TURN_S,
            "rounds": rounds,
            "ours_s": [round(s, 3) for s, _ in measured[True]],
            "baseline_s": [round(s, 3) for s, _ in measured[False]],
            "ours_turns": [t for _, t in measured[True]],
            "baseline_turns": [t for _, t in measured[False]],
        },
    )


def main(argv: list[str] | None = None) -> int:
    return bench_main(__doc__ or "", run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
