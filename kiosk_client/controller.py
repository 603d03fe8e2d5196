"""The kiosk's headless controller: what the resident's touchscreen does, free of Qt.

Call states: idle (welcome) → waiting (in a queue) → connecting → in_call → finished → idle. On top of them
the controller owns the resident's path through the screens (welcome → choose → consent → preflight →
waiting → call → after-call), the in-call features (chat, scans, documents the officer shows, slips), the
privacy timer and the IT exit. The Qt view, the tests and the simulator all drive this class; the view
only renders ``KioskController`` and forwards touches to its methods.

At the end of every session ``reset()`` forgets everything of the resident (selection, queue place, call,
chat, scans, shown images, preferences); nothing of theirs is ever written to disk or to the log.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from config.schema import AppConfig, Audience, CityConfig, Kiosk, KioskAppConfig
from hardware.devices import KioskDevices
from kiosk_client.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalogs
from kiosk_client.idle import IdleTimer
from kiosk_client.kiosk_mode import ExitGesture, PinCheck
from kiosk_client.media import KioskMedia
from kiosk_client.menu import Menu
from kiosk_client.peripherals import (
    DeviceUnavailable,
    Peripherals,
    PrintOutcome,
    ScannedPage,
)
from kiosk_client.sounds import CuePlayer
from remote_call import protocol as p
from remote_call.documents import DocumentReceiver, send_document, sha256_hex
from remote_call.events import EventHub
from remote_call.incall import (
    Chat,
    DocumentOffer,
    DocumentReceived,
    DocumentWithdrawn,
    InCallError,
    PrintResult,
    PrintSlip,
    ScanRequest,
    ScanStatus,
    incall_dict,
    parse_incall,
)
from remote_call.party import CallParty, MediaSources
from remote_call.signaling_client import SignalingClient

log = logging.getLogger(__name__)

APP_VERSION = "0.1.0"
CANNED_REPLIES = ("reply.yes", "reply.no", "reply.again", "reply.wait")
RATINGS = ("good", "ok", "bad")
SCAN_VERDICT_TIMEOUT_S = 30.0
DEPARTMENTS_FRESH_S = 15.0  # entering the choice refreshes the tiles' live status when older than this
THUMBNAIL_PX = 360


class KioskState(StrEnum):
    IDLE = "idle"
    WAITING = "waiting"
    CONNECTING = "connecting"
    IN_CALL = "in_call"
    FINISHED = "finished"


class Screen(StrEnum):
    WELCOME = "welcome"
    CHOOSE = "choose"
    CONSENT = "consent"
    PREFLIGHT = "preflight"
    WAITING = "waiting"
    CONNECTING = "connecting"
    IN_CALL = "in_call"
    AFTER_CALL = "after_call"
    SERVICE = "service"


CALL_SCREENS = (Screen.WAITING, Screen.CONNECTING, Screen.IN_CALL)


@dataclass(frozen=True)
class Notice:
    """A trouble message for the resident: a catalog key and what fills it (formatted per language)."""

    key: str
    department: str | None = None  # a department id; the view shows its name
    when: str | None = None  # ISO local time of the next opening


@dataclass
class ChatLine:
    sender: str  # "officer" or "resident"
    text: str


@dataclass
class ScanTask:
    request_id: str
    prompt: str
    stage: str = "placing"  # ScanStatus stages
    error_key: str | None = None
    thumbnail: bytes | None = None  # a small PNG of what was sent, shown to the resident until the reset


@dataclass
class ShownDocument:
    doc_id: str
    name: str
    mime: str
    data: bytes


@dataclass
class ResidentSession:
    """Everything of the current resident. Cleared by reset()."""

    department: str | None = None
    procedure: str | None = None
    language: str = DEFAULT_LANGUAGE
    language_chosen: bool = False
    accessibility: list[str] = field(default_factory=list)
    choose_mode: str = "procedure"  # or "department"
    category: str | None = None
    search: str = ""
    large_text: bool = False
    high_contrast: bool = False
    call_id: str | None = None
    requested: bool = False
    position: int | None = None
    ewt_s: float | None = None
    refused: p.CallRefused | None = None
    notice: Notice | None = None
    end_reason: str | None = None
    officer_name: str | None = None
    chat: list[ChatLine] = field(default_factory=list)
    scan: ScanTask | None = None
    shown: dict[str, ShownDocument] = field(default_factory=dict)
    slip: PrintOutcome | None = None
    end_confirm: bool = False
    rating: str | None = None

    def pristine(self) -> bool:
        return self == ResidentSession()


def _thumbnail(data: bytes) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG")
    return out.getvalue()


class KioskController:
    def __init__(
        self,
        server_url: str,
        kiosk_id: str,
        token: str,
        media: MediaSources,
        *,
        config: AppConfig | None = None,
        config_path: str | Path | None = None,
        peripherals: Peripherals | None = None,
        cues: CuePlayer | None = None,
        idle_reset_s: float | None = None,
        idle_warning_s: float | None = None,
        telemetry: bool = True,
        **client_options: Any,
    ):
        self.kiosk_id = kiosk_id
        self.server_url = server_url
        self.events = EventHub()
        self.state = KioskState.IDLE
        self.screen = Screen.WELCOME
        self.resident = ResidentSession()
        self.departments: dict[str, p.DepartmentInfo] = {}
        self.kiosk_info: p.KioskInfo | None = None
        self.online = False
        self.last_error: p.Error | None = None
        self.config_path = Path(config_path) if config_path else None
        self.app_config = config
        self.kiosk_config = self._kiosk_entry(config, kiosk_id)
        self.app_settings: KioskAppConfig = config.kiosk_app if config else KioskAppConfig()
        self.city: CityConfig = config.city if config else CityConfig()
        self.media = media if isinstance(media, KioskMedia) else KioskMedia(media)
        inner = self.media.inner
        if peripherals is None:
            peripherals = (
                Peripherals.from_devices(inner)
                if isinstance(inner, KioskDevices)
                else Peripherals.simulated()
            )
        self.peripherals = peripherals
        self.cues = cues or CuePlayer(self.peripherals.cue_output)
        self.ratings: collections.Counter[str] = collections.Counter()  # anonymous tallies only
        self._idle_overrides = (idle_reset_s, idle_warning_s)
        self._warning_cued = False
        self._departments_at = 0.0
        self.idle = self._make_idle()
        self.exit_gesture = ExitGesture(self._open_service)
        self.pin = PinCheck(self.app_settings.exit_pin)
        self.service_message: str | None = None
        self._tasks: set[asyncio.Task] = set()
        self._scan_task: asyncio.Task | None = None
        self._verdicts: dict[str, asyncio.Future[DocumentReceived]] = {}
        self._receiver: DocumentReceiver | None = None
        self.client = SignalingClient(
            server_url,
            lambda: p.Hello(
                v=p.PROTOCOL_VERSION,
                role=p.Role.KIOSK,
                credentials=p.DeviceTokenCredentials(kiosk_id=kiosk_id, token=token),
                app_version=APP_VERSION,
            ),
            on_message=self._on_message,
            on_welcome=self._on_welcome,
            on_disconnect=self._on_disconnect,
            **client_options,
        )
        self.party = CallParty(self.client.send, self.media, self.events)
        self.events.subscribe(self._on_party_event)
        self.telemetry = None
        if telemetry:
            from remote_call.telemetry import TelemetryReporter

            self.telemetry = TelemetryReporter(
                self.client.send,
                self.device_health,
                lambda: self.party.session,
                lambda: self.party.call_id,
                heartbeat_s=self.app_settings.heartbeat_s,
                app_version=APP_VERSION,
            )

    @staticmethod
    def _kiosk_entry(config: AppConfig | None, kiosk_id: str) -> Kiosk:
        if config is not None:
            with contextlib.suppress(KeyError):
                return config.kiosk(kiosk_id)
        return Kiosk(id=kiosk_id.lower() if kiosk_id else "kiosk", name=kiosk_id or "kiosk")

    def _make_idle(self) -> IdleTimer:
        reset_s = self._idle_overrides[0] or self.app_settings.idle_reset_s
        warning_s = self._idle_overrides[1] or self.app_settings.idle_warning_s
        return IdleTimer(
            reset_s,
            min(warning_s, reset_s),
            on_tick=self._idle_tick,
            on_expire=self._idle_expired,
            on_cancel=self._idle_cancelled,
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self, timeout: float = 10.0) -> None:
        """Connect and wait for the welcome (raises TimeoutError / SignalingRefused)."""
        self.start_background()
        await self.client.wait_connected(timeout)

    def start_background(self) -> None:
        """Connect in the background: the welcome screen shows a trouble notice until the server answers."""
        self.client.start()
        if self.telemetry is not None:
            self.telemetry.start()

    async def stop(self) -> None:
        self.idle.disarm()
        self.exit_gesture.release()
        if self.telemetry is not None:
            await self.telemetry.stop()
        await self._cancel_tasks()
        await self.media.stop_preview()
        await self.party.hang_up()
        await self.client.close()

    def _spawn(self, coro: Any, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("kiosk task %s failed: %r", task.get_name(), task.exception())

    async def _cancel_tasks(self) -> None:
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ------------------------------------------------------------------ what the resident sees

    @property
    def menu(self) -> Menu:
        return Menu(self.app_config, self.kiosk_config.audience, self.departments)

    def department_name(self, department_id: str | None, language: str | None = None) -> str:
        info = self.departments.get(department_id or "")
        if info is None:
            return department_id or ""
        lang = language or self.resident.language
        return info.name_ja if lang in ("ja", "ja-easy") else info.name_en

    def device_unusable(self, name: str) -> bool:
        """Is this device (camera, microphone, scanner, printer...) absent or failing right now?"""
        if (name == "camera" and not self.media.camera_ok) or (
            name == "microphone" and not self.media.microphone_ok
        ):
            return True
        health = self.peripherals.health().get(name)
        return health is not None and health.status in ("error", "absent")

    def officer_frame(self) -> Any:
        """The newest video frame from the officer (None outside a call)."""
        session = self.party.session
        return session.remote_video.frame if session is not None else None

    def device_health(self) -> dict[str, Any]:
        health: dict[str, Any] = {
            "camera": {"status": "ok" if self.media.camera_ok else "error", "detail": "", "since": 0.0},
            "microphone": {
                "status": "ok" if self.media.microphone_ok else "error",
                "detail": "",
                "since": 0.0,
            },
        }
        for name, item in self.peripherals.health().items():
            health[name] = {"status": item.status, "detail": item.detail, "since": item.since}
        return health

    def _set_screen(self, screen: Screen) -> None:
        if screen is not self.screen:
            previous, self.screen = self.screen, screen
            if previous is Screen.PREFLIGHT:
                self._spawn(self.media.stop_preview(), "stop-preview")
            self.events.emit("screen", screen=screen.value)
        self._update_idle()

    def _notify(self, notice: Notice | None) -> None:
        self.resident.notice = notice
        if notice is not None:
            self.cues.play("error")
        self.events.emit("notice", key=notice.key if notice else None)

    # ------------------------------------------------------------------ touches (forwarded by the view)

    def touch(self) -> None:
        """Any touch anywhere: the resident is still there."""
        self.idle.touch()

    def choose_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}; expected one of {', '.join(LANGUAGES)}")
        self.resident.language = language
        self.resident.language_chosen = True
        self.events.emit("language", language=language)
        self._set_screen(Screen.CHOOSE)
        if self.online and time.monotonic() - self._departments_at > DEPARTMENTS_FRESH_S:
            self._spawn(self.refresh_departments(), "refresh-departments")

    @property
    def departments_url(self) -> str:
        """The server's live department status (HTTP next to the websocket: wss://h/ws → https://h/api/...)."""
        base = self.server_url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
        return base.rsplit("/", 1)[0] + "/api/departments"

    async def refresh_departments(self) -> bool:
        """Fresh open/waiting/wait-time figures for the tiles (the welcome's are from connection time)."""
        import aiohttp

        try:
            timeout = aiohttp.ClientTimeout(total=5)
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.get(self.departments_url) as response,
            ):
                response.raise_for_status()
                data = await response.json()
            infos = [p.DepartmentInfo.model_validate(item) for item in data]
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.info("department status not refreshed: %s", exc)
            return False
        self.departments = {d.id: d for d in infos}
        self._departments_at = time.monotonic()
        self.events.emit("menu", refreshed=True)
        return True

    def toggle_large_text(self) -> None:
        self.resident.large_text = not self.resident.large_text
        self.events.emit("prefs")
        self._update_idle()

    def toggle_high_contrast(self) -> None:
        self.resident.high_contrast = not self.resident.high_contrast
        self.events.emit("prefs")
        self._update_idle()

    def set_choose_mode(self, mode: str) -> None:
        if mode not in ("procedure", "department"):
            raise ValueError(f"choose mode must be 'procedure' or 'department', got {mode!r}")
        self.resident.choose_mode = mode
        self.events.emit("menu")

    def set_category(self, category: str | None) -> None:
        self.resident.category = category
        self.events.emit("menu")

    def set_search(self, text: str) -> None:
        self.resident.search = text[:100]
        self.events.emit("menu")

    def visible_procedures(self) -> list:
        lang = self.resident.language
        names = {c: catalogs().category(lang, c) for c in self.menu.categories()}
        return self.menu.procedures(self.resident.category, self.resident.search, names)

    def select_procedure(self, procedure_id: str) -> None:
        tile = self.menu.procedure(procedure_id)
        self.resident.procedure = procedure_id
        self._select(tile.department.id)

    def select_department(self, department_id: str) -> None:
        self.resident.procedure = None
        self._select(self.menu.department(department_id).id)

    def _select(self, department_id: str) -> None:
        tile = self.menu.department(department_id)
        self.resident.department = department_id
        if not tile.open:
            self._notify(Notice("trouble.closed", department_id, tile.next_open))
            return
        self._notify(None)
        self._set_screen(Screen.CONSENT)

    def accept_consent(self) -> None:
        self._set_screen(Screen.PREFLIGHT)
        self.media.start_preview()

    def back(self) -> None:
        order = [Screen.WELCOME, Screen.CHOOSE, Screen.CONSENT, Screen.PREFLIGHT]
        if self.screen in order and self.screen is not Screen.WELCOME:
            self._notify(None)
            self._set_screen(order[order.index(self.screen) - 1])

    def home(self) -> None:
        """ "はじめに戻る": a full privacy reset (outside a call)."""
        if self.screen not in CALL_SCREENS:
            self._spawn(self.reset(), "reset")

    async def call_officer(self) -> None:
        """Preflight's "職員を呼ぶ": join the department's queue."""
        if self.resident.department is None:
            raise RuntimeError("no department chosen")
        if not self.online:
            self._notify(Notice("trouble.offline"))
            return
        accessibility = [
            a
            for a, on in (
                ("large_text", self.resident.large_text),
                ("high_contrast", self.resident.high_contrast),
                ("easy_japanese", self.resident.language == "ja-easy"),
            )
            if on
        ]
        await self.media.stop_preview()
        self._notify(None)
        self.resident.requested = True
        self._set_screen(Screen.WAITING)
        try:
            await self.request_call(
                self.resident.department,
                procedure=self.resident.procedure,
                language=self.resident.language,
                accessibility=accessibility,
            )
        except (ConnectionError, RuntimeError) as exc:
            log.warning("call request failed: %s", exc)
            self.resident.requested = False
            self._set_screen(Screen.CHOOSE)
            self._notify(Notice("trouble.offline"))

    def cancel_wait(self) -> None:
        self._spawn(self._cancel_wait(), "cancel-wait")

    async def _cancel_wait(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.cancel()
        if self.resident.call_id is None:
            await self.reset()

    def request_end(self) -> None:
        self.resident.end_confirm = True
        self.events.emit("end_confirm", shown=True)

    def dismiss_end(self) -> None:
        self.resident.end_confirm = False
        self.events.emit("end_confirm", shown=False)

    def confirm_end(self) -> None:
        self.resident.end_confirm = False
        self.events.emit("end_confirm", shown=False)
        self._spawn(self.end_call(), "end-call")

    def toggle_mute(self) -> None:
        self.media.set_muted(not self.media.muted)
        self.events.emit("media", muted=self.media.muted)

    def change_volume(self, direction: int) -> None:
        self.media.step_volume(1 if direction > 0 else -1)
        self.events.emit("media", volume=self.media.volume)

    def send_reply(self, key: str) -> None:
        if key not in CANNED_REPLIES:
            raise ValueError(f"unknown canned reply {key!r}")
        lang = self.resident.language
        text = catalogs().text(lang, key)
        if lang not in ("ja", "ja-easy"):
            text = f"{text}（{catalogs().text('ja', key)}）"  # the officer reads Japanese
        self._send_incall(Chat(id=secrets.token_hex(6), text=text, sender="resident"))
        self.resident.chat.append(ChatLine("resident", text))
        self.events.emit("chat", sender="resident")

    def close_document(self, doc_id: str) -> None:
        if self.resident.shown.pop(doc_id, None) is not None:
            self.events.emit("document", doc_id=doc_id, shown=False)

    def rate(self, rating: str) -> None:
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {RATINGS}, got {rating!r}")
        if self.resident.rating is None:
            self.ratings[rating] += 1
        self.resident.rating = rating
        self.events.emit("rated", rating=rating)
        self._update_idle()

    def finish(self) -> None:
        self._spawn(self.reset(), "reset")

    # ------------------------------------------------------------------ the call (API kept for the simulator)

    async def request_call(
        self,
        department: str,
        *,
        procedure: str | None = None,
        language: str = "ja",
        accessibility: list[str] | None = None,
    ) -> None:
        if self.state is not KioskState.IDLE:
            raise RuntimeError(f"cannot request a call while {self.state.value}")
        self.resident.department = department
        self.resident.procedure = procedure
        self.resident.language = language
        self.resident.accessibility = list(accessibility or [])
        self.resident.refused = None
        await self.client.send(
            p.RequestCall(
                department=department,
                caller=p.CallerInfo(
                    procedure=procedure, language=language, accessibility=self.resident.accessibility
                ),
            )
        )

    async def cancel(self) -> None:
        if self.resident.call_id is not None:
            await self.client.send(p.CancelCall(call_id=self.resident.call_id))

    async def end_call(self) -> None:
        if self.resident.call_id is not None:
            await self.client.send(p.EndCall(call_id=self.resident.call_id))

    async def reset(self) -> None:
        """Forget the resident: leave any queue or call, clear every trace of them from memory, welcome."""
        if self.resident.call_id is not None:
            leave = p.CancelCall if self.state is KioskState.WAITING else p.EndCall
            with contextlib.suppress(ConnectionError):
                await self.client.send(leave(call_id=self.resident.call_id))
        scan, self._scan_task = self._scan_task, None
        if scan is not None:
            scan.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await scan
        await self.media.stop_preview()
        await self.party.hang_up()
        self._forget_call_data()
        self.resident = ResidentSession()
        self.media.clear()
        self.service_message = None
        self._set_state(KioskState.IDLE)
        self.screen = Screen.AFTER_CALL  # force a fresh "screen" event even if already on the welcome
        self._set_screen(Screen.WELCOME)
        self.events.emit("reset")

    def _forget_call_data(self) -> None:
        """The in-call part of the privacy reset: chat, scans, documents, partial transfers."""
        self.resident.chat.clear()
        self.resident.scan = None
        self.resident.shown.clear()
        self.resident.end_confirm = False
        if self._receiver is not None:
            self._receiver.discard_all()
            self._receiver = None
        for future in self._verdicts.values():
            future.cancel()
        self._verdicts.clear()
        self.media.self_view.clear()

    # ------------------------------------------------------------------ server messages

    async def _on_welcome(self, welcome: p.Welcome) -> None:
        self.online = True
        self.kiosk_info = welcome.kiosk
        self.departments = {d.id: d for d in welcome.departments}
        self._departments_at = time.monotonic()
        if self.resident.notice is not None and self.resident.notice.key == "trouble.offline":
            self._notify(None)
        self.events.emit("online", departments=list(self.departments))

    def _on_disconnect(self) -> None:
        self.online = False
        self.events.emit("offline")

    async def _on_message(self, message: p.Wire) -> None:
        if self.telemetry is not None:
            self.telemetry.on_message(message)
        if isinstance(message, p.Queued):
            self.resident.call_id = message.call_id
            self.resident.position = message.position
            self.resident.ewt_s = message.ewt_s
            self._set_state(KioskState.WAITING)
            if self.screen not in (Screen.CONNECTING, Screen.IN_CALL):
                self._set_screen(Screen.WAITING)
            self.events.emit("queue", position=message.position, ewt_s=message.ewt_s)
        elif isinstance(message, p.CallRefused):
            self.resident.refused = message
            self.resident.requested = False
            self.events.emit("refused", reason=message.reason, next_open=message.next_open)
            key = {
                "closed": "trouble.closed",
                "last_join_passed": "trouble.last_join_passed",
                "queue_full": "trouble.queue_full",
            }.get(message.reason, "trouble.unavailable")
            if self.screen is Screen.WAITING:
                self._set_screen(Screen.CHOOSE)
            self._notify(Notice(key, message.department, message.next_open))
        elif isinstance(message, p.Error):
            self.last_error = message
            log.warning("server error %s: %s", message.code.value, message.detail)
            self.events.emit("error", code=message.code.value, detail=message.detail)
            if (
                self.screen is Screen.WAITING
                and self.resident.call_id is None
                and message.about == "request_call"
            ):
                self.resident.requested = False
                self._set_screen(Screen.CHOOSE)
                self._notify(Notice("trouble.call_failed"))
        elif isinstance(message, p.RemoteAction):
            self._spawn(self._remote_action(message), f"remote-action {message.action}")
        elif isinstance(message, p.Pong):
            pass
        else:
            await self.party.handle(message)

    def _on_party_event(self, event: str, data: dict) -> None:
        if event == "call_connecting":
            self._attach_session()
            self.resident.officer_name = data.get("peer_name")
            self._set_state(KioskState.CONNECTING)
            self._set_screen(Screen.CONNECTING)
        elif event == "call_started":
            self._set_state(KioskState.IN_CALL)
            self._set_screen(Screen.IN_CALL)
            self.cues.play("connected")
        elif event == "call_requeued":
            self._forget_call_data()
            self._set_state(KioskState.WAITING)
            self._set_screen(Screen.WAITING)
            self._notify(Notice("trouble.requeued"))
        elif event == "call_ended" and data.get("call_id") == self.resident.call_id:
            self.resident.end_reason = data.get("reason")
            self.resident.call_id = None
            self._forget_call_data()
            self._set_state(KioskState.FINISHED)
            if self.screen in CALL_SCREENS or self.screen is Screen.AFTER_CALL:
                self.cues.play("ended")
                self._set_screen(Screen.AFTER_CALL)

    def _set_state(self, state: KioskState) -> None:
        if state is not self.state:
            self.state = state
            self.events.emit("state", state=state.value)

    async def wait_for_state(self, state: KioskState, timeout: float) -> None:
        """For tests and the simulator: wait until the controller reaches ``state``."""
        if self.state is not state:
            await self.events.wait("state", timeout, state=state.value)

    # ------------------------------------------------------------------ in-call features

    def _attach_session(self) -> None:
        session = self.party.session
        if session is None:
            return
        session.control_handlers.append(self._on_control)
        self._receiver = DocumentReceiver(self._on_document)
        session.document_handlers.append(self._receiver.feed)

    def _send_incall(self, message: Any) -> bool:
        """Send on the call's control channel; if it is not open yet, send as soon as it opens."""
        session = self.party.session
        if session is None:
            return False
        data = incall_dict(message)
        if session.channel is None or session.channel.readyState != "open":
            self._spawn(self._send_when_open(session, data), "incall-send")
            return True
        try:
            session.send_control(data)
            return True
        except RuntimeError as exc:
            log.warning("in-call message %s not sent: %s", data.get("type"), exc)
            return False

    async def _send_when_open(self, session: Any, data: dict[str, Any]) -> None:
        try:
            await asyncio.wait_for(session.channel_open.wait(), 10.0)
            if self.party.session is session:
                session.send_control(data)
        except (TimeoutError, RuntimeError) as exc:
            log.warning("in-call message %s not sent: %s", data.get("type"), exc)

    def _on_control(self, data: dict[str, Any]) -> None:
        try:
            message = parse_incall(data)
        except InCallError as exc:
            log.warning("ignored an in-call message: %s", str(exc)[:120])  # never the content
            return
        if isinstance(message, Chat):
            if message.sender == "officer":
                self.resident.chat.append(ChatLine("officer", message.text))
                self.cues.play("chat")
                self.events.emit("chat", sender="officer")
        elif isinstance(message, ScanRequest):
            self._scan_requested(message)
        elif isinstance(message, DocumentReceived):
            future = self._verdicts.get(message.doc_id)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, DocumentWithdrawn):
            self.close_document(message.doc_id)
        elif isinstance(message, PrintSlip):
            self._spawn(self._print(message), f"print {message.slip_id}")

    def _scan_stage(self, stage: str, detail: str = "", error_key: str | None = None) -> None:
        scan = self.resident.scan
        if scan is None:
            return
        scan.stage = stage
        scan.error_key = error_key
        self._send_incall(ScanStatus(request_id=scan.request_id, stage=stage, detail=detail[:2000]))  # type: ignore[arg-type]
        self.events.emit("scan", stage=stage, request_id=scan.request_id)

    def _scan_requested(self, request: ScanRequest) -> None:
        if self._scan_task is not None:
            self._scan_task.cancel()
            self._scan_task = None
        self.resident.scan = ScanTask(request.request_id, request.prompt)
        self.cues.play("scan_request")
        health = self.peripherals.scanner.health()
        if health.status in ("absent", "error"):
            self._scan_stage("failed", f"scanner {health.status}: {health.detail}", "scan.unavailable")
            self.cues.play("error")
        else:
            self._scan_stage("placing")

    def scan_now(self) -> None:
        """The resident touched "読み取る" (or "もう一度")."""
        scan = self.resident.scan
        if scan is None or scan.stage in ("scanning", "sending") or self._scan_task is not None:
            return
        self._scan_task = self._spawn(self._scan(scan), f"scan {scan.request_id}")

    def cancel_scan(self) -> None:
        scan = self.resident.scan
        if scan is None:
            return
        if self._scan_task is not None:
            self._scan_task.cancel()
            self._scan_task = None
        if scan.stage not in ("done", "failed", "cancelled"):
            self._scan_stage("cancelled")
        self.resident.scan = None
        self.events.emit("scan", stage="closed", request_id=scan.request_id)

    async def _scan(self, scan: ScanTask) -> None:
        try:
            self._scan_stage("scanning")
            try:
                page = await self.peripherals.scanner.scan()
            except DeviceUnavailable as exc:
                self._scan_stage("failed", str(exc), "scan.unavailable")
                self.cues.play("error")
                return
            self._scan_stage("sending")
            try:
                verdict = await self._send_scan(scan, page)
            except (TimeoutError, ConnectionError, RuntimeError, ValueError) as exc:
                self._scan_stage("failed", f"sending failed: {exc}", "scan.failed")
                self.cues.play("error")
                return
            if not verdict.ok:
                self._scan_stage("failed", verdict.detail, "scan.failed")
                self.cues.play("error")
                return
            scan.thumbnail = await asyncio.to_thread(_thumbnail, page.data)
            if getattr(page, "card_like", False):
                self._scan_stage("done", "card-shaped: possibly a マイナンバーカード", "scan.card_warning")
            else:
                self._scan_stage("done")
            self.cues.play("scan_done")
        finally:
            if self._scan_task is asyncio.current_task():
                self._scan_task = None

    async def _send_scan(self, scan: ScanTask, page: ScannedPage) -> DocumentReceived:
        session = self.party.session
        if session is None:
            raise ConnectionError("the call has ended")
        await asyncio.wait_for(session.documents_open.wait(), 10.0)
        if session.documents is None:
            raise ConnectionError("no documents channel")
        doc_id = f"scan-{secrets.token_hex(6)}"
        offer = DocumentOffer(
            doc_id=doc_id,
            purpose="scan",
            request_id=scan.request_id,
            name="scan.png",
            mime=page.mime,
            size=len(page.data),
            sha256=sha256_hex(page.data),  # type: ignore[arg-type]
            width=page.width,
            height=page.height,
            dpi=page.dpi,
            # Both screens warn: the back of a マイナンバーカード must not be copied or kept.
            warning="mynumber_back" if getattr(page, "card_like", False) else None,
        )
        future: asyncio.Future[DocumentReceived] = asyncio.get_running_loop().create_future()
        self._verdicts[doc_id] = future
        try:
            await send_document(session.documents, offer, page.data)
            return await asyncio.wait_for(future, SCAN_VERDICT_TIMEOUT_S)
        finally:
            self._verdicts.pop(doc_id, None)

    def _on_document(self, offer: DocumentOffer, data: bytes | None, ok: bool, detail: str) -> None:
        shown = ok and data is not None and offer.purpose == "show" and offer.mime.startswith("image/")
        if shown:
            assert data is not None
            self.resident.shown[offer.doc_id] = ShownDocument(offer.doc_id, offer.name, offer.mime, data)
            self.cues.play("document")
            self.events.emit("document", doc_id=offer.doc_id, shown=True)
        elif ok and offer.purpose == "show":
            detail = f"received, but a {offer.mime} cannot be shown on the kiosk"
        self._send_incall(DocumentReceived(doc_id=offer.doc_id, ok=ok, detail=detail[:2000]))

    async def _print(self, slip: PrintSlip) -> None:
        try:
            outcome = await self.peripherals.printer.print_slip(slip, self.city.name_ja)
        except Exception as exc:
            outcome = PrintOutcome(False, "error", f"printing failed: {exc}")
        if self.resident.call_id is not None or self.screen in (*CALL_SCREENS, Screen.AFTER_CALL):
            self.resident.slip = outcome
        self._send_incall(
            PrintResult(
                slip_id=slip.slip_id,
                ok=outcome.ok,
                printer_status=outcome.printer_status[:40],
                detail=outcome.detail[:2000],
            )
        )
        self.events.emit("print", ok=outcome.ok, printer_status=outcome.printer_status)

    # ------------------------------------------------------------------ the privacy timer

    def _update_idle(self) -> None:
        if self.screen in CALL_SCREENS:
            self.idle.disarm()
        elif self.screen is Screen.AFTER_CALL:
            # Straight to the visible countdown; a touch (e.g. the rating) gives the full time again.
            if not self.idle.armed:
                self.idle.arm(self.idle.warning_s)
        elif self.screen is Screen.WELCOME and self.resident.pristine():
            self.idle.disarm()
        elif not self.idle.armed:
            self.idle.arm()

    def _idle_tick(self, seconds: int) -> None:
        if not self._warning_cued:  # one cue when the countdown appears, not one per second
            self._warning_cued = True
            self.cues.play("warning")
        self.events.emit("idle_warning", seconds=seconds)

    def _idle_cancelled(self) -> None:
        self._warning_cued = False
        self.events.emit("idle_cancel")

    def _idle_expired(self) -> None:
        self._warning_cued = False
        self.events.emit("idle_expired")
        self._spawn(self.reset(), "idle-reset")

    # ------------------------------------------------------------------ IT: exit and remote actions

    def _open_service(self) -> None:
        if self.screen in CALL_SCREENS:
            return  # never interrupt a resident's call
        self.service_message = None
        self._set_screen(Screen.SERVICE)

    def enter_pin(self, pin: str) -> bool:
        if self.screen is not Screen.SERVICE:
            return False
        if self.pin.locked:
            self.service_message = "service.locked"
        elif self.pin.check(pin):
            self.service_message = None
            self.events.emit("exit_requested")
            return True
        else:
            self.service_message = "service.locked" if self.pin.locked else "service.wrong_pin"
        self.events.emit("service", message=self.service_message)
        return False

    def leave_service(self) -> None:
        self._spawn(self.reset(), "reset")

    async def _remote_action(self, action: p.RemoteAction) -> None:
        busy = self.screen in CALL_SCREENS or self.resident.call_id is not None
        ok, detail = True, ""
        if action.action == "selftest":
            ok, detail = await self.selftest(scan=not busy)
        elif busy:
            ok, detail = False, "a resident is being served; try again when the kiosk is idle"
        elif action.action == "reload_config":
            ok, detail = self.reload_config()
        elif action.action == "restart":
            ok, detail = True, "restarting"
        with contextlib.suppress(ConnectionError):
            await self.client.send(p.ActionResult(action_id=action.action_id, ok=ok, detail=detail[:4000]))
        self.events.emit("action_result", action_id=action.action_id, action=action.action, ok=ok)
        if action.action == "restart" and ok:
            self.events.emit("restart_requested")

    async def selftest(self, *, scan: bool = True) -> tuple[bool, str]:
        """Exercise the devices: a scan (discarded at once), the printer's status, camera and microphone."""
        results: dict[str, str] = {}
        if scan:
            try:
                page = await self.peripherals.scanner.scan()
                results["scanner"] = f"ok ({page.width}x{page.height})"
                del page
            except DeviceUnavailable as exc:
                results["scanner"] = f"error: {exc}"
        else:
            results["scanner"] = self.peripherals.scanner.health().status
        results["printer"] = await self.peripherals.printer.status()
        results["camera"] = "ok" if self.media.camera_ok else "error"
        results["microphone"] = "ok" if self.media.microphone_ok else "error"
        bad = [k for k, v in results.items() if v.startswith("error") or v in ("offline", "paper_out")]
        return not bad, json.dumps(results, ensure_ascii=False)

    def reload_config(self) -> tuple[bool, str]:
        if self.config_path is None:
            return False, "this kiosk was started without --config; nothing to reload"
        from config.loader import ConfigError, load_config

        try:
            config = load_config(self.config_path)
        except (ConfigError, OSError) as exc:
            return False, str(exc)
        self.app_config = config
        self.kiosk_config = self._kiosk_entry(config, self.kiosk_id)
        self.app_settings = config.kiosk_app
        self.city = config.city
        self.idle.disarm()
        self.idle = self._make_idle()
        self.pin = PinCheck(self.app_settings.exit_pin)
        self._update_idle()
        self.events.emit("config_reloaded")
        return True, f"reloaded {self.config_path}"

    # ------------------------------------------------------------------ misc

    @property
    def audience(self) -> Audience:
        return self.kiosk_config.audience

    def wait_minutes(self) -> int | None:
        if self.resident.ewt_s is None:
            return None
        return max(1, round(self.resident.ewt_s / 60))
