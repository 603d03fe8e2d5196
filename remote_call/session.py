"""The WebRTC call session shared by kiosk and console: one RTCPeerConnection per call attempt.

Opus audio and video both ways (VP8 preferred, H.264 offered too for Safari-based tablets), and the data
channels "control" (JSON in-call messages) and "documents" (binary, see ``remote_call.documents``). The
offerer (a kiosk, or a business's browser) creates both channels and the transceivers, in this order:
audio, camera video and, from a browser, a third "screen" video transceiver (sendonly; a track only while the
business shares its screen). The answerer (the console) sends its camera on the first video transceiver and
answers the screen one recvonly. Remote video is drained continuously and only the newest frame is kept
(aiortc's remote tracks buffer without bound): the first remote video m-line into ``remote_video``, the
second into ``remote_screen``; remote audio is counted and handed to a consumer (the speaker) or drained.

ICE candidates that arrive before the remote description (a browser trickles them right after its offer) are
kept and applied once it is set; an empty candidate is end-of-candidates. ``close()`` closes the data channels
before the peer connection (Chromium reports ``sctp-failure`` on every channel of an association aborted under
it), is safe on every path and more than once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aioice.ice
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceCandidate,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription as ParsedSdp
from aiortc.sdp import candidate_from_sdp
from av.frame import Frame
from av.packet import Packet

from remote_call import protocol as p
from remote_call.sctp_ack import delay_acknowledgements
from remote_call.tasks import cancel_and_wait

log = logging.getLogger(__name__)

CONTROL_CHANNEL = "control"
DOCUMENTS_CHANNEL = "documents"  # binary document transfer, see remote_call.documents
MAX_CONTROL_MESSAGE = 64 * 1024
VIDEO_CODECS = ("VP8", "H264")  # the offerer's preference; VP8 first: cheaper in software between our peers
CHANNEL_CLOSE_S = 0.5  # how long close() waits for the peer to acknowledge the channels' close (loopback: ms)
START_BITRATE_KBPS = 1000  # what a browser sender starts at (see with_start_bitrate): VGA without drops
MAX_EARLY_CANDIDATES = 64  # candidates kept until the remote description arrives (a browser sends ~5-15)
LOOPBACK_ENV = "MADOGUCHI_MEDIA_LOOPBACK"  # "1": this process (and its children) gather 127.0.0.1 only


# ---------------------------------------------------------------------- loopback-only media (tests)

_HOST_ADDRESSES = aioice.ice.get_host_addresses


def _loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


def restrict_to_loopback(enabled: bool = True) -> None:
    """Gather only the 127.0.0.1 host candidate in this process (tests, the simulator, the benchmarks), so no
    media packet leaves through the machine's network interfaces. Off by default; never in production.

    The hook: aioice's ``Connection.gather_candidates`` asks the module function
    ``aioice.ice.get_host_addresses`` for the host addresses (it leaves 127.0.0.1 *out*), and aiortc builds
    one such Connection per ICE transport inside ``RTCPeerConnection`` with no per-connection option.
    Replacing that one function is the single seam that covers every peer connection of the process, ours
    and the bare ones of tests and benchmarks; a per-session switch would have to reach through aiortc's
    private gatherer (``RTCIceGatherer._connection``).
    Server-reflexive and relay candidates still come from the configured STUN/TURN servers (none in tests,
    or a coturn on 127.0.0.1). The environment variable ``MADOGUCHI_MEDIA_LOOPBACK=1`` is set too, so child
    processes that build a CallSession follow."""
    if enabled:
        aioice.ice.get_host_addresses = _loopback_addresses
        os.environ[LOOPBACK_ENV] = "1"
    else:
        aioice.ice.get_host_addresses = _HOST_ADDRESSES
        os.environ.pop(LOOPBACK_ENV, None)


def loopback_only() -> bool:
    """True while ``restrict_to_loopback`` is in effect in this process."""
    return aioice.ice.get_host_addresses is _loopback_addresses


# ---------------------------------------------------------------------- remote media sinks


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


def rtc_configuration(
    ice_servers: list[p.IceServerInfo], policy: str = "all", *, max_bundle: bool = False
) -> RTCConfiguration:
    """ICE servers only from the server's list; an empty list means none at all (closed LAN), never
    aiortc's default public STUN server. ``policy`` "relay" allows TURN relay candidates only.

    ``max_bundle`` (the answerer's): every m-line on one transport from the start, as browsers bundle. With
    aiortc's default ("balanced") a second video transceiver (a browser's screen) is tied to the first video
    one's own transport, which BUNDLE then retires: the screen's packets went nowhere (measured: 0 received).
    Not for an aiortc offerer that creates its data channels first: with max-bundle it never connects."""
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in ice_servers
        ],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY if policy == "relay" else RTCIceTransportPolicy.ALL,
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE if max_bundle else RTCBundlePolicy.BALANCED,
    )


def video_codec_preferences(names: Sequence[str]) -> list[RTCRtpCodecCapability]:
    """aiortc's video codecs named in ``names`` (e.g. "VP8", "H264": every H.264 profile), in that order."""
    capabilities = RTCRtpSender.getCapabilities("video").codecs
    chosen = [c for name in names for c in capabilities if c.mimeType.lower() == f"video/{name}".lower()]
    if not chosen:
        raise ValueError(f"none of the video codecs {list(names)} is available")
    return chosen


