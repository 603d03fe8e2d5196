"""The console's CallSession answering a peer built like a business's browser: data channels first, then
three transceivers (audio, camera, a sendonly screen with a track only once "sharing" starts), trickled ICE
candidates (some before the offer), VP8 or H.264; and a hang-up that closes the channels cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription as ParsedSdp

from devtools.sessions import session_pair
from hardware.simulated import TestPatternVideoTrack, ToneAudioTrack
from remote_call import protocol as p
from remote_call.session import CallSession, LatestFrame, rtc_configuration, video_codec_preferences

TIMEOUT = 20.0


async def count_to(sink: LatestFrame, n: int) -> None:
    enough = asyncio.Event()
    sink.listeners.append(lambda _frame: sink.count >= n and enough.set())
    if sink.count >= n:
        return
    await asyncio.wait_for(enough.wait(), TIMEOUT)


class BrowserLikeOfferer:
    """What docs/protocol.md tells a browser to do, done with aiortc: audio (sendrecv), camera (sendrecv)
    and screen (sendonly, no track yet) transceivers and the channels "control" and "documents";
    candidates trickled as ``ice_candidate`` messages, not in the SDP, then an empty one (the end)."""

    def __init__(self, codecs: tuple[str, ...] = ("VP8", "H264")) -> None:
        self.pc = RTCPeerConnection(rtc_configuration([], max_bundle=True))  # browsers bundle
        self.pc.addTransceiver(ToneAudioTrack(440), direction="sendrecv")
        self.camera = self.pc.addTransceiver(TestPatternVideoTrack("business", 320, 240, 15), "sendrecv")
        self.screen = self.pc.addTransceiver("video", direction="sendonly")
        for transceiver in (self.camera, self.screen):
            transceiver.setCodecPreferences(video_codec_preferences(codecs))
        # After the transceivers: an aiortc offerer with max-bundle and a channel created first never
        # connects (a browser has no such quirk; either order is fine for the console).
        self.control = self.pc.createDataChannel("control", ordered=True)
        self.documents = self.pc.createDataChannel("documents", ordered=True)
        self.console_video = LatestFrame()
        self._tasks: list[asyncio.Task] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self._tasks.append(asyncio.ensure_future(self._drain(track)))

    async def _drain(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                self.console_video.push(await track.recv())
        except MediaStreamError:
            pass

    async def offer(self) -> tuple[p.SessionDescription, list[p.IceCandidate]]:
        """The offer without candidates, and its candidates as trickle messages (the last one empty)."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp = self.pc.localDescription.sdp
        lines = sdp.splitlines()
        first_media = next(i for i, line in enumerate(lines) if line.startswith("m="))
        second_media = next(i for i, line in enumerate(lines) if line.startswith("m=") and i > first_media)
        candidates = [
            p.IceCandidate(call_id="c1", candidate=line[2:], sdp_mid="0", sdp_mline_index=0)
            for line in lines[first_media:second_media]
            if line.startswith("a=candidate:")
        ]
        assert candidates
        bare = "\r\n".join(
            line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates"))
        )
        end = p.IceCandidate(call_id="c1", candidate="", sdp_mid="0", sdp_mline_index=0)
        return p.SessionDescription(call_id="c1", sdp_type="offer", sdp=bare + "\r\n"), [*candidates, end]

    async def on_signal(self, message: p.Wire) -> None:
        assert isinstance(message, p.SessionDescription) and message.sdp_type == "answer"
        await self.pc.setRemoteDescription(RTCSessionDescription(message.sdp, "answer"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()


def console_for(browser: BrowserLikeOfferer) -> CallSession:
    return CallSession(
        "c1",
        offerer=False,
        ice_servers=[],
        send_signal=browser.on_signal,
        video=TestPatternVideoTrack("officer", 160, 120, 15),
        audio=ToneAudioTrack(660),
    )


async def connect(browser: BrowserLikeOfferer, console: CallSession, *, early: int) -> None:
    """Trickle ``early`` candidates before the offer (as a browser's may overtake it), the rest after."""
    offer, candidates = await browser.offer()
    for candidate in candidates[:early]:
        await console.handle_signal(candidate)
    await console.handle_signal(offer)
    for candidate in candidates[early:]:
        await console.handle_signal(candidate)
    await asyncio.wait_for(console.connected.wait(), TIMEOUT)


def ice_transport(session: CallSession) -> Any:
    return session.pc.getTransceivers()[0].receiver.transport.transport


async def test_camera_and_screen_of_a_browser_like_offerer_are_counted_apart():
    browser = BrowserLikeOfferer()
    console = console_for(browser)
    try:
        await connect(browser, console, early=1)
        # The console's camera goes out on the camera transceiver; the screen m-line is answered recvonly.
        answer = ParsedSdp.parse(console.pc.localDescription.sdp)
        directions = [(m.kind, m.direction) for m in answer.media if m.kind != "application"]
        assert directions == [("audio", "sendrecv"), ("video", "sendrecv"), ("video", "recvonly")]
        cameras = [t for t in console.pc.getTransceivers() if t.kind == "video"]
        assert cameras[0].sender.track is console._video and cameras[1].sender.track is None
        await count_to(console.remote_video, 10)
        await count_to(browser.console_video, 10)
        assert (browser.console_video.frame.width, browser.console_video.frame.height) == (160, 120)
        assert console.remote_screen.count == 0  # nothing shared yet

        browser.screen.sender.replaceTrack(TestPatternVideoTrack("screen", 640, 360, 15))  # "sharing"
        await count_to(console.remote_screen, 10)
        screen, camera = console.remote_screen.frame, console.remote_video.frame
        assert (screen.width, screen.height) == (640, 360) and (camera.width, camera.height) == (320, 240)
        assert console.remote_video.count >= 10 and console.video_codec == "VP8"
    finally:
        await asyncio.gather(console.close(), browser.close())
    assert console.remote_screen.frame is None


async def test_a_call_negotiated_to_h264_carries_video():
    browser = BrowserLikeOfferer(codecs=("H264",))  # a Safari-based tablet preferring H.264
    console = console_for(browser)
    try:
        await connect(browser, console, early=0)
        assert console.video_codec == "H264"
        await count_to(console.remote_video, 10)
        await count_to(browser.console_video, 10)
    finally:
        await asyncio.gather(console.close(), browser.close())


async def test_an_aiortc_offerer_offers_vp8_then_h264_and_the_answerer_takes_either():
    kiosk, officer = session_pair(video_codecs=("H264", "VP8"))
    try:
        await kiosk.start()
        offered = ParsedSdp.parse(kiosk.pc.localDescription.sdp).media[1].rtp.codecs
        assert [c.mimeType for c in offered][:3] == ["video/H264", "video/H264", "video/VP8"]
        await asyncio.wait_for(officer.connected.wait(), TIMEOUT)
        assert kiosk.video_codec == officer.video_codec == "H264"
        await count_to(officer.remote_video, 10)
    finally:
        await asyncio.gather(kiosk.close(), officer.close())
    default, answerer = session_pair()
    try:
        await default.start()
        offered = ParsedSdp.parse(default.pc.localDescription.sdp).media[1].rtp.codecs
        assert [c.mimeType for c in offered] == ["video/VP8", "video/H264", "video/H264"]
        await asyncio.wait_for(answerer.connected.wait(), TIMEOUT)
        assert default.video_codec == "VP8"
    finally:
        await asyncio.gather(default.close(), answerer.close())


def test_pyav_has_an_h264_encoder():
    import av

    assert av.codec.Codec("libx264", "w").name == "libx264"


async def test_candidates_before_the_offer_are_kept_and_applied_after_it():
    browser = BrowserLikeOfferer()
    console = console_for(browser)
    try:
        offer, candidates = await browser.offer()
        for candidate in candidates:  # every candidate and the end-of-candidates before the offer
            await console.handle_signal(candidate)
        assert console.pc.remoteDescription is None and not console.candidates_ended
        await console.handle_signal(offer)
        await asyncio.wait_for(console.connected.wait(), TIMEOUT)
        remote = [(c.ip, c.port, c.type) for c in ice_transport(console).getRemoteCandidates()]
        trickled = [c.candidate.split()[4:8:3] for c in candidates if c.candidate]
        for ip, typ in trickled:
            assert any(r[0] == ip and r[2] == typ for r in remote), (ip, typ, remote)
        assert console.candidates_ended
        # A candidate after end-of-candidates (a browser may send one) is ignored, not an error.
        await console.handle_signal(candidates[0])
        await console.handle_signal(p.IceCandidate(call_id="c1", candidate="candidate:garbage"))
    finally:
        await asyncio.gather(console.close(), browser.close())


async def test_hang_up_closes_the_data_channels_before_the_association():
    """The peer sees each channel closed by a stream reset while the SCTP association still stands, not by
    the association's abort (which Chromium reports as sctp-failure) — at hang-up and at media restart."""
    kiosk, officer = session_pair()
    closed_while: list[tuple[str, str]] = []
    try:
        await kiosk.start()
        await asyncio.wait_for(
            asyncio.gather(officer.channel_open.wait(), officer.documents_open.wait()), TIMEOUT
        )
        both_closed = asyncio.Event()
        for channel in (officer.channel, officer.documents):
            assert channel is not None

            def on_close(label: str = channel.label) -> None:
                closed_while.append((label, officer.pc.sctp.state))
                if len(closed_while) == 2:
                    both_closed.set()

            channel.on("close", on_close)
        await kiosk.close()
        await asyncio.wait_for(both_closed.wait(), TIMEOUT)
    finally:
        await asyncio.gather(kiosk.close(), officer.close())
    assert sorted(closed_while) == [("control", "connected"), ("documents", "connected")]
