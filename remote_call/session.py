"""The WebRTC call session shared by kiosk and console: one RTCPeerConnection per call attempt.

VP8 video and Opus audio both ways, and a data channel named "control" for in-call messages. Remote video
is drained continuously and only the newest frame is kept (aiortc's remote tracks buffer without bound);
remote audio is counted and handed to a consumer (the speaker) or drained. ``close()`` is safe on every path
and more than once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp
from av.frame import Frame
from av.packet import Packet

from remote_call import protocol as p

log = logging.getLogger(__name__)

CONTROL_CHANNEL = "control"
DOCUMENTS_CHANNEL = "documents"  # binary document transfer, see remote_call.documents
MAX_CONTROL_MESSAGE = 64 * 1024


class LatestFrame:
    """Drains a remote video track, keeping only the newest frame and counting what arrived."""

    def __init__(self) -> None:
        self.frame: Any = None
        self.count = 0
        self.first_at: float | None = None
        self.first = asyncio.Event()
        self.listeners: list[Callable[[Any], None]] = []

    def push(self, frame: Any) -> None:
        self.frame = frame
        self.count += 1
        if self.first_at is None:
            self.first_at = time.perf_counter()
            self.first.set()
        for listener in self.listeners:
            listener(frame)

    def clear(self) -> None:
        self.frame = None


class CountingTrack(MediaStreamTrack):
    """Wraps a remote track, counting frames as its consumer pulls them (e.g. the speaker)."""

    def __init__(self, inner: MediaStreamTrack, counter: LatestFrame):
        super().__init__()
        self.kind = inner.kind
        self._inner = inner
        self._counter = counter

    async def recv(self) -> Frame | Packet:
        frame = await self._inner.recv()
        self._counter.push(frame)
        return frame


SendSignal = Callable[[p.Wire], Awaitable[None] | None]
AudioConsumer = Callable[[MediaStreamTrack], Awaitable[None]]


def rtc_configuration(ice_servers: list[p.IceServerInfo], policy: str = "all") -> RTCConfiguration:
    """ICE servers only from the server's list; an empty list means none at all (closed LAN), never
    aiortc's default public STUN server. ``policy`` "relay" allows TURN relay candidates only."""
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in ice_servers
        ],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY if policy == "relay" else RTCIceTransportPolicy.ALL,
    )