def with_start_bitrate(sdp: str, kbps: int) -> str:
    """The answer with ``x-google-start-bitrate`` on its video codecs, which a Chromium sender (a business's
    browser) reads from the answer: from its default start of 300 kbps Chromium dropped its first camera
    frames, measured ~100 ms after the media was up before its first video packet. aiortc ignores it."""
    lines = sdp.split("\r\n")
    video_types: set[str] = set()
    in_video = False
    for line in lines:
        if line.startswith("m="):
            in_video = line.startswith("m=video")
        elif in_video and line.startswith("a=rtpmap:"):
            payload, codec = line[len("a=rtpmap:") :].split(" ", 1)
            if codec.upper().startswith(("VP8/", "H264/")):
                video_types.add(payload)
    with_fmtp = {line[len("a=fmtp:") :].split(" ", 1)[0] for line in lines if line.startswith("a=fmtp:")}
    out = []
    for line in lines:
        out.append(line)
        if line.startswith("a=fmtp:") and line[len("a=fmtp:") :].split(" ", 1)[0] in video_types:
            out[-1] = f"{line};x-google-start-bitrate={kbps}"
        elif line.startswith("a=rtpmap:"):
            payload = line[len("a=rtpmap:") :].split(" ", 1)[0]
            if payload in video_types and payload not in with_fmtp:
                out.append(f"a=fmtp:{payload} x-google-start-bitrate={kbps}")
    return "\r\n".join(out)


