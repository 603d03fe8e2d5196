"""/metrics scraped over HTTP and parsed with prometheus_client's own text parser."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from remote_call import protocol as p
from signaling_server.monitoring import MONITOR
from signaling_server.testing import WireClient

from .conftest import heartbeat
from .test_monitoring import beat


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    parsed = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            parsed[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return parsed


async def scrape(server, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(server.http_url + "/metrics", headers=headers) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.text()


async def test_metrics_parse_and_follow_the_fleet_queues_and_calls(monitored):
    async with monitored() as server:
        monitor = server.app[MONITOR]
        k1 = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
        k2 = await WireClient.kiosk(server.url, "kiosk-tonan", server.fleet.kiosk_tokens["kiosk-tonan"])
        await beat(k1, heartbeat(camera="ok", printer=("error", "paper_out")))
        await beat(k2, heartbeat(camera=("degraded", "low light"), printer="ok"))
        await k1.send(p.RequestCall(department="kosodate"))
        await k1.expect(p.Queued)
        quality = p.CallQuality(call_id="c-1", rtt_ms=42, loss_in_pct=0.4, loss_out_pct=7.5, jitter_ms=3)
        monitor.call_quality("kiosk-ueda", "kiosk", quality, server.switchboard.clock())
        status, content_type, text = await scrape(server)
        assert status == 200 and content_type.startswith("text/plain")
        m = samples(text)
        assert m[("madoguchi_kiosks", (("state", "online"),))] == 2
        configured = {k.id for k in server.config.kiosks}
        assert m[("madoguchi_kiosks", (("state", "never"),))] == len(
            configured - {"kiosk-ueda", "kiosk-tonan"}
        )
        assert m[("madoguchi_kiosks", (("state", "error"),))] == 1
        assert m[("madoguchi_kiosk_up", (("kiosk", "kiosk-ueda"),))] == 1
        assert (
            m[
                (
                    "madoguchi_kiosk_device_status",
                    (("device", "printer"), ("kiosk", "kiosk-ueda"), ("status", "error")),
                )
            ]
            == 1
        )
        assert m[("madoguchi_devices", (("device", "camera"), ("status", "degraded")))] == 1
        assert m[("madoguchi_heartbeats_total", ())] == 2
        assert m[("madoguchi_queue_waiting", (("department", "kosodate"),))] == 1
        assert m[("madoguchi_queue_longest_wait_seconds", (("department", "kosodate"),))] >= 0
        assert m[("madoguchi_department_open", (("department", "kosodate"),))] == 1
        assert m[("madoguchi_calls_active", (("state", "queued"),))] == 1
        assert m[("madoguchi_alerts_open", (("kind", "printer_paper_out"), ("severity", "critical")))] == 1
        assert m[("madoguchi_call_rtt_ms_bucket", (("le", "50.0"), ("role", "kiosk")))] == 1
        assert m[("madoguchi_call_rtt_ms_bucket", (("le", "25.0"), ("role", "kiosk")))] == 0
        assert m[("madoguchi_call_packet_loss_percent_count", (("direction", "out"), ("role", "kiosk")))] == 1
        await k1.close()
        await k2.close()


async def test_metrics_can_require_a_bearer_token(monitored):
    async with monitored(metrics_token="s3cret-scrape-token") as server:
        status, _, _ = await scrape(server)
        assert status == 401
        status, _, text = await scrape(server, {"Authorization": "Bearer s3cret-scrape-token"})
        assert status == 200 and "madoguchi_kiosks" in text


async def test_every_metric_the_grafana_dashboard_uses_is_exported(monitored):
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).parents[2] / "docs" / "grafana-dashboard.json").read_text())
    used = set(re.findall(r"madoguchi_[a-z_]+", json.dumps(dashboard)))
    assert len(used) > 5, used  # the dashboard really was read: the loop below checks each of them
    async with monitored() as server:
        _, _, text = await scrape(server)
    families = {f.name for f in text_string_to_metric_families(text)}
    for name in used:
        base = re.sub(r"_(bucket|total|count|sum)$", "", name)
        assert base in families, f"the Grafana dashboard uses {name}, which /metrics does not export"
