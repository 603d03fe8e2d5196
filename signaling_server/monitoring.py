"""IT monitoring wired into the server: health registry, alerts, webhook, dashboard, /metrics, wait board.

``setup_monitoring(app)`` (after ``create_app``) adds:

- ``/it/login`` (form; sets an HttpOnly SameSite=Strict session cookie; never a token in a URL),
  ``/it/logout``, ``/it/`` (the dashboard page), ``/it/api/fleet``, ``/it/api/events`` (server-sent events),
  ``/it/api/kiosks/{id}/actions`` (POST: selftest / restart / reload_config, audited),
  ``/it/api/kiosks/{id}/history``, ``/it/api/calls/{id}/quality`` — all for ``it_admin`` accounts only;
- ``/metrics`` (Prometheus text format; optionally behind a bearer token);
- ``/board`` and ``/api/board``: the public wait board (no login, no personal data).

Settings come from ``config.monitoring`` when the schema has it, else the defaults below; ``overrides``
(a dict) wins over both, for tests and the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import ValidationError

from remote_call import protocol as p
from signaling_server.alerts import Alert, AlertManager, AlertRules
from signaling_server.appkeys import AUTHENTICATOR, CONFIG, STORE, SWITCHBOARD
from signaling_server.auth import AuthError, token_hash
from signaling_server.health import HealthRegistry
from signaling_server.metrics import CONTENT_TYPE, MonitoringMetrics
from signaling_server.ratelimit import LoginThrottle
from signaling_server.webhook import WebhookSender

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"
COOKIE = "madoguchi_it"
ACTIONS = ("selftest", "restart", "reload_config")
MAX_ACTIONS_KEPT = 200
SSE_QUEUE_LIMIT = 256
SSE_KEEPALIVE_S = 15.0
WEBHOOK_DRAIN_S = 2.0
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")  # protocol.Id

IT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
BOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "form-action 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class MonitoringSettings:
    heartbeat_s: float = 10.0
    offline_after_missed: int = 3
    loss_pct: float = 5.0
    rtt_ms: float = 300.0
    sustained_s: float = 15.0
    webhook_url: str | None = None
    webhook_retries: int = 5
    webhook_backoff_s: float = 1.0
    webhook_max_backoff_s: float = 60.0
    history_step_s: float = 600.0
    retention_days: float = 30.0
    check_interval_s: float | None = None  # default: heartbeat_s / 2
    dashboard_flush_s: float = 0.25
    metrics_token: str | None = None
    board_refresh_s: float = 15.0

    @classmethod
    def from_config(cls, config: Any, overrides: Mapping[str, Any] | None = None) -> MonitoringSettings:
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        kiosk_app = getattr(config, "kiosk_app", None)
        if getattr(kiosk_app, "heartbeat_s", None) is not None:
            values["heartbeat_s"] = float(kiosk_app.heartbeat_s)
        section = getattr(config, "monitoring", None)
        if section is not None:
            data = (
                section
                if isinstance(section, Mapping)
                else (section.model_dump() if hasattr(section, "model_dump") else vars(section))
            )
            values.update({k: v for k, v in data.items() if k in known and v is not None})
        for key, value in (overrides or {}).items():
            if key not in known:
                raise ValueError(f"unknown monitoring setting {key!r}; known: {', '.join(sorted(known))}")
            values[key] = value
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        positive = (
            "heartbeat_s",
            "loss_pct",
            "rtt_ms",
            "history_step_s",
            "retention_days",
            "dashboard_flush_s",
            "board_refresh_s",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"monitoring setting {name} must be positive, got {getattr(self, name)!r}")
        if self.offline_after_missed < 1:
            raise ValueError(
                f"monitoring setting offline_after_missed must be >= 1, got {self.offline_after_missed}"
            )
        if self.sustained_s < 0 or self.webhook_retries < 0 or self.webhook_backoff_s < 0:
            raise ValueError(
                "monitoring settings sustained_s, webhook_retries and webhook_backoff_s must be >= 0"
            )
        if self.check_interval_s is not None and not self.check_interval_s > 0:
            raise ValueError(
                f"monitoring setting check_interval_s must be positive, got {self.check_interval_s}"
            )


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
        self.metrics = MonitoringMetrics(self.health, self.alerts, lambda: app.get(SWITCHBOARD))
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
        self.consoles: dict[str, dict[str, Any]] = {}  # officer consoles' last heartbeat (no alerts)
        self.throttle = LoginThrottle()
        self.city = {"name_ja": config.city.name_ja, "name_en": config.city.name_en}
        self.health.listeners.append(self.rules.on_health)
        self.health.listeners.append(self._on_health)
        self.alerts.observers.append(self._on_alert)
        self._audit: Any = None
        self._checker: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ switchboard interface

    def heartbeat(self, kiosk_id: str, msg: p.Heartbeat, now: float) -> None:
        board = self.app.get(SWITCHBOARD)
        if board is not None and kiosk_id in board.officers and kiosk_id not in board.kiosks:
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
        self._audit_append(
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
        record = self.store.call(call_id)
        outcome = (record.outcome if record is not None else None) or "none"
        self.metrics.calls_ended.labels(data.get("reason", "unknown"), outcome).inc()

    # ------------------------------------------------------------------ timers

    def check(self, now: float | None = None) -> list[str]:
        """Offline detection (and history purge); the timer calls it, tests call it with a fake time."""
        return self.health.check_offline(self.clock() if now is None else now)

    async def _run_checks(self) -> None:
        interval = self.settings.check_interval_s or self.settings.heartbeat_s / 2
        while True:
            await asyncio.sleep(interval)
            try:
                self.check()
            except Exception:
                log.exception("monitoring check failed")

    async def start(self) -> None:
        board = self.app[SWITCHBOARD]
        board.monitor = self
        board.listeners.append(self.on_switchboard_event)
        self._audit = getattr(board, "audit", None)
        for kiosk_id in board.kiosks:  # clients that attached before the monitor existed
            self.health.client_attached("kiosk", kiosk_id, self.clock())
        if self.webhook is not None:
            await self.webhook.start()
        self._checker = asyncio.create_task(self._run_checks(), name="monitoring-checks")

    async def stop(self) -> None:
        self.hub.close()
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
            self._checker = None
        self.health.flush()
        if self.webhook is not None:
            with contextlib.suppress(TimeoutError):  # a last chance for queued alerts, bounded
                await asyncio.wait_for(self.webhook.drain(), WEBHOOK_DRAIN_S)
            await self.webhook.stop()

    # ------------------------------------------------------------------ actions

    def send_action(self, actor: str, kiosk_id: str, action: str) -> dict[str, Any] | None:
        """Send a RemoteAction to a connected kiosk (audited); None when the kiosk is not connected."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        board = self.app[SWITCHBOARD]
        action_id = uuid.uuid4().hex[:16]
        if not board.send_to_kiosk(kiosk_id, p.RemoteAction(action_id=action_id, action=action)):
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
        self._audit_append(
            actor, "remote_action", kiosk_id, {"action_id": action_id, "action": action, "phase": "sent"}
        )
        log.info("%s asked kiosk %s to %s (%s)", actor, kiosk_id, action, action_id)
        self.hub.publish("action", record)
        return record

    def _audit_append(self, actor: str, action: str, target: str, details: dict[str, Any]) -> None:
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


