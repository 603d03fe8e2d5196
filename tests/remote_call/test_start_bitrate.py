"""The console's answer tells a Chromium sender where to start its video bitrate (x-google-start-bitrate)."""

from __future__ import annotations

from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.sdp import SessionDescription

from remote_call.session import with_start_bitrate


async def test_every_vp8_and_h264_codec_of_the_answer_gets_the_start_bitrate_and_nothing_else_changes():
    offerer, answerer = RTCPeerConnection(), RTCPeerConnection()
    try:
        offerer.addTransceiver("audio")
        video = offerer.addTransceiver("video")
        video.setCodecPreferences(
            [
                c
                for c in RTCRtpSender.getCapabilities("video").codecs
                if c.mimeType in ("video/VP8", "video/H264")
            ]
        )
        await offerer.setLocalDescription(await offerer.createOffer())
        await answerer.setRemoteDescription(offerer.localDescription)
        await answerer.setLocalDescription(await answerer.createAnswer())
        plain = answerer.localDescription.sdp
    finally:
        await offerer.close()
        await answerer.close()
    marked = with_start_bitrate(plain, 1000)
    parsed = SessionDescription.parse(marked)
    codecs = {m.kind: m.rtp.codecs for m in parsed.media}
    vp8_h264 = [c for c in codecs["video"] if c.mimeType.split("/")[1] in ("VP8", "H264")]
    assert {c.mimeType for c in vp8_h264} == {"video/VP8", "video/H264"}
    assert all(c.parameters.get("x-google-start-bitrate") == "1000" for c in vp8_h264)
    h264 = [c for c in vp8_h264 if c.mimeType == "video/H264"]
    assert all("profile-level-id" in c.parameters for c in h264)  # an existing fmtp line is extended
    assert not any("x-google-start-bitrate" in c.parameters for c in codecs["audio"])
    # Removing the marks gives back the answer exactly.
    unmarked = "\r\n".join(
        line.replace(";x-google-start-bitrate=1000", "")
        for line in marked.split("\r\n")
        if not line.endswith(" x-google-start-bitrate=1000")
    )
    assert unmarked == plain
