"""Scan transfer benchmark: a 300 dpi A4 scan, kiosk to console over the call, against a bare data channel.

    .venv/bin/python bench/bench_scan_transfer.py [--json] [--repeat N] [--chunk BYTES]

Protocol path: two CallSessions (the kiosk offers, the console answers, wired back to back in memory), the
kiosk sends with remote_call.documents.send_document (offer + chunks + flow control) and the console's
CallDesk receives through DocumentReceiver (assembly in memory + SHA-256 check) — the same code a real call
runs. The timed span includes the sender's SHA-256 of the offer and the receiver's verification.
Baseline: two bare RTCPeerConnections with one ordered data channel, the same bytes in the same chunk size
with the same bufferedAmount back-pressure, no framing, no hashing; timed until the last byte arrives.
Both are measured in the same run; the figure of merit is ratio = protocol throughput / bare throughput
(goal ≥ 0.8). Cases: a PNG and a JPEG of a rendered 2480×3508 form with scanner-like noise, and raw bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
from typing import Any

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection
from PIL import Image

from remote_call import incall as ic
from remote_call import protocol as p
from remote_call.documents import CHUNK_BYTES, HIGH_WATER, LOW_WATER, send_document, sha256_hex
from remote_call.events import EventHub
from remote_call.session import CallSession, restrict_to_loopback
from staff_console.desk import CallDesk
from staff_console.samples import A4_300DPI, form_page, jpeg_bytes, png_bytes

TIMEOUT = 120.0


def scan_images() -> dict[str, tuple[str, bytes]]:
    """The rendered form as a scanner would deliver it: slightly grey paper with sensor noise."""
    page = np.asarray(form_page(*A4_300DPI, sample_stamp=False, seed_text="300 dpi A4"), dtype=np.int16)
    rng = np.random.default_rng(7)
    noisy = np.clip(page - 6 + rng.normal(0, 2.0, page.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(noisy)
    return {
        "png_form_300dpi": ("image/png", png_bytes(image, compress_level=6)),
        "jpeg_form_300dpi": ("image/jpeg", jpeg_bytes(image, quality=90)),
        "raw_bytes_8MiB": ("image/png", os.urandom(8 * 1024 * 1024)),  # incompressible, mime nominal
    }


async def session_pair() -> tuple[CallSession, CallSession]:
    sessions: dict[str, CallSession] = {}

    def to(name: str):
        async def send(message: p.Wire) -> None:
            await sessions[name].handle_signal(message)

        return send

    sessions["kiosk"] = CallSession(
        "bench", offerer=True, ice_servers=[], send_signal=to("console"), video=None, audio=None
    )
    sessions["console"] = CallSession(
        "bench", offerer=False, ice_servers=[], send_signal=to("kiosk"), video=None, audio=None
    )
    await sessions["kiosk"].start()
    for session in sessions.values():
        await asyncio.wait_for(session.documents_open.wait(), TIMEOUT)
        await asyncio.wait_for(session.channel_open.wait(), TIMEOUT)
    return sessions["kiosk"], sessions["console"]


async def protocol_once(
    kiosk: CallSession, desk: CallDesk, mime: str, data: bytes, index: int, chunk: int
) -> float:
    done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    doc_id = f"bench-{index}"

    def listener(event: str, info: dict[str, Any]) -> None:
        if event == "document_received" and info.get("doc_id") == doc_id and not done.done():
            done.set_result(info)

    unsubscribe = desk.events.subscribe(listener)
    start = time.perf_counter()
    offer = ic.DocumentOffer(
        doc_id=doc_id,
        purpose="scan",
        name="scan",
        mime=mime,  # type: ignore[arg-type]
        size=len(data),
        sha256=sha256_hex(data),
        width=A4_300DPI[0],
        height=A4_300DPI[1],
        dpi=300,
    )
    assert kiosk.documents is not None
    await send_document(kiosk.documents, offer, data, chunk_bytes=chunk)
    verdict = await asyncio.wait_for(done, TIMEOUT)
    elapsed = time.perf_counter() - start
    unsubscribe()
    if not verdict["ok"] or desk.documents[doc_id].data != data:
        raise RuntimeError(f"document {doc_id} arrived damaged: {verdict}")
    del desk.documents[doc_id]
    return elapsed


async def bare_pair() -> tuple[RTCPeerConnection, RTCPeerConnection, Any, asyncio.Queue]:
    a = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = a.createDataChannel("bare", ordered=True)
    arrivals: asyncio.Queue[int] = asyncio.Queue()
    opened = asyncio.Event()
    channel.on("open", opened.set)

    @b.on("datachannel")
    def _on_channel(remote) -> None:
        @remote.on("message")
        def _on_message(message: bytes) -> None:
            arrivals.put_nowait(len(message))

    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await asyncio.wait_for(opened.wait(), TIMEOUT)
    return a, b, channel, arrivals


async def bare_once(channel: Any, arrivals: asyncio.Queue, data: bytes, chunk: int) -> float:
    channel.bufferedAmountLowThreshold = LOW_WATER
    drained = asyncio.Event()
    channel.on("bufferedamountlow", drained.set)
    view = memoryview(data)
    start = time.perf_counter()

    async def receive() -> None:
        got = 0
        while got < len(data):
            got += await arrivals.get()

    receiver = asyncio.ensure_future(receive())
    for offset in range(0, len(data), chunk):
        while channel.bufferedAmount > HIGH_WATER:
            drained.clear()
            await drained.wait()
        channel.send(bytes(view[offset : offset + chunk]))
    await asyncio.wait_for(receiver, TIMEOUT)
    elapsed = time.perf_counter() - start
    channel.remove_listener("bufferedamountlow", drained.set)
    return elapsed


async def run(repeat: int, chunk: int) -> dict[str, Any]:
    cases = scan_images()
    kiosk, console = await session_pair()
    desk = CallDesk(EventHub())
    desk.attach(console)
    a, b, channel, arrivals = await bare_pair()
    results: dict[str, Any] = {}
    try:
        index = 0
        for name, (mime, data) in cases.items():
            await protocol_once(kiosk, desk, mime, data, index := index + 1, chunk)  # warm-up
            await bare_once(channel, arrivals, data, chunk)
            protocol_times, bare_times = [], []
            for _ in range(repeat):  # interleaved, so both see the same machine load
                protocol_times.append(await protocol_once(kiosk, desk, mime, data, index := index + 1, chunk))
                bare_times.append(await bare_once(channel, arrivals, data, chunk))
            t_protocol = statistics.median(protocol_times)
            t_bare = statistics.median(bare_times)
            results[name] = {
                "bytes": len(data),
                "protocol_s": round(t_protocol, 4),
                "bare_s": round(t_bare, 4),
                "protocol_MBps": round(len(data) / t_protocol / 1e6, 2),
                "bare_MBps": round(len(data) / t_bare / 1e6, 2),
                "ratio": round(t_bare / t_protocol, 3),
            }
    finally:
        desk.detach()
        await asyncio.gather(kiosk.close(), console.close(), a.close(), b.close())
    return {
        "benchmark": "scan_transfer",
        "chunk_bytes": chunk,
        "repeat": repeat,
        "goal_ratio": 0.8,
        "cases": results,
        "min_ratio": min(r["ratio"] for r in results.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=CHUNK_BYTES)
    args = parser.parse_args(argv)
    if args.repeat < 1 or not 1024 <= args.chunk <= 64 * 1024:
        parser.error("--repeat must be ≥ 1 and --chunk between 1024 and 65536")
    logging.basicConfig(level=logging.WARNING)
    restrict_to_loopback()  # media on 127.0.0.1 only
    result = asyncio.run(run(args.repeat, args.chunk))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, r in result["cases"].items():
            print(
                f"{name:18} {r['bytes'] / 1e6:7.2f} MB  protocol {r['protocol_MBps']:6.2f} MB/s  "
                f"bare {r['bare_MBps']:6.2f} MB/s  ratio {r['ratio']:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