def parse_candidate(message: p.IceCandidate) -> RTCIceCandidate | None:
    """A signaled candidate as aiortc's, or None for end-of-candidates (an empty candidate string)."""
    text = message.candidate.strip()
    if not text:
        return None
    candidate = candidate_from_sdp(text.removeprefix("a=").removeprefix("candidate:"))
    candidate.sdpMid = message.sdp_mid
    candidate.sdpMLineIndex = message.sdp_mline_index
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        candidate.sdpMLineIndex = 0  # bundled: every m-line shares the first one's transport
    return candidate


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
        video_codecs: Sequence[str] = VIDEO_CODECS,
    ):
        """``video_codecs``: the offerer's video codecs in order of preference (the answerer takes the offer's
        order among those it has: VP8 and H.264)."""
        if os.environ.get(LOOPBACK_ENV) == "1" and not loopback_only():
            restrict_to_loopback()  # a child process of a test, the simulator or a benchmark
        self.call_id = call_id
        self.offerer = offerer
        self._send_signal = send_signal
        self._video = video
        self._audio = audio
        self._audio_consumer = audio_consumer
        self._video_codecs = video_codec_preferences(video_codecs)
        self.pc = RTCPeerConnection(
            rtc_configuration(ice_servers, ice_transport_policy, max_bundle=not offerer)
        )
        self.remote_video = LatestFrame()  # the peer's camera: its first video m-line
        self.remote_screen = LatestFrame()  # a browser's shared screen: its second video m-line
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
        self._channels: list[RTCDataChannel] = []  # every channel of this call, closed before the pc
        self._early_candidates: list[RTCIceCandidate | None] = []
        self._remote_description_set = False
        self.candidates_ended = False  # the peer signaled end-of-candidates
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
        delay_acknowledgements(self.pc.sctp)
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
                transceiver.setCodecPreferences(self._video_codecs)

    async def handle_signal(self, message: p.SessionDescription | p.IceCandidate) -> None:
        if self._closing:
            return
        if isinstance(message, p.IceCandidate):
            await self._on_candidate(message)
            return
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=message.sdp, type=message.sdp_type))
        if self.pc.sctp is not None:  # the offer's data channels: a quarter of the SACKs of a transfer
            delay_acknowledgements(self.pc.sctp)
        await self._apply_early_candidates()
        if message.sdp_type == "offer":
            self._attach_answer_media()
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
            sdp = with_start_bitrate(self.pc.localDescription.sdp, START_BITRATE_KBPS)
            await self._signal(p.SessionDescription(call_id=self.call_id, sdp_type="answer", sdp=sdp))

    def _attach_answer_media(self) -> None:
        """Answerer: our microphone on the offer's first audio transceiver and our camera on its first video
        (camera) transceiver, both sendrecv; a further video transceiver (a browser's screen, offered
        sendonly) is answered recvonly."""
        ours = {"audio": self._audio, "video": self._video}
        seen: set[str] = set()
        for transceiver in self.pc.getTransceivers():
            if transceiver.kind in seen:
                transceiver.direction = "recvonly"
                continue
            seen.add(transceiver.kind)
            track = ours.get(transceiver.kind)
            if track is not None and transceiver.sender.track is None:
                transceiver.sender.replaceTrack(track)
                transceiver.direction = "sendrecv"

    async def _on_candidate(self, message: p.IceCandidate) -> None:
        try:
            candidate = parse_candidate(message)
        except (ValueError, IndexError, AssertionError):  # aiortc's parser asserts the field count
            log.warning("call %s: ignored an unreadable ICE candidate", self.call_id)
            return
        if self._remote_description_set:
            await self._add_candidate(candidate)
        elif len(self._early_candidates) < MAX_EARLY_CANDIDATES:
            self._early_candidates.append(candidate)  # aiortc drops candidates added before the description
        else:
            log.warning("call %s: too many ICE candidates before the remote description", self.call_id)

    async def _apply_early_candidates(self) -> None:
        while self._early_candidates:  # a candidate arriving meanwhile joins the queue: order is kept
            await self._add_candidate(self._early_candidates.pop(0))
        self._remote_description_set = True

    async def _add_candidate(self, candidate: RTCIceCandidate | None) -> None:
        if self.candidates_ended:
            return  # aioice refuses candidates after end-of-candidates; a browser may still send one
        self.candidates_ended = candidate is None
        try:
            await self.pc.addIceCandidate(candidate)
        except Exception as exc:  # a candidate aioice cannot use (e.g. an unresolvable name) is no failure
            log.warning("call %s: ICE candidate not added: %s", self.call_id, exc)

    async def _signal(self, message: p.Wire) -> None:
        result = self._send_signal(message)
        if result is not None:
            await result

    @property
    def video_codec(self) -> str | None:
        """The camera video codec the answer chose ("VP8" or "H264"), None before the answer."""
        answer = self.pc.remoteDescription if self.offerer else self.pc.localDescription
        if answer is None or answer.type != "answer":
            return None
        for media in ParsedSdp.parse(answer.sdp).media:
            if media.kind == "video" and media.rtp.codecs:
                return media.rtp.codecs[0].mimeType.split("/", 1)[1]
        return None

    # ------------------------------------------------------------------ media in

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            screen = self._video_index(track) > 0
            sink = self.remote_screen if screen else self.remote_video
            self._spawn(self._drain(track, sink), "drain-screen" if screen else "drain-video")
        elif self._audio_consumer is not None:
            self._spawn(self._audio_consumer(CountingTrack(track, self.remote_audio)), "play-audio")
        else:
            self._spawn(self._drain(track, self.remote_audio), "drain-audio")

    def _video_index(self, track: MediaStreamTrack) -> int:
        """0 for the track of the first video m-line (the camera), 1 for the second (a screen), ..."""
        videos: list[RTCRtpTransceiver] = [t for t in self.pc.getTransceivers() if t.kind == "video"]
        return next((i for i, t in enumerate(videos) if t.receiver.track is track), 0)

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

    # ------------------------------------------------------------------ data channels

    def _adopt_channel(self, channel: RTCDataChannel) -> None:
        if channel in self._channels:
            return  # one listener per channel: a message must reach the handlers once
        self._channels.append(channel)
        if channel.label == DOCUMENTS_CHANNEL:
            self.documents = channel
            if channel.readyState == "open":
                self.documents_open.set()
            channel.on("open", self.documents_open.set)

            @channel.on("message")
            def _on_document_frame(data: str | bytes) -> None:
                for handler in list(self.document_handlers):
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
            for handler in list(self.control_handlers):
                handler(message)

    def send_control(self, message: dict[str, Any]) -> None:
        if self.channel is None or self.channel.readyState != "open":
            raise RuntimeError("the control channel is not open")
        self.channel.send(json.dumps(message, ensure_ascii=False))

    # ------------------------------------------------------------------ teardown

    async def close(self) -> None:
        """Idempotent: every caller returns once the session is closed. A close cancelled or failing half
        way still closes the peer connection and sets ``closed``, so no later close() waits forever."""
        if self._closing:
            await self.closed.wait()
            return
        self._closing = True
        try:
            await self._close_channels()
            await cancel_and_wait(*self._tasks)
        finally:
            try:
                await self._close_peer_connection()
            finally:
                self.remote_video.clear()
                self.remote_screen.clear()
                self.remote_audio.clear()
                self.closed.set()

    async def _close_peer_connection(self) -> None:
        """aiortc's close, shielded: a caller cancelled meanwhile must not cancel it, or aiortc's own
        "closed" future is cancelled with it; its close then fails setting it (InvalidStateError, seen in
        the kiosk suite's log) or, cancelled half way, leaves it unset and every later pc.close() waits."""
        try:
            await asyncio.shield(self.pc.close())
        except Exception:  # aiortc failing half way: nothing of ours is left open to close
            log.warning("call %s: the peer connection did not close cleanly", self.call_id, exc_info=True)

    async def _close_channels(self) -> None:
        """Close every data channel with an SCTP stream reset, and give the peer up to CHANNEL_CLOSE_S to
        acknowledge, before the peer connection aborts the association (the abort alone makes Chromium
        report ``sctp-failure`` on every channel, at hang-up and at each media restart)."""
        closing: list[asyncio.Event] = []
        for channel in self._channels:
            if channel.readyState in ("closing", "closed"):
                continue
            closed = asyncio.Event()
            channel.on("close", closed.set)
            channel.close()
            closing.append(closed)
        sctp = self.pc.sctp
        if closing and sctp is not None and sctp.state == "connected":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(c.wait() for c in closing)), CHANNEL_CLOSE_S)
