"""Two real aiortc peers through CallSession, wired back to back in memory: media and control both ways."""

from __future__ import annotations

import asyncio

import pytest

from devtools.sessions import session_pair
from remote_call import protocol as p
from remote_call.session import CallSession, rtc_configuration

TIMEOUT = 20.0


async def wait_frames(session: CallSession, video: int, audio: int) -> None:
    enough = asyncio.Event()

    def check(_frame) -> None:
        if session.remote_video.count >= video and session.remote_audio.count >= audio:
            enough.set()

    session.remote_video.listeners.append(check)
    session.remote_audio.listeners.append(check)
    check(None)
    await asyncio.wait_for(enough.wait(), TIMEOUT)


async def test_media_and_control_flow_both_ways():
    kiosk, officer = session_pair()
    try:
        await kiosk.start()
        await asyncio.wait_for(asyncio.gather(kiosk.connected.wait(), officer.connected.wait()), TIMEOUT)
        await wait_frames(kiosk, video=10, audio=25)
        await wait_frames(officer, video=10, audio=25)
        frame = officer.remote_video.frame
        assert (frame.width, frame.height) == (320, 240)
        assert kiosk.remote_audio.frame.sample_rate == 48000
        # VP8 was negotiated for video.
        video_sender = next(t for t in kiosk.pc.getTransceivers() if t.kind == "video")
        assert "VP8" in kiosk.pc.localDescription.sdp and video_sender.sender.track is not None
        # The control channel carries JSON both ways.
        await asyncio.wait_for(
            asyncio.gather(kiosk.channel_open.wait(), officer.channel_open.wait()), TIMEOUT
        )
        received: asyncio.Future = asyncio.get_running_loop().create_future()
        officer.control_handlers.append(lambda m: received.done() or received.set_result(m))
        kiosk.send_control({"type": "chat", "text": "こんにちは"})
        assert (await asyncio.wait_for(received, TIMEOUT)) == {"type": "chat", "text": "こんにちは"}
    finally:
        await asyncio.gather(kiosk.close(), officer.close())
    assert kiosk.closed.is_set() and officer.closed.is_set()
    assert kiosk.remote_video.frame is None  # nothing of the resident kept after the call


async def test_audio_goes_to_the_consumer_when_there_is_one():
    played: list = []
    consumed = asyncio.Event()

    async def speaker(track) -> None:
        while True:
            played.append(await track.recv())
            if len(played) >= 10:
                consumed.set()

    kiosk, officer = session_pair(audio_consumer=speaker)
    try:
        await kiosk.start()
        await asyncio.wait_for(consumed.wait(), TIMEOUT)
        assert kiosk.remote_audio.count >= 10  # counted on the way through
    finally:
        await asyncio.gather(kiosk.close(), officer.close())


async def test_close_is_safe_on_every_path():
    kiosk, officer = session_pair()
    await officer.close()  # before anything started
    await officer.close()  # twice
    await kiosk.start()
    await kiosk.close()
    await asyncio.gather(kiosk.close(), kiosk.close())
    assert kiosk.pc.connectionState == "closed"
    with pytest.raises(RuntimeError, match="not open"):
        kiosk.send_control({"type": "x"})


async def test_a_close_cancelled_half_way_still_closes_and_lets_every_later_close_return():
    kiosk, officer = session_pair()
    try:
        await kiosk.start()
        both_open = asyncio.gather(kiosk.channel_open.wait(), officer.channel_open.wait())
        await asyncio.wait_for(both_open, TIMEOUT)
        closing_channels = asyncio.Event()
        close_channels = kiosk._close_channels

        async def watched() -> None:  # only tells when the first close has begun; the close itself runs
            closing_channels.set()
            await close_channels()

        kiosk._close_channels = watched  # type: ignore[method-assign]
        first = asyncio.ensure_future(kiosk.close())
        await asyncio.wait_for(closing_channels.wait(), TIMEOUT)
        first.cancel()  # the caller gave up half way (a teardown's time-out, a task cancelled)
        with pytest.raises(asyncio.CancelledError):
            await first
        await asyncio.wait_for(kiosk.close(), TIMEOUT)  # waited for ever before: `closed` was never set
        assert kiosk.closed.is_set() and kiosk.remote_video.frame is None
        await asyncio.wait_for(kiosk.pc.close(), TIMEOUT)  # aiortc's own close finished, not cancelled
        assert kiosk.pc.connectionState == "closed"
    finally:
        await asyncio.wait_for(asyncio.gather(kiosk.close(), officer.close()), TIMEOUT)


async def test_a_close_cancelled_while_it_waits_for_the_sessions_tasks_ends_cancelled():
    """A message loop closing a session in a handler and cancelled meanwhile must stop, not read on: under
    ``suppress(CancelledError)`` around each task's await the cancel was taken for the task's own
    (remote_call/tasks.py), and close returned as if nothing had been asked."""
    kiosk, officer = session_pair()
    stopping, release = asyncio.Event(), asyncio.Event()

    async def slow_to_stop() -> None:  # a task of the session that takes a while to end once cancelled
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            stopping.set()
            await release.wait()

    try:
        await kiosk.start()
        kiosk._spawn(slow_to_stop(), "slow")
        closing = asyncio.ensure_future(kiosk.close())
        await asyncio.wait_for(stopping.wait(), TIMEOUT)  # close is waiting for the task now
        closing.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(closing, TIMEOUT)
        await asyncio.wait_for(kiosk.close(), TIMEOUT)
        assert kiosk.closed.is_set() and kiosk.pc.connectionState == "closed"
    finally:
        await asyncio.wait_for(asyncio.gather(kiosk.close(), officer.close()), TIMEOUT)


def test_no_ice_servers_means_none_at_all():
    assert rtc_configuration([]).iceServers == []
    turn = rtc_configuration([p.IceServerInfo(urls=["turn:127.0.0.1:3478"], username="u", credential="c")])
    assert turn.iceServers[0].urls == ["turn:127.0.0.1:3478"]


async def test_a_document_crosses_the_call_whole_and_verified():
    import hashlib
    import os

    from remote_call.documents import DocumentReceiver, send_document
    from remote_call.incall import DocumentOffer

    kiosk, officer = session_pair()
    verdicts: asyncio.Queue = asyncio.Queue()
    receiver = DocumentReceiver(
        lambda offer, data, ok, detail: verdicts.put_nowait((offer, data, ok, detail))
    )
    officer.document_handlers.append(receiver.feed)
    try:
        await kiosk.start()
        await asyncio.wait_for(
            asyncio.gather(kiosk.documents_open.wait(), officer.documents_open.wait()), TIMEOUT
        )
        data = os.urandom(3 * 1024 * 1024 + 123)  # several hundred chunks, past the high-water mark
        offer = DocumentOffer(
            doc_id="scan1",
            purpose="scan",
            mime="image/png",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        await send_document(kiosk.documents, offer, data)
        got_offer, got, ok, detail = await asyncio.wait_for(verdicts.get(), TIMEOUT)
        assert ok and detail == "" and got == data and got_offer.doc_id == "scan1"
        # A lying sender (announced digest differs) is caught by the receiver.
        small = os.urandom(1000)
        bad = offer.model_copy(update={"doc_id": "scan2", "size": len(small), "sha256": "0" * 64})
        kiosk.documents.send(b"O" + bad.model_dump_json().encode())
        kiosk.documents.send(b"C\x05scan2" + small)
        _, got, ok, detail = await asyncio.wait_for(verdicts.get(), TIMEOUT)
        assert not ok and got is None and "SHA-256" in detail
    finally:
        await asyncio.gather(kiosk.close(), officer.close())