class CallSession:
    def __init__(
        self,
        call_id: str,
        *,
        offerer: bool,
        ice_servers: list[p.IceServerInfo],
        send_signal: SendSignal,
        video: MediaStreamTrack | None,
        audio: MediaStreamTrack | None,
        audio_consumer: AudioConsumer | None = None,
        ice_transport_policy: str = "all",
    ):
        self.call_id = call_id
        self.offerer = offerer
        self._send_signal = send_signal
        self._video = video
        self._audio = audio
        self._audio_consumer = audio_consumer
        self.pc = RTCPeerConnection(rtc_configuration(ice_servers, ice_transport_policy))
        self.remote_video = LatestFrame()
        self.remote_audio = LatestFrame()
        self.connected = asyncio.Event()
        self.failed = asyncio.Event()
        self.closed = asyncio.Event()
        self.channel: RTCDataChannel | None = None
        self.channel_open = asyncio.Event()
        self.control_handlers: list[Callable[[dict[str, Any]], None]] = []
        self.documents: RTCDataChannel | None = None
        self.documents_open = asyncio.Event()
        self.document_handlers: list[Callable[[bytes | str], None]] = []
        self._tasks: set[asyncio.Task] = set()
        self._closing = False
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)
        self.pc.on("datachannel", self._adopt_channel)

    # ------------------------------------------------------------------ setup

    async def start(self) -> None:
        """Offerer: add media and the control channel, then send the offer. Answerer: wait for the offer."""
        if not self.offerer:
            return
        self._adopt_channel(self.pc.createDataChannel(CONTROL_CHANNEL, ordered=True))
        self._adopt_channel(self.pc.createDataChannel(DOCUMENTS_CHANNEL, ordered=True))
        self._add_media()
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)  # returns after ICE gathering; candidates are in the SDP
        await self._signal(
            p.SessionDescription(call_id=self.call_id, sdp_type="offer", sdp=self.pc.localDescription.sdp)
        )

    def _add_media(self) -> None:
        for kind, track in (("audio", self._audio), ("video", self._video)):
            transceiver = self.pc.addTransceiver(track if track is not None else kind, direction="sendrecv")
            if kind == "video":
                vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
                transceiver.setCodecPreferences(vp8)

    async def handle_signal(self, message: p.SessionDescription | p.IceCandidate) -> None:
        if self._closing:
            return
        if isinstance(message, p.IceCandidate):
            if not message.candidate:
                await self.pc.addIceCandidate(None)
                return
            candidate = candidate_from_sdp(message.candidate.removeprefix("candidate:"))
            candidate.sdpMid = message.sdp_mid
            candidate.sdpMLineIndex = message.sdp_mline_index
            await self.pc.addIceCandidate(candidate)
            return
        description = RTCSessionDescription(sdp=message.sdp, type=message.sdp_type)
        if message.sdp_type == "offer":
            await self.pc.setRemoteDescription(description)
            for track in (self._audio, self._video):
                if track is not None:
                    self.pc.addTrack(track)  # reuses the offer's transceiver of the same kind
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
            await self._signal(
                p.SessionDescription(
                    call_id=self.call_id, sdp_type="answer", sdp=self.pc.localDescription.sdp
                )
            )
        else:
            await self.pc.setRemoteDescription(description)

    async def _signal(self, message: p.Wire) -> None:
        result = self._send_signal(message)
        if result is not None:
            await result

    # ------------------------------------------------------------------ media in

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self._spawn(self._drain(track, self.remote_video), "drain-video")
        elif self._audio_consumer is not None:
            self._spawn(self._audio_consumer(CountingTrack(track, self.remote_audio)), "play-audio")
        else:
            self._spawn(self._drain(track, self.remote_audio), "drain-audio")

    async def _drain(self, track: MediaStreamTrack, sink: LatestFrame) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                sink.push(await track.recv())

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{name} {self.call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_state(self) -> None:
        state = self.pc.connectionState
        log.debug("call %s: peer connection %s", self.call_id, state)
        if state == "connected":
            self.connected.set()
        elif state == "failed":
            self.failed.set()
            await self.close()

    # ------------------------------------------------------------------ control channel

    def _adopt_channel(self, channel: RTCDataChannel) -> None:
        if channel.label == DOCUMENTS_CHANNEL:
            self.documents = channel
            if channel.readyState == "open":
                self.documents_open.set()
            channel.on("open", self.documents_open.set)

            @channel.on("message")
            def _on_document_frame(data: str | bytes) -> None:
                for handler in self.document_handlers:
                    handler(data)

            return
        if channel.label != CONTROL_CHANNEL:
            return
        self.channel = channel
        if channel.readyState == "open":
            self.channel_open.set()
        channel.on("open", self.channel_open.set)

        @channel.on("message")
        def _on_message(data: str | bytes) -> None:
            if isinstance(data, bytes) or len(data) > MAX_CONTROL_MESSAGE:
                log.warning("call %s: ignored an unreadable control message", self.call_id)
                return
            try:
                message = json.loads(data)
            except ValueError:
                log.warning("call %s: ignored a control message that is not JSON", self.call_id)
                return
            if not isinstance(message, dict):
                return
            for handler in self.control_handlers:
                handler(message)

    def send_control(self, message: dict[str, Any]) -> None:
        if self.channel is None or self.channel.readyState != "open":
            raise RuntimeError("the control channel is not open")
        self.channel.send(json.dumps(message, ensure_ascii=False))

    # ------------------------------------------------------------------ teardown

    async def close(self) -> None:
        if self._closing:
            await self.closed.wait()
            return
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.pc.close()
        self.remote_video.clear()
        self.remote_audio.clear()
        self.closed.set()
