"""End to end through the real server: heartbeats over the wire → registry → offline → alert → webhook →
recovery; device and paper alerts; a real aiortc call's statistics reaching the call's quality record."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from hardware.simulated import TestPatternVideoTrack, ToneAudioTrack
from remote_call import protocol as p
from remote_call.session import CallSession
from remote_call.telemetry import TelemetryReporter
from signaling_server.monitoring import MONITOR, MonitoringSettings, setup_monitoring
from signaling_server.testing import WireClient

from .conftest import FakeClock, heartbeat

TIMEOUT = 20.0


async def beat(client: WireClient, message: p.Heartbeat) -> None:
    """Send a heartbeat and wait until the server has handled it (messages are handled in order)."""
    nonce = int(time.monotonic() * 1e6)
    await client.send(message)
    await client.send(p.Ping(nonce=nonce))
    await client.expect(p.Pong, nonce=nonce)


async def test_offline_alert_is_raised_once_posted_to_the_webhook_and_cleared(monitored, receiver):
    clock = FakeClock()
    async with monitored(clock, webhook_url=receiver.url, webhook_backoff_s=0.01) as server:
        monitor = server.app[MONITOR]
        k = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
        await beat(k, heartbeat(camera="ok", printer="ok"))
        health = monitor.health.kiosks["kiosk-ueda"]
        assert health.online and health.state == "online" and health.app_version == "1.4.2"
        assert health.name == "上田公民館"  # from the config
        assert health.last_seen == clock.now
        assert monitor.check(clock.advance(25)) == []  # two missed 10 s beats: still online
        assert monitor.check(clock.advance(11)) == ["kiosk-ueda"]  # three missed (+ half a beat of grace)
        assert monitor.check(clock.advance(60)) == []  # raised once
        assert [a.kind for a in monitor.alerts.open_alerts()] == ["kiosk_offline"]
        raised = await receiver.next()
        assert raised["event"] == "alert_raised" and raised["alert"]["kind"] == "kiosk_offline"
        assert raised["alert"]["kiosk_id"] == "kiosk-ueda" and raised["kiosk_name"] == "上田公民館"
        assert "オフライン" in raised["alert"]["message_ja"]
        clock.advance(5)
        await beat(k, heartbeat(camera="ok", printer="ok"))  # back
        cleared = await receiver.next()
        assert cleared["event"] == "alert_cleared" and cleared["alert"]["id"] == raised["alert"]["id"]
        assert cleared["alert"]["cleared_at"] - cleared["alert"]["raised_at"] == pytest.approx(65)
        assert monitor.alerts.open_alerts() == [] and health.online
        rows = server.store.conn.execute("SELECT kind, cleared_at FROM monitoring_alerts").fetchall()
        assert len(rows) == 1 and rows[0][1] is not None
        events = [e["kind"] for e in monitor.health.events("kiosk-ueda", 0)]
        assert events == ["online", "device", "device", "offline", "online"]
        assert len(receiver.posts) == 2
        await k.close()


async def test_device_and_paper_alerts_follow_the_heartbeats(monitored):
    async with monitored() as server:
        monitor = server.app[MONITOR]
        k = await WireClient.kiosk(server.url, "kiosk-tonan", server.fleet.kiosk_tokens["kiosk-tonan"])
        await beat(k, heartbeat(camera="ok", scanner="ok", printer=("degraded", "paper_near_end")))
        kinds = {(a.kind, a.subject) for a in monitor.alerts.open_alerts()}
        assert kinds == {("printer_paper_near_end", "kiosk-tonan/printer")}
        await beat(
            k, heartbeat(camera=("error", "no frames for 10 s"), scanner="ok", printer=("error", "paper_out"))
        )
        kinds = {(a.kind, a.subject) for a in monitor.alerts.open_alerts()}
        assert kinds == {("printer_paper_out", "kiosk-tonan/printer"), ("device_error", "kiosk-tonan/camera")}
        assert monitor.health.kiosks["kiosk-tonan"].state == "error"
        camera = monitor.health.kiosks["kiosk-tonan"].devices["camera"]
        assert camera.status == "error" and camera.detail == "no frames for 10 s" and camera.since > 0
        await beat(
            k, heartbeat(camera=("error", "no frames for 20 s"), scanner="ok", printer=("error", "paper_out"))
        )
        assert len(monitor.alerts.recent()) == 3  # the same conditions raise nothing new
        await beat(k, heartbeat(camera="ok", scanner="ok", printer="ok"))
        assert monitor.alerts.open_alerts() == []
        assert {a.kind for a in monitor.alerts.recent() if a.cleared_at} == {
            "printer_paper_near_end",
            "printer_paper_out",
            "device_error",
        }
        await k.close()


async def test_history_is_downsampled_into_buckets(monitored):
    async with monitored(history_step_s=10) as server:  # the shortest step the schema allows
        monitor = server.app[MONITOR]
        k = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
        for _ in range(3):
            await beat(k, heartbeat(camera="ok"))
        await k.close()
        monitor.health.flush()
        rows = monitor.health.history("kiosk-ueda", 0)
        assert sum(r["samples"] for r in rows) == 3
        assert all(r["cpu_mean"] == pytest.approx(12.5) and r["rtt_max"] == pytest.approx(8.5) for r in rows)


async def test_console_heartbeats_do_not_become_kiosks(monitored):
    async with monitored() as server:
        monitor = server.app[MONITOR]
        o = await WireClient.officer(server.url, "hanako", "correct horse battery")
        await beat(o, heartbeat(camera="ok"))
        assert "hanako" not in monitor.health.kiosks and monitor.consoles["hanako"]["app_version"] == "1.4.2"
        await o.close()


def test_settings_are_checked_by_name():
    with pytest.raises(ValueError, match="unknown monitoring setting 'loss'"):
        MonitoringSettings.from_config(None, {"loss": 3})
    with pytest.raises(ValueError, match="offline_after_missed"):
        MonitoringSettings.from_config(None, {"offline_after_missed": 0})
    with pytest.raises(ValueError, match="webhook url"):
        from signaling_server.webhook import WebhookSender

        WebhookSender("ftp://example")


async def test_setting_up_twice_replaces_the_monitor(make_server):
    server = make_server()
    setup_monitoring(server.app)
    first = server.app[MONITOR]
    setup_monitoring(server.app, overrides={"heartbeat_s": 1})
    assert server.app[MONITOR] is not first and server.app[MONITOR].settings.heartbeat_s == 1
    async with server:
        assert server.switchboard.monitor is server.app[MONITOR]


# ---------------------------------------------------------------------- a real call


class Party:
    """A WireClient plus a CallSession: SDP goes through the server; other messages stay in ``inbox``."""

    def __init__(self, client: WireClient, label: str):
        self.client = client
        self.label = label
        self.session: CallSession | None = None
        self.call_id: str | None = None
        self.inbox: asyncio.Queue[p.Wire] = asyncio.Queue()
        self.ready = asyncio.Event()
        self.reporter: TelemetryReporter | None = None
        self._pump = asyncio.create_task(self._run())

    async def _run(self) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                message = await self.client.receive(timeout=3600)
                if isinstance(message, p.CallConnecting):
                    self.call_id = message.call_id
                    self.session = CallSession(
                        message.call_id,
                        offerer=message.offerer,
                        ice_servers=[],
                        send_signal=self.client.send,
                        video=TestPatternVideoTrack(self.label, 160, 120, 15),
                        audio=ToneAudioTrack(440),
                    )
                    self.ready.set()
                    if message.offerer:
                        await self.session.start()
                elif isinstance(message, p.SessionDescription | p.IceCandidate) and self.session is not None:
                    await self.session.handle_signal(message)
                elif isinstance(message, p.Pong) and self.reporter is not None:
                    self.reporter.on_message(message)
                else:
                    await self.inbox.put(message)

    async def expect(self, kind: type[p.Wire]) -> p.Wire:
        async with asyncio.timeout(TIMEOUT):
            while True:
                message = await self.inbox.get()
                if isinstance(message, kind):
                    return message

    async def close(self) -> None:
        if self.reporter is not None:
            await self.reporter.stop()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        if self.session is not None:
            await self.session.close()
        await self.client.close()


async def test_statistics_of_a_real_call_reach_the_call_record(monitored):
    async with monitored(loss_pct=5, rtt_ms=300) as server:
        monitor = server.app[MONITOR]
        kiosk = Party(
            await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"]), "kiosk"
        )
        officer = Party(await WireClient.officer(server.url, "hanako", "correct horse battery"), "officer")
        try:
            await kiosk.client.send(p.RequestCall(department="kosodate"))
            offer = await officer.expect(p.CallOffer)
            await officer.client.send(p.AcceptCall(call_id=offer.call_id))
            await asyncio.wait_for(asyncio.gather(kiosk.ready.wait(), officer.ready.wait()), TIMEOUT)
            await asyncio.wait_for(
                asyncio.gather(kiosk.session.connected.wait(), officer.session.connected.wait()), TIMEOUT
            )
            samples: dict[str, int] = {"kiosk": 0, "officer": 0}
            enough = asyncio.Event()

            def count(kind: str, identity: str, data: dict) -> None:
                if kind == "quality":
                    samples[data["role"]] += 1
                    if min(samples.values()) >= 3:
                        enough.set()

            monitor.health.listeners.append(count)
            for party in (kiosk, officer):
                await party.client.send(p.MediaConnected(call_id=offer.call_id))
                party.reporter = TelemetryReporter(
                    party.client.send,
                    dict,
                    lambda party=party: party.session,
                    lambda party=party: party.call_id,
                    heartbeat_s=5,
                    quality_s=0.4,
                )
                party.reporter.start()
            await asyncio.wait_for(enough.wait(), TIMEOUT)
            live = monitor.health.kiosks["kiosk-ueda"]
            assert live.call_id == offer.call_id and live.call_quality is not None
            await officer.client.send(p.EndCall(call_id=offer.call_id, outcome="resolved"))
            await kiosk.expect(p.CallEnded)
        finally:
            await asyncio.gather(kiosk.close(), officer.close())
        summary = monitor.health.call_quality_summary(offer.call_id)
        assert summary is not None and set(summary["parties"]) == {"kiosk", "officer"}
        for role in ("kiosk", "officer"):
            party = summary["parties"][role]
            assert party["samples"] >= 3
            assert party["bitrate_out_mean_kbps"] is not None and party["bitrate_out_mean_kbps"] > 0
            assert party["fps_in_mean"] is not None and party["fps_in_mean"] > 0
        assert summary["overall"]["loss_max_pct"] is not None and summary["overall"]["loss_max_pct"] < 5
        assert not any(a.kind == "call_quality" for a in monitor.alerts.recent())
        assert monitor.health.kiosks["kiosk-ueda"].call_id is None  # the call ended
        text = monitor.metrics.render().decode()
        assert 'madoguchi_calls_ended_total{outcome="resolved",reason="completed"} 1.0' in text
