"""The kiosk's headless controller: what the resident's touchscreen does, free of Qt.

Call states: idle (welcome) → waiting (in a queue) → connecting → in_call → finished → idle. On top of them
the controller owns the resident's path through the screens (welcome → choose → consent → preflight →
waiting → call → after-call); both move only along the tables of ``kiosk_client.flow``. Its parts each get
their collaborators when built: the in-call desk (``kiosk_client.desk``: chat, shown documents, slips, and
``kiosk_client.scanning`` for scans), remote actions (``kiosk_client.remote_actions``), the privacy timer
(``kiosk_client.idle``) and the IT exit (``kiosk_client.kiosk_mode``). The Qt view, the tests and the
simulator all drive this class; the view only renders ``KioskController`` and forwards touches to its methods.

At the end of every session ``reset()`` forgets everything of the resident (selection, queue place, call,
chat, scans, shown images, preferences); nothing of theirs is ever written to disk or to the log.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.schema import AppConfig, Audience, CityConfig, Kiosk, KioskAppConfig
from hardware.devices import KioskDevices
from kiosk_client.appointment import AppointmentCheckIn
from kiosk_client.appointment_slip import BookingSlipPrinter
from kiosk_client.desk import KioskDesk
from kiosk_client.flow import CALL_SCREENS, PATH_SCREENS, KioskFlow, KioskState, Screen
from kiosk_client.i18n import LANGUAGES, catalogs
from kiosk_client.idle import IdleTimer, Timers
from kiosk_client.kiosk_mode import ExitGesture, PinCheck
from kiosk_client.media import KioskMedia
from kiosk_client.menu import Menu, ProcedureTile
from kiosk_client.peripherals import Peripherals
from kiosk_client.progress import CallProgress
from kiosk_client.rating import CallRating
from kiosk_client.remote_actions import RemoteActions
from kiosk_client.resident import Notice, ResidentSession
from kiosk_client.sounds import CuePlayer
from remote_call import protocol as p
from remote_call.conference import call_parties
from remote_call.events import EventHub
from remote_call.party import MediaSources
from remote_call.signaling_client import ServerUrls, SignalingClient
from remote_call.tasks import BackgroundTasks

if TYPE_CHECKING:
    from remote_call.telemetry import TelemetryReporter

log = logging.getLogger(__name__)

APP_VERSION = "0.1.0"
DEPARTMENTS_FRESH_S = 15.0  # entering the choice refreshes the tiles' live status when older than this


class KioskController:
    def __init__(
        self,
        server_url: ServerUrls,  # several: a cluster's nodes, tried in rotation
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
        timers: Timers | None = None,
        telemetry: bool = True,
        **client_options: Any,
    ):
        self.kiosk_id = kiosk_id
        self.server_url = server_url
        self.events = EventHub()
        self.flow = KioskFlow(self.events, on_screen=self._screen_moved)
        self.resident = ResidentSession()
        self.departments: dict[str, p.DepartmentInfo] = {}
        self.kiosk_info: p.KioskInfo | None = None
        self.online = False
        self.config_path = Path(config_path) if config_path else None
        self._use_config(config)
        self.media = media if isinstance(media, KioskMedia) else KioskMedia(media)
        self.peripherals = peripherals or self._default_peripherals(self.media)
        self.cues = cues or CuePlayer(self.peripherals.cue_output)
        self.rating = CallRating(self._send, self._spawn, self.events)  # the closing screen's faces
        self._idle_overrides = (idle_reset_s, idle_warning_s)
        self._timers = timers  # the idle countdown's clock; None: the running loop's (tests: a manual one)
        self._warning_cued = False
        self._departments_at = 0.0
        self.idle = self._make_idle()
        self.exit_gesture = ExitGesture(self._open_service)
        self.pin = PinCheck(self.app_settings.exit_pin)
        self.service_message: str | None = None
        self.tasks = BackgroundTasks(log, "kiosk")
        self.desk = KioskDesk(
            self.events,
            lambda: self.resident,
            self.peripherals,
            self.cues,
            config=lambda: self.app_config,
            serving=lambda: (
                self.resident.call_id is not None or self.screen in (*CALL_SCREENS, Screen.AFTER_CALL)
            ),
            spawn=self.tasks.spawn,
        )
        self.client = self._make_client(token, client_options)
        self.party, self.conference = call_parties(self.client.send, self.media, self.events, desk=self.desk)
        self.remote_actions = RemoteActions(
            self._send,
            self.events,
            self.peripherals,
            self.media,
            busy=lambda: self.screen in CALL_SCREENS or self.resident.call_id is not None,
            reload_config=self.reload_config,
        )
        self.progress = CallProgress(
            self.flow,
            self.party,
            self.desk,
            self.cues,
            self.media,
            send=self._send,
            online=lambda: self.online,
            resident=lambda: self.resident,
            notify=self._notify,
            forget_call=self._forget_call_data,
        )
        # The call: preflight's "職員を呼ぶ", and the API the simulator and the tests drive.
        self.call_officer, self.request_call = self.progress.call_officer, self.progress.request_call
        self.cancel, self.end_call = self.progress.cancel, self.progress.end_call
        self.appointment = self._make_appointment()  # 予約のある方: PIN pad and QR code
        self.telemetry = self._make_telemetry() if telemetry else None
        self._server_handlers = self._make_server_handlers()
        self.events.subscribe(self.progress.on_party_event)

    def _make_client(self, token: str, options: dict[str, Any]) -> SignalingClient:
        credentials = p.DeviceTokenCredentials(kiosk_id=self.kiosk_id, token=token)
        return SignalingClient(
            self.server_url,
            lambda: p.Hello(
                v=p.PROTOCOL_VERSION, role=p.Role.KIOSK, credentials=credentials, app_version=APP_VERSION
            ),
            on_message=self._on_message,
            on_welcome=self._on_welcome,
            on_disconnect=self._on_disconnect,
            **options,
        )

    async def _send(self, message: p.Wire) -> None:
        await self.client.send(message)  # looked up at each send: tests spy on client.send

    def _use_config(self, config: AppConfig | None) -> None:
        self.app_config = config
        self.kiosk_config = self._kiosk_entry(config, self.kiosk_id)
        self.app_settings: KioskAppConfig = config.kiosk_app if config else KioskAppConfig()
        self.city: CityConfig = config.city if config else CityConfig()

    @staticmethod
    def _kiosk_entry(config: AppConfig | None, kiosk_id: str) -> Kiosk:
        if config is not None:
            with contextlib.suppress(KeyError):
                return config.kiosk(kiosk_id)
        return Kiosk(id=kiosk_id.lower() if kiosk_id else "kiosk", name=kiosk_id or "kiosk")

    @staticmethod
    def _default_peripherals(media: KioskMedia) -> Peripherals:
        inner = media.inner
        return Peripherals.from_devices(inner) if isinstance(inner, KioskDevices) else Peripherals.simulated()

    def _make_idle(self) -> IdleTimer:
        reset_s = self._idle_overrides[0] or self.app_settings.idle_reset_s
        warning_s = self._idle_overrides[1] or self.app_settings.idle_warning_s
        return IdleTimer(
            reset_s,
            min(warning_s, reset_s),
            on_tick=self._idle_tick,
            on_expire=self._idle_expired,
            on_cancel=self._idle_cancelled,
            timers=self._timers,
        )

    def _make_appointment(self) -> AppointmentCheckIn:
        return AppointmentCheckIn(
            self.flow, self.media, send=self._send, resident=lambda: self.resident, notify=self._notify,
            online=lambda: self.online, spawn=self._spawn, slips=BookingSlipPrinter(
                self.peripherals.printer, lambda: self.app_config, lambda: self.city.name_ja),
        )  # fmt: skip

    def _make_telemetry(self) -> TelemetryReporter:
        from remote_call.telemetry import TelemetryReporter

        return TelemetryReporter(
            self.client.send,
            self.device_health,
            lambda: self.party.session,
            lambda: self.party.call_id,
            heartbeat_s=self.app_settings.heartbeat_s,
            app_version=APP_VERSION,
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
        await self.tasks.cancel_and_wait()
        await self.media.stop_preview()
        await self.conference.close_all()
        await self.party.hang_up()
        self.desk.detach()
        await self.client.close()

    def _spawn(self, coro: Any, name: str) -> None:
        self.tasks.spawn(coro, name)

    # ------------------------------------------------------------------ what the resident sees

    @property
    def menu(self) -> Menu:
        return Menu(self.app_config, self.kiosk_config.audience, self.departments)

    @property
    def audience(self) -> Audience:
        return self.kiosk_config.audience

    def department_name(self, department_id: str | None, language: str | None = None) -> str:
        info = self.departments.get(department_id or "")
        if info is None:
            return department_id or ""
        lang = language or self.resident.language
        return info.name_ja if lang in ("ja", "ja-easy") else info.name_en

    def visible_procedures(self) -> list[ProcedureTile]:
        lang = self.resident.language
        names = {c: catalogs().category(lang, c) for c in self.menu.categories()}
        return self.menu.procedures(self.resident.category, self.resident.search, names)

    def wait_minutes(self) -> int | None:
        if self.resident.ewt_s is None:
            return None
        return max(1, math.ceil(self.resident.ewt_s / 60))  # rounded up, as the board and tiles do

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

    @property
    def state(self) -> KioskState:
        return self.flow.state

    @property
    def screen(self) -> Screen:
        return self.flow.screen

    def _screen_moved(self, previous: Screen, screen: Screen) -> None:
        if previous is Screen.PREFLIGHT and screen is not Screen.PREFLIGHT:
            self._spawn(self.media.stop_preview(), "stop-preview")
        self._update_idle()

    async def wait_for_state(self, state: KioskState, timeout: float) -> None:
        """For tests and the simulator: wait until the controller reaches ``state``."""
        await self.flow.wait_for_state(state, timeout)

    def _notify(self, notice: Notice | None) -> None:
        self.resident.notice = notice
        if notice is not None:
            self.cues.play("error")
        self.events.emit("notice", key=notice.key if notice else None)

    # ------------------------------------------------------------------ touches on the way to a call

    def touch(self) -> None:
        """Any touch anywhere: the resident is still there."""
        self.idle.touch()

    def choose_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}; expected one of {', '.join(LANGUAGES)}")
        self.resident.language = language
        self.resident.language_chosen = True
        self.events.emit("language", language=language)
        self.flow.set_screen(Screen.CHOOSE)
        if self.online and time.monotonic() - self._departments_at > DEPARTMENTS_FRESH_S:
            self._spawn(self.refresh_departments(), "refresh-departments")

    @property
    def departments_url(self) -> str:
        """The server's live department status (HTTP next to the websocket: wss://h/ws → https://h/api/...)."""
        base = self.client.url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
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
        self.flow.set_screen(Screen.CONSENT)

    def accept_consent(self) -> None:
        self.flow.set_screen(Screen.PREFLIGHT)
        self.media.start_preview()

    def back(self) -> None:
        if self.screen in PATH_SCREENS and self.screen is not Screen.WELCOME:
            self._notify(None)
            self.flow.set_screen(PATH_SCREENS[PATH_SCREENS.index(self.screen) - 1])

    def home(self) -> None:
        """ "はじめに戻る": a full privacy reset (outside a call)."""
        if self.screen not in CALL_SCREENS:
            self._spawn(self.reset(), "reset")

    def cancel_wait(self) -> None:
        self._spawn(self._cancel_wait(), "cancel-wait")

    async def _cancel_wait(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.cancel()
        if self.resident.call_id is None:
            await self.reset()

    # ------------------------------------------------------------------ touches in and after the call

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
        self.desk.reply(key)

    def scan_now(self) -> None:
        self.desk.scanning.scan_now()

    def cancel_scan(self) -> None:
        self.desk.scanning.cancel()

    def close_document(self, doc_id: str) -> None:
        self.desk.close_document(doc_id)

    @property
    def ratings(self) -> collections.Counter[str]:  # anonymous tallies of the closing screen's faces
        return self.rating.tallies

    def rate(self, rating: str) -> None:
        self.rating.rate(rating, first=self.resident.rating is None)
        self.resident.rating = rating
        self.events.emit("rated", rating=rating)
        self._update_idle()

    def finish(self) -> None:
        self._spawn(self.reset(), "reset")

    # ------------------------------------------------------------------ the privacy reset

    async def reset(self) -> None:
        """Forget the resident: leave any queue or call, clear every trace of them from memory, welcome."""
        if self.resident.call_id is not None:
            leave = p.CancelCall if self.state is KioskState.WAITING else p.EndCall
            with contextlib.suppress(ConnectionError):
                await self.client.send(leave(call_id=self.resident.call_id))
        await self.desk.scanning.stop()
        await self.media.stop_preview()
        await self.conference.close_all()
        await self.party.hang_up()
        self._forget_call_data()
        self.resident = ResidentSession()
        self.rating.forget()
        self.media.clear()
        self.service_message = None
        self.flow.set_state(KioskState.IDLE)
        self.flow.set_screen(Screen.WELCOME, announce=True)  # a fresh "screen" event even if already there
        self.events.emit("reset")

    def _forget_call_data(self) -> None:
        """The in-call part of the privacy reset: chat, scans, documents, partial transfers, self-view."""
        self.desk.detach()
        self.resident.end_confirm = False
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

    def _make_server_handlers(self) -> dict[type[Any], Callable[[Any], None]]:
        """The server's messages the kiosk itself handles; the others are the call's (``CallParty``)."""
        progress = self.progress.server_handlers()
        return {
            **progress,
            **self.appointment.server_handlers(progress[p.CallRefused]),
            p.RemoteAction: lambda action: self._spawn(
                self.remote_actions.handle(action), f"remote-action {action.action}"
            ),
            p.Pong: lambda _pong: None,
        }

    async def _on_message(self, message: p.Wire) -> None:
        if self.telemetry is not None:
            self.telemetry.on_message(message)
        handler = self._server_handlers.get(type(message))
        if handler is not None:
            handler(message)
        elif not await self.conference.handle(message):
            await self.party.handle(message)

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

    # ------------------------------------------------------------------ IT: the exit and the configuration

    def _open_service(self) -> None:
        if self.screen in CALL_SCREENS:
            return  # never interrupt a resident's call
        self.service_message = None
        self.flow.set_screen(Screen.SERVICE)

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

    def reload_config(self) -> tuple[bool, str]:
        if self.config_path is None:
            return False, "this kiosk was started without --config; nothing to reload"
        from config.loader import ConfigError, load_config

        try:
            config = load_config(self.config_path)
        except (ConfigError, OSError) as exc:
            return False, str(exc)
        self._use_config(config)
        self.idle.disarm()
        self.idle = self._make_idle()
        self.pin = PinCheck(self.app_settings.exit_pin)
        self._update_idle()
        self.events.emit("config_reloaded")
        return True, f"reloaded {self.config_path}"
