"""The monitor: what the switchboard reports to, and the state behind the IT pages.

The switchboard hands it heartbeats, call-quality reports, remote-action results, (dis)connections and call
ends; it keeps the health registry (``health.py``), the alert rules and manager (``alerts.py``), the webhook
(``webhook.py``), the Prometheus metrics (``metrics.py``), the dashboards' event hub and the remote actions
sent. ``monitoring.setup_monitoring`` builds it and adds its routes (``it_dashboard.py``, ``wait_board.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from config.schema import AppConfig, KioskAppConfig, MonitoringConfig
from remote_call import protocol as p
from remote_call.tasks import cancel_and_wait
from signaling_server.alerts import Alert, AlertManager, AlertRules
from signaling_server.appkeys import CONFIG, STORE, SWITCHBOARD
from signaling_server.cluster.views import live_view, watches_kiosks
from signaling_server.health import HealthRegistry
from signaling_server.metrics import MonitoringMetrics
from signaling_server.webhook import WebhookSender

log = logging.getLogger(__name__)

Action = Literal["selftest", "restart", "reload_config"]  # p.RemoteAction.action
ACTIONS: tuple[Action, ...] = ("selftest", "restart", "reload_config")
MAX_ACTIONS_KEPT = 200
SSE_QUEUE_LIMIT = 256
WEBHOOK_DRAIN_S = 2.0


class MonitoringSettings(MonitoringConfig):
    """``config.monitoring`` as the monitor uses it: the schema's own fields, rules and defaults (no second
    copy), with ``heartbeat_s`` resolved (the schema's None means ``kiosk_app.heartbeat_s``)."""

    heartbeat_s: float = Field(gt=0)

    @classmethod
    def from_config(
        cls, config: AppConfig | None, overrides: Mapping[str, Any] | None = None
    ) -> MonitoringSettings:
        """From the city configuration (None: the defaults); ``overrides`` (tests, the demo) are checked by
        name here and by value by the schema, like a configuration file's."""
        section = config.monitoring if config is not None else MonitoringConfig()
        kiosk_app = config.kiosk_app if config is not None else KioskAppConfig()
        values: dict[str, Any] = section.model_dump()
        if values["heartbeat_s"] is None:
            values["heartbeat_s"] = kiosk_app.heartbeat_s
        known = set(cls.model_fields)
        for key, value in (overrides or {}).items():
            if key not in known:
                raise ValueError(f"unknown monitoring setting {key!r}; known: {', '.join(sorted(known))}")
            values[key] = value
        return cls.model_validate(values)


class DashboardHub:
    """Live updates for dashboards over server-sent events; kiosk changes are coalesced per flush."""

    def __init__(self, kiosk_json: Callable[[str], dict[str, Any] | None], flush_s: float):
        self.kiosk_json = kiosk_json
        self.flush_s = flush_s
        self.clients: set[asyncio.Queue[str | None]] = set()
        self._dirty: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None

    def subscribe(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(SSE_QUEUE_LIMIT)
        self.clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        self.clients.discard(queue)

    def kiosk_changed(self, kiosk_id: str) -> None:
        if not self.clients:
            return
        self._dirty.add(kiosk_id)
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._timer = loop.call_later(self.flush_s, self.flush)

    def flush(self) -> None:
        self._timer = None
        dirty, self._dirty = self._dirty, set()
        kiosks = [k for k in (self.kiosk_json(i) for i in sorted(dirty)) if k is not None]
        if kiosks:
            self.publish("kiosks", kiosks)

    def publish(self, event: str, data: Any) -> None:
        if not self.clients:
            return
        frame = f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"
        for queue in list(self.clients):
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:  # a dashboard that cannot keep up reconnects and starts afresh
                self.clients.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for queue in list(self.clients):
            with contextlib.suppress(asyncio.QueueEmpty):
                while queue.full():
                    queue.get_nowait()
            queue.put_nowait(None)
        self.clients.clear()


class Monitor:
    """What the switchboard calls (``switchboard.Monitor``) and the state behind the pages."""

    def __init__(self, app: web.Application, settings: MonitoringSettings, clock: Callable[[], float]):
        config = app[CONFIG]
        store = app[STORE]
        self.app = app
        self.settings = settings
        self.clock = clock
        self.store = store
        self.health = HealthRegistry(
            store.conn,
            heartbeat_s=settings.heartbeat_s,
            offline_after_missed=settings.offline_after_missed,
            history_step_s=settings.history_step_s,
            retention_s=settings.retention_days * 86400,
            kiosks=[(k.id, k.name, k.location) for k in config.kiosks],
            now=clock(),
        )
        self.alerts = AlertManager(store.conn)
        self.rules = AlertRules(
            self.alerts,
            clock=clock,
            loss_pct=settings.loss_pct,
            rtt_ms=settings.rtt_ms,
            sustained_s=settings.sustained_s,
            names=self.kiosk_name,
        )
        self.metrics = MonitoringMetrics(
            self.health, self.alerts, lambda: live_view(app) if SWITCHBOARD in app else None
        )
        self.webhook = (
            WebhookSender(
                settings.webhook_url,
                retries=settings.webhook_retries,
                backoff_s=settings.webhook_backoff_s,
                max_backoff_s=settings.webhook_max_backoff_s,
            )
            if settings.webhook_url
            else None
        )
        self.hub = DashboardHub(self.kiosk_json, settings.dashboard_flush_s)
        self.actions: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.consoles: dict[str, dict[str, Any]] = {}  # officers' and interpreters' consoles (no alerts)
        self.city = {"name_ja": config.city.name_ja, "name_en": config.city.name_en}
        self.health.listeners.append(self.rules.on_health)
        self.health.listeners.append(self._on_health)
        self.alerts.observers.append(self._on_alert)
        self._audit: Any = None
        self._checker: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ switchboard interface

    def heartbeat(self, kiosk_id: str, msg: p.Heartbeat, now: float) -> None:
        board = self.app.get(SWITCHBOARD)
        consoles = () if board is None else (board.officers, board.roster.interpreters)
        if board is not None and kiosk_id not in board.kiosks and any(kiosk_id in c for c in consoles):
            self.consoles[kiosk_id] = {
                "at": now,
                "app_version": msg.app_version,
                "rtt_ms": msg.rtt_ms,
                "devices": {n: d.status for n, d in msg.devices.items()},
            }
            return
        self.health.heartbeat(kiosk_id, msg, now)
        self.metrics.heartbeats.inc()

    def call_quality(self, identity: str, role: str, msg: p.CallQuality, now: float) -> None:
        sample = self.health.call_quality(identity, role, msg, now)
        self.metrics.observe_quality(role, sample)

    def action_result(self, kiosk_id: str, msg: p.ActionResult) -> None:
        action = self.actions.get(msg.action_id)
        if action is None or action["kiosk_id"] != kiosk_id:
            log.warning("kiosk %s answered unknown action %s; ignored", kiosk_id, msg.action_id)
            return
        action["result"] = {"ok": msg.ok, "detail": msg.detail[:500], "at": self.clock()}
        if action["action"] == "selftest":  # shown as a checklist (health.selftest_checks)
            action["result"]["checks"] = self.health.selftest_result(
                kiosk_id, msg.ok, msg.detail, self.clock()
            )
        self.audit_append(
            kiosk_id,
            "remote_action",
            kiosk_id,
            {"action_id": msg.action_id, "action": action["action"], "phase": "result", "ok": msg.ok},
        )
        log.info("kiosk %s: %s %s", kiosk_id, action["action"], "succeeded" if msg.ok else "failed")
        self.hub.publish("action", action)

    def client_attached(self, role: str, identity: str, now: float) -> None:
        self.health.client_attached(role, identity, now)

    def client_detached(self, role: str, identity: str, now: float) -> None:
        self.health.client_detached(role, identity, now)

    def on_switchboard_event(self, event: str, data: dict[str, Any]) -> None:
        if event != "call_ended":
            return
        call_id = data.get("call_id", "")
        self.health.call_ended(call_id)
        self.rules.call_ended(call_id)
        outcome = data.get("outcome") or "none"  # as saved; works while the database is unreachable
        self.metrics.calls_ended.labels(data.get("reason", "unknown"), outcome).inc()

    # ------------------------------------------------------------------ timers

    def check(self, now: float | None = None) -> list[str]:
        """Offline detection (and the retention purge of history, events, call quality and cleared alerts);
        the timer calls it, tests call it with a fake time."""
        now = self.clock() if now is None else now
        if not watches_kiosks(self.app, self.health.kiosks.values(), now):
            return []  # a follower hears no heartbeats: the leader watches (cluster/views.py)
        purged_at = self.health.last_purge
        gone = self.health.check_offline(now)
        if self.health.last_purge != purged_at:  # the registry purged: alerts follow the same retention
            self.alerts.purge(now - self.health.retention_s)
        return gone

    async def _run_checks(self) -> None:
        interval = self.settings.check_interval_s or self.settings.heartbeat_s / 2
        while True:
            await asyncio.sleep(interval)
            try:
                self.check()
            except Exception:
                log.exception("monitoring check failed")

    async def start(self) -> None:
        # The switchboard was built with this monitor and its on_switchboard_event (app._switchboard_ctx).
        self._audit = getattr(self.app[SWITCHBOARD], "audit", None)
        if self.webhook is not None:
            await self.webhook.start()
        self._checker = asyncio.create_task(self._run_checks(), name="monitoring-checks")

    async def stop(self) -> None:
        self.hub.close()
        if self._checker is not None:
            await cancel_and_wait(self._checker)
            self._checker = None
        self.health.flush()
        if self.webhook is not None:
            with contextlib.suppress(TimeoutError):  # a last chance for queued alerts, bounded
                await asyncio.wait_for(self.webhook.drain(), WEBHOOK_DRAIN_S)
            await self.webhook.stop()

    # ------------------------------------------------------------------ actions

    def send_action(self, actor: str, kiosk_id: str, action: str) -> dict[str, Any] | None:
        """Send a RemoteAction to a connected kiosk (audited); None when the kiosk is not connected."""
        known = next((a for a in ACTIONS if a == action), None)
        if known is None:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        board = self.app[SWITCHBOARD]
        action_id = uuid.uuid4().hex[:16]
        if not board.send_to_kiosk(kiosk_id, p.RemoteAction(action_id=action_id, action=known)):
            return None
        record = {
            "id": action_id,
            "kiosk_id": kiosk_id,
            "action": action,
            "actor": actor,
            "sent_at": self.clock(),
            "result": None,
        }
        self.actions[action_id] = record
        while len(self.actions) > MAX_ACTIONS_KEPT:
            self.actions.popitem(last=False)
        self.audit_append(
            actor, "remote_action", kiosk_id, {"action_id": action_id, "action": action, "phase": "sent"}
        )
        log.info("%s asked kiosk %s to %s (%s)", actor, kiosk_id, action, action_id)
        self.hub.publish("action", record)
        return record

    def audit_append(self, actor: str, action: str, target: str, details: dict[str, Any]) -> None:
        if self._audit is None:
            return
        try:
            self._audit.append(actor, action, target, details)
        except Exception:
            log.exception("could not write the audit entry for %s %s", action, target)

    # ------------------------------------------------------------------ views

    def kiosk_name(self, kiosk_id: str) -> str:
        kiosk = self.health.kiosks.get(kiosk_id)
        return (kiosk.name if kiosk and kiosk.name else None) or kiosk_id

    def kiosk_json(self, kiosk_id: str) -> dict[str, Any] | None:
        kiosk = self.health.kiosks.get(kiosk_id)
        return kiosk.to_json() if kiosk is not None else None

    def fleet(self) -> dict[str, Any]:
        return {
            "server_time": self.clock(),
            "city": self.city,
            "heartbeat_s": self.settings.heartbeat_s,
            "offline_after_s": self.health.offline_after_s,
            "kiosks": self.health.snapshot(),
            "alerts": [a.to_json() for a in self.alerts.open_alerts()],
            "recent_alerts": [a.to_json() for a in self.alerts.recent(50)],
            "actions": list(reversed(self.actions.values()))[:50],
        }

    def _on_health(self, kind: str, kiosk_id: str, data: dict[str, Any]) -> None:
        if kind == "updated":
            self.hub.kiosk_changed(kiosk_id)

    def _on_alert(self, event: str, alert: Alert) -> None:
        if event == "raised":
            self.metrics.alerts_raised.labels(alert.kind).inc()
        payload = {
            "event": f"alert_{event}",
            "alert": alert.to_json(),
            "city": self.city["name_en"],
            "kiosk_name": self.kiosk_name(alert.kiosk_id) if alert.kiosk_id else None,
        }
        self.hub.publish("alert", payload)
        if self.webhook is not None:
            self.webhook.post(payload)


MONITOR = web.AppKey("monitor", Monitor)
