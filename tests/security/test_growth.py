"""Nothing grows without bound (issue 14, item 5), against a real server: a kiosk whose printer flaps at
every heartbeat writes a bounded number of health events and raises a bounded number of alerts; cleared
alerts go with the monitoring retention; failed sign-ins are summarised (test_signin_bursts.py)."""

from __future__ import annotations

from remote_call import protocol as p
from signaling_server.health import DEVICE_EVENT_BURST
from signaling_server.monitor import MONITOR
from signaling_server.testing import WireClient

FLAPS = 60


def heartbeat(printer: str) -> p.Heartbeat:
    return p.Heartbeat(
        uptime_s=10,
        cpu_percent=5,
        memory_percent=20,
        disk_percent=30,
        devices={
            "printer": p.DeviceStatus(status=printer, detail="cover_open" if printer == "error" else "")
        },
    )


async def test_a_flapping_device_writes_a_bounded_number_of_rows_and_alerts(make_server):
    async with make_server(messages_per_second=1000, message_burst=1000) as server:
        kiosk = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
        for i in range(FLAPS):
            await kiosk.send(heartbeat("error" if i % 2 == 0 else "ok"))
        await kiosk.send(p.Ping(nonce=1))
        await kiosk.expect(p.Pong, nonce=1)  # every heartbeat before it has been handled
        conn = server.store.conn
        events = conn.execute(
            "SELECT COUNT(*) FROM health_events WHERE kiosk_id = 'kiosk-ueda' AND kind = 'device'"
        ).fetchone()[0]
        alerts = conn.execute(
            "SELECT COUNT(*) FROM monitoring_alerts WHERE kiosk_id = 'kiosk-ueda'"
        ).fetchone()[0]
        assert 1 <= events <= DEVICE_EVENT_BURST, events  # was one row per change: 60
        assert 1 <= alerts <= DEVICE_EVENT_BURST, alerts
        # The live picture is not delayed: the last heartbeat said "ok".
        monitor = server.app[MONITOR]
        assert monitor.health.kiosks["kiosk-ueda"].devices["printer"].status == "ok"
        await kiosk.close()


async def test_cleared_alerts_go_with_the_monitoring_retention(server):
    monitor = server.app[MONITOR]
    now = monitor.clock()
    old = now - 40 * 86400
    for kiosk_id in ("kiosk-ueda", "kiosk-tonan"):
        monitor.alerts.raise_alert(
            "device_error",
            f"{kiosk_id}/printer",
            kiosk_id=kiosk_id,
            severity="critical",
            message_ja="プリンター異常",
            message_en="printer error",
            now=old,
        )
    monitor.alerts.clear("device_error", "kiosk-ueda/printer", old)
    monitor.check(now + 7200)  # the hourly purge is due
    left = [(a.subject, a.cleared_at) for a in monitor.alerts.recent()]
    assert left == [("kiosk-tonan/printer", None)]  # the open one stays, however old
