"""The client telemetry: heartbeats from psutil and real aiortc statistics from two live CallSessions."""

from __future__ import annotations

import asyncio

import pytest

from devtools.sessions import session_pair
from hardware.health import DeviceHealth
from remote_call import protocol as p
from remote_call.session import CallSession
from remote_call.telemetry import StatsSnapshot, TelemetryReporter, call_quality, device_statuses

TIMEOUT = 20.0


async def frames(session: CallSession, count: int) -> None:
    async def enough() -> None:
        got = asyncio.Event()
        session.remote_video.listeners.append(lambda _f: got.set())
        while session.remote_video.count < count:
            got.clear()
            await got.wait()

    await asyncio.wait_for(enough(), TIMEOUT)


async def rtcp_reports(session: CallSession) -> None:
    """Until the peer's RTCP receiver and sender reports have arrived (RTT and inbound bytes known)."""

    async def arrived() -> None:
        while True:
            report = await session.pc.getStats()
            kinds = {s.type for s in report.values()}
            rtts = [s.roundTripTime for s in report.values() if s.type == "remote-inbound-rtp"]
            if "remote-outbound-rtp" in kinds and rtts and all(r is not None for r in rtts):
                return
            await frames(session, session.remote_video.count + 5)  # let media (and RTCP) flow

    await asyncio.wait_for(arrived(), TIMEOUT)


async def new_reports_since(session: CallSession, snapshot: StatsSnapshot) -> None:
    """Until the peer has sent a receiver report and a sender report newer than ``snapshot``."""

    async def arrived() -> None:
        while True:
            report = await session.pc.getStats()
            received = sum(
                s.packetsReceived + s.packetsLost for s in report.values() if s.type == "remote-inbound-rtp"
            )
            sent = sum(s.bytesSent for s in report.values() if s.type == "remote-outbound-rtp")
            if received > snapshot.remote_received + snapshot.remote_lost and sent > (snapshot.bytes_in or 0):
                return
            await frames(session, session.remote_video.count + 5)

    await asyncio.wait_for(arrived(), TIMEOUT)


async def test_call_quality_from_a_real_call_reports_both_directions():
    kiosk, officer = session_pair()
    try:
        await kiosk.start()
        await asyncio.wait_for(asyncio.gather(kiosk.connected.wait(), officer.connected.wait()), TIMEOUT)
        await rtcp_reports(kiosk)
        first, snapshot = await call_quality(kiosk, "c1", None)
        assert first.call_id == "c1" and first.bitrate_out_kbps is None  # no interval yet
        await frames(kiosk, kiosk.remote_video.count + 20)
        await new_reports_since(kiosk, snapshot)  # RTCP reports come every 0.5-1.5 s: wait for fresh ones
        quality, later = await call_quality(kiosk, "c1", snapshot)
        assert later.at > snapshot.at
        assert quality.rtt_ms is not None and 0 <= quality.rtt_ms < 1000  # loopback
        assert quality.loss_in_pct == pytest.approx(0.0, abs=1.0)
        assert quality.loss_out_pct is not None and quality.loss_out_pct <= 1.0
        assert quality.jitter_ms is not None and quality.jitter_ms >= 0
        assert quality.bitrate_out_kbps is not None and quality.bitrate_out_kbps > 20  # video + opus
        assert quality.bitrate_in_kbps is not None and quality.bitrate_in_kbps > 0
        assert quality.fps_in is not None and 5 < quality.fps_in < 40  # 20 fps test pattern
        assert quality.fps_out is not None and 5 < quality.fps_out < 40
        p.CallQuality.model_validate(quality.model_dump())  # within the protocol's bounds
    finally:
        await asyncio.gather(kiosk.close(), officer.close())


async def test_reporter_sends_heartbeats_pings_and_call_quality():
    kiosk, officer = session_pair()
    sent: asyncio.Queue[p.Wire] = asyncio.Queue()

    async def send(message: p.Wire) -> None:
        await sent.put(message)

    devices = {"camera": DeviceHealth("ok"), "printer": {"status": "degraded", "detail": "paper_near_end"}}
    reporter = TelemetryReporter(
        send,
        lambda: devices,
        lambda: kiosk,
        lambda: "c1",
        heartbeat_s=0.2,
        quality_s=0.2,
        app_version="1.2.3",
    )
    try:
        await kiosk.start()
        await asyncio.wait_for(kiosk.connected.wait(), TIMEOUT)
        reporter.start()
        seen: dict[type, list[p.Wire]] = {}
        async with asyncio.timeout(TIMEOUT):
            while len(seen.get(p.CallQuality, [])) < 2 or len(seen.get(p.Heartbeat, [])) < 2:
                message = await sent.get()
                seen.setdefault(type(message), []).append(message)
                if isinstance(message, p.Ping):
                    reporter.on_message(p.Pong(nonce=message.nonce))
        beat = seen[p.Heartbeat][-1]
        assert beat.app_version == "1.2.3" and beat.uptime_s > 0 and beat.os
        assert 0 <= beat.memory_percent <= 100 and 0 <= beat.disk_percent <= 100
        assert beat.devices["camera"].status == "ok"
        assert beat.devices["printer"] == p.DeviceStatus(status="degraded", detail="paper_near_end")
        assert beat.rtt_ms is not None and beat.rtt_ms >= 0  # the pong answered the ping before it
        assert seen[p.CallQuality][-1].bitrate_out_kbps is not None
    finally:
        await reporter.stop()
        await asyncio.gather(kiosk.close(), officer.close())


async def test_no_quality_without_a_connected_call_and_stale_pongs_are_ignored():
    async def send(message: p.Wire) -> None:
        pass

    reporter = TelemetryReporter(send, dict, lambda: None, lambda: None)
    assert await reporter.quality_sample() is None
    await reporter.ping()
    reporter.on_message(p.Pong(nonce=0))  # not our nonce
    assert reporter.rtt_ms is None
    with pytest.raises(ValueError, match="positive"):
        TelemetryReporter(send, dict, lambda: None, lambda: None, heartbeat_s=0)


def test_device_statuses_are_bounded():
    many = {f"dev{i}": {"status": "ok", "detail": "x" * 500} for i in range(40)}
    statuses = device_statuses(many)
    assert len(statuses) == 16 and all(len(s.detail) == 200 for s in statuses.values())


async def test_a_kiosk_camera_track_counts_its_own_frames_for_fps_out():
    """fps out is one connection's: with an interpreter and a guest the kiosk's camera goes out on three
    tracks, all feeding the one self-view."""
    from hardware.simulated import SimulatedMedia
    from kiosk_client.media import KioskMedia

    media = KioskMedia(SimulatedMedia("kiosk", 160, 120, 30, 440.0))
    tracks = [media.camera_track() for _ in range(3)]
    try:
        for _ in range(4):
            for track in tracks:
                assert track is not None
                await asyncio.wait_for(track.recv(), 10)
        assert [getattr(track, "frames_sent", None) for track in tracks] == [4, 4, 4]
        assert media.self_view.count == 12
    finally:
        for track in tracks:
            if track is not None:
                track.stop()