def setup_monitoring(
    app: web.Application,
    *,
    overrides: Mapping[str, Any] | None = None,
    clock: Callable[[], float] = time.time,
) -> None:
    """Add the monitoring routes and background work to an app made by ``create_app``."""
    settings = MonitoringSettings.from_config(app[CONFIG], overrides)
    already = MONITOR in app
    app[MONITOR] = Monitor(app, settings, clock)
    if already:  # set up again (e.g. tests with other settings): the new monitor replaces the old one
        return
    r = app.router
    r.add_get("/it/login", _login_page)
    r.add_post("/it/login", _login)
    r.add_post("/it/logout", _logout)
    r.add_get("/it", _redirect_to_dashboard)
    r.add_get("/it/", _it_page(_dashboard_page))
    r.add_get("/it/api/fleet", _it_api(_fleet))
    r.add_get("/it/api/events", _it_api(_events))
    r.add_post("/it/api/kiosks/{kiosk_id}/actions", _it_api(_action))
    r.add_get("/it/api/kiosks/{kiosk_id}/history", _it_api(_history))
    r.add_get("/it/api/calls/{call_id}/quality", _it_api(_call_quality))
    r.add_get("/metrics", _metrics)
    r.add_get("/board", _board_page)
    r.add_get("/api/board", _board_data)
    r.add_get("/monitoring/static/{name}", _static)
    # on_startup handlers run after every cleanup_ctx (the switchboard exists, wherever create_app calls
    # this); on_shutdown runs before on_cleanup (the store is still open) and ends the open event streams,
    # so a graceful shutdown does not wait on them.
    app.on_startup.append(_start)
    app.on_shutdown.append(_stop)


