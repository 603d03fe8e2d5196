"""How fast a node's subscriber drains a burst of frames while its event loop is busy with its clients.

After a takeover the new leader sends every node a burst: a resume's answer for each of thousands of
connections. At 14,000 kiosks a follower fell so far behind that redis-server dropped its subscription at
the pub/sub output buffer limit (32 MB) and the frames in it were lost (docs/performance.md). Reading
slowly is what fills that buffer.

One redis-server on a unix socket (started and stopped here). The burst: 40,000 frames of a relayed
message's size, published from another process in batches as the leader's ``Publisher`` does (one PUBLISH
per batch, frames joined). The node's loop is kept busy by 300 tasks standing for websocket connections,
each doing a few microseconds of work per loop turn. Measured: frames per second from the first PUBLISH to
the last frame handed on, and the subscriber's largest output buffer in Redis (``CLIENT LIST`` ``omem``).
Ours: ``signaling_server.cluster.bus.Subscriber``. Baseline: a bare redis-py pubsub loop that splits and
decodes the same frames and never yields between them (the fastest a reader on this loop can go). Rounds
alternate; medians compared. Goal: ours >= 0.8x the baseline.
"""

from __future__ import annotations

import asyncio
import json
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

from signaling_server.cluster.bus import SEPARATOR, Frame, Subscriber

GOAL = 0.8
CHANNEL = "bench:node:node-b"
TEXT = json.dumps({"type": "queue_position", "call_id": "0" * 32, "position": 12, "estimated_wait_s": 240})


class Burst:
    """Frames counted as they are handed on; ``done`` once all arrived."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.seen = 0
        self.done = asyncio.Event()
        self.finished_at = 0.0

    def on_frame(self, _channel: str, _frame: Frame) -> None:
        self.seen += 1
        if self.seen == self.frames:
            self.finished_at = time.monotonic()
            self.done.set()


async def _busy_clients(count: int, stop: asyncio.Event) -> None:
    """``count`` tasks, each a few microseconds of work per loop turn (a websocket's reads and writes)."""

    async def client(index: int) -> None:
        payload = {"type": "heartbeat", "kiosk": f"kiosk-{index}", "cpu": 12.5}
        while not stop.is_set():
            json.dumps(payload)
            await asyncio.sleep(0)

    await asyncio.gather(*(client(i) for i in range(count)))


PUBLISHER = """
import json, sys, time
import redis
from signaling_server.cluster.bus import SEPARATOR, Frame
url, channel, text, frames, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
client = redis.Redis.from_url(url)
message = SEPARATOR.join([Frame("send", 2, "node-b", "1f", text).encode()] * batch)
peak = 0
started = time.monotonic()
for index in range(frames // batch):
    client.publish(channel, message)
    if index % 10 == 9:  # sampled: asking after every PUBLISH would slow the burst to the reader's pace
        for entry in client.client_list(_type="pubsub"):
            peak = max(peak, int(entry.get("omem", 0)))
print(json.dumps({"started": started, "peak": peak}))
"""


async def _publish(url: str, frames: int, batch: int) -> tuple[float, int]:
    """Publish the burst from another process (its own interpreter lock, as the leader is another node):
    when it began (``time.monotonic``, one clock for every process here) and the subscriber's largest
    output buffer in Redis, in bytes."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PUBLISHER, url, CHANNEL, TEXT, str(frames), str(batch),
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the publisher exited with {process.returncode}")
    report = json.loads(out)
    return float(report["started"]), int(report["peak"])


async def _bare_reader(redis: Redis, burst: Burst, ready: asyncio.Event, stop: asyncio.Event) -> None:
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)
    ready.set()
    try:
        while not stop.is_set():
            message = await pubsub.get_message(timeout=0.2)
            if message is None:
                continue
            data = message["data"]
            for raw in (data.decode() if isinstance(data, bytes) else data).split(SEPARATOR):
                burst.on_frame(CHANNEL, Frame.decode(raw))
    finally:
        await pubsub.aclose()


async def _round(url: str, ours: bool, frames: int, batch: int, clients: int) -> tuple[float, int]:
    """One burst drained under load: (frames per second, the largest output buffer in bytes)."""
    redis = Redis.from_url(url)
    burst, stop, ready = Burst(frames), asyncio.Event(), asyncio.Event()
    subscriber: Subscriber | None = None
    reader: asyncio.Task[None] | None = None
    if ours:
        subscriber = Subscriber(redis, [CHANNEL], burst.on_frame, on_error=lambda exc: None, name="bench")
        assert await subscriber.start(timeout=10)
    else:
        reader = asyncio.ensure_future(_bare_reader(redis, burst, ready, stop))
        await asyncio.wait_for(ready.wait(), 10)
    load = asyncio.ensure_future(_busy_clients(clients, stop))
    try:
        started, peak = await _publish(url, frames, batch)
        await asyncio.wait_for(burst.done.wait(), 300)
        return frames / (burst.finished_at - started), peak
    finally:
        stop.set()
        await load
        if subscriber is not None:
            await subscriber.stop()
        if reader is not None:
            await reader
        await redis.aclose()


async def run(quick: bool) -> dict[str, Any]:
    frames, batch, clients, rounds = (4_000, 200, 100, 1) if quick else (40_000, 500, 300, 3)
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-drain-") as tmp:
        process, url = await _redis(Path(tmp))
        try:
            measured: dict[bool, list[tuple[float, int]]] = {True: [], False: []}
            for _ in range(rounds):
                for ours in (False, True):
                    measured[ours].append(await _round(url, ours, frames, batch, clients))
        finally:
            process.terminate()
            await process.wait()
    return ratio_result(
        "bus drain under a busy loop (frames/s)",
        median([r for r, _ in measured[True]]),
        median([r for r, _ in measured[False]]),
        "frames/s",
        goal=GOAL,
        higher_is_better=True,
        details={
            "frames": frames,
            "frames_per_publish": batch,
            "busy_clients": clients,
            "rounds": rounds,
            "ours_frames_per_s": [round(r) for r, _ in measured[True]],
            "baseline_frames_per_s": [round(r) for r, _ in measured[False]],
            "ours_peak_output_buffer_bytes": max(b for _, b in measured[True]),
            "baseline_peak_output_buffer_bytes": max(b for _, b in measured[False]),
        },
    )


def main(argv: list[str] | None = None) -> int:
    return bench_main(__doc__ or "", run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