async def _start(app: web.Application) -> None:
    await app[MONITOR].start()


async def _stop(app: web.Application) -> None:
    await app[MONITOR].stop()


# ---------------------------------------------------------------------- authentication

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
IT_USER = web.RequestKey("it_user", str)


def _session_user(request: web.Request) -> str | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 200:
        return None
    store = request.app[STORE]
    username = store.session_user(token_hash(token), time.time())
    account = store.officer(username) if username else None
    if account is None or account.disabled or account.role != p.Role.IT_ADMIN.value:
        return None
    return account.username


def same_origin(request: web.Request) -> bool:
    """Browsers send Origin on POST; it must be this server (SameSite=Strict is the first line)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    allowed = set(getattr(request.app[CONFIG].server, "allowed_origins", []) or [])
    parts = urlsplit(origin)
    return parts.netloc == request.host or origin in allowed


def _it_page(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        user = _session_user(request)
        if user is None:
            raise web.HTTPSeeOther("/it/login")
        request[IT_USER] = user
        return await handler(request)

    return wrapped


def _it_api(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        user = _session_user(request)
        if user is None:
            return _json({"error": "sign in as an IT administrator"}, status=401)
        if request.method != "GET" and not same_origin(request):
            return _json({"error": "cross-origin request refused"}, status=403)
        request[IT_USER] = user
        return await handler(request)

    return wrapped


async def _login_page(request: web.Request) -> web.StreamResponse:
    return _file("login.html", IT_CSP)


async def _login(request: web.Request) -> web.StreamResponse:
    if not same_origin(request):
        return _json({"error": "cross-origin request refused"}, status=403)
    monitor = request.app[MONITOR]
    form = await request.post()
    username, password = str(form.get("username", ""))[:64], str(form.get("password", ""))[:200]
    remote = request.remote or "?"
    if monitor.throttle.check_login(username or "?", remote) > 0:
        raise web.HTTPSeeOther("/it/login?error=locked")
    try:
        principal = await request.app[AUTHENTICATOR].authenticate(
            p.Role.IT_ADMIN, p.PasswordCredentials(username=username, password=password)
        )
    except (AuthError, ValidationError):
        monitor.throttle.login_failed(username or "?", remote)
        monitor._audit_append(
            username if _USERNAME.fullmatch(username) else "?",
            "sign_in_failed",
            "it_dashboard",
            {"remote": remote},
        )
        raise web.HTTPSeeOther("/it/login?error=1") from None
    monitor.throttle.login_succeeded(username, remote)
    monitor._audit_append(principal.identity, "sign_in", "it_dashboard", {"remote": remote})
    response = web.HTTPSeeOther("/it/")
    response.set_cookie(
        COOKIE,
        principal.session_token or "",
        httponly=True,
        samesite="Strict",
        path="/",
        secure=request.secure,
        max_age=request.app[CONFIG].server.session_ttl_s,
    )
    raise response


async def _logout(request: web.Request) -> web.StreamResponse:
    if not same_origin(request):
        return _json({"error": "cross-origin request refused"}, status=403)
    token = request.cookies.get(COOKIE)
    if token and len(token) <= 200:
        # The session row is the store's; expiring it is the only way to end it before its time.
        request.app[STORE].conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))
    response = web.HTTPSeeOther("/it/login")
    response.del_cookie(COOKIE, path="/")
    raise response


async def _redirect_to_dashboard(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/it/")


# ---------------------------------------------------------------------- dashboard


async def _dashboard_page(request: web.Request) -> web.StreamResponse:
    return _file("dashboard.html", IT_CSP)


async def _fleet(request: web.Request) -> web.StreamResponse:
    data = request.app[MONITOR].fleet()
    data["user"] = request[IT_USER]
    return _json(data)


async def _events(request: web.Request) -> web.StreamResponse:
    monitor = request.app[MONITOR]
    user = request[IT_USER]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    queue = monitor.hub.subscribe()
    try:
        fleet = monitor.fleet()
        fleet["user"] = user
        await response.write(f"event: fleet\ndata: {json.dumps(fleet, ensure_ascii=False)}\n\n".encode())
        checked = time.monotonic()
        while True:
            try:
                frame = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE_S)
            except TimeoutError:
                frame = ": keepalive\n\n"
            if frame is None:
                break
            if time.monotonic() - checked >= SSE_KEEPALIVE_S:
                checked = time.monotonic()
                if _session_user(request) != user:  # signed out, expired or demoted: the stream ends
                    break
            await response.write(frame.encode())
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        monitor.hub.unsubscribe(queue)
    return response


async def _action(request: web.Request) -> web.StreamResponse:
    monitor = request.app[MONITOR]
    kiosk_id = request.match_info["kiosk_id"]
    if request.content_type != "application/json":
        return _json({"error": "send the action as application/json"}, status=415)
    try:
        body = await request.json()
    except ValueError:
        return _json({"error": "the body is not valid JSON"}, status=400)
    action = body.get("action") if isinstance(body, dict) else None
    if action not in ACTIONS:
        return _json({"error": f"action must be one of {', '.join(ACTIONS)}"}, status=400)
    if kiosk_id not in monitor.health.kiosks:
        return _json({"error": f"unknown kiosk {kiosk_id[:64]!r}"}, status=404)
    record = monitor.send_action(request[IT_USER], kiosk_id, action)
    if record is None:
        return _json({"error": "the kiosk is not connected"}, status=409)
    return _json(record, status=202)


async def _history(request: web.Request) -> web.StreamResponse:
    monitor = request.app[MONITOR]
    kiosk_id = request.match_info["kiosk_id"]
    if kiosk_id not in monitor.health.kiosks:
        return _json({"error": f"unknown kiosk {kiosk_id[:64]!r}"}, status=404)
    try:
        days = float(request.query.get("days", "1"))
    except ValueError:
        return _json({"error": "days must be a number"}, status=400)
    if not 0 < days <= monitor.settings.retention_days:
        return _json({"error": f"days must be between 0 and {monitor.settings.retention_days:g}"}, status=400)
    since = monitor.clock() - days * 86400
    return _json(
        {
            "kiosk_id": kiosk_id,
            "history": monitor.health.history(kiosk_id, since),
            "events": monitor.health.events(kiosk_id, since),
        }
    )


async def _call_quality(request: web.Request) -> web.StreamResponse:
    summary = request.app[MONITOR].health.call_quality_summary(request.match_info["call_id"])
    if summary is None:
        return _json({"error": "no quality reports for that call"}, status=404)
    return _json(summary)


# ---------------------------------------------------------------------- metrics and board


async def _metrics(request: web.Request) -> web.StreamResponse:
    monitor = request.app[MONITOR]
    token = monitor.settings.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return web.Response(
                status=401, text="bearer token required\n", headers={"WWW-Authenticate": "Bearer"}
            )
    return web.Response(body=monitor.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def board_data(app: web.Application) -> dict[str, Any]:
    """The public wait board: departments' open state, waiting count and estimated wait. No personal data."""
    monitor = app[MONITOR]
    board = app[SWITCHBOARD]
    return {
        "generated_at": monitor.clock(),
        "city": monitor.city,
        "refresh_s": monitor.settings.board_refresh_s,
        "departments": [
            {
                "id": d.id,
                "name_ja": d.name_ja,
                "name_en": d.name_en,
                "open": d.open,
                "waiting": d.waiting,
                "ewt_s": d.ewt_s,
                "next_open": d.next_open,
            }
            for d in board.department_infos()
        ],
    }


async def _board_data(request: web.Request) -> web.StreamResponse:
    response = _json(board_data(request.app))
    response.headers["Access-Control-Allow-Origin"] = "*"  # the city website may show it
    response.headers["Cache-Control"] = "public, max-age=5"
    return response


async def _board_page(request: web.Request) -> web.StreamResponse:
    return _file("board.html", BOARD_CSP)


_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = WEB_DIR / name
    if "/" in name or name.startswith(".") or path.suffix not in _STATIC_TYPES or not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(
        body=path.read_bytes(),
        headers={
            "Content-Type": f"{_STATIC_TYPES[path.suffix]}; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _file(name: str, csp: str) -> web.Response:
    return web.Response(
        body=(WEB_DIR / name).read_bytes(),
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": csp,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )  # same-origin: browsers then send a real Origin on POST


def _json(data: Any, status: int = 200) -> web.Response:
    response = web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
