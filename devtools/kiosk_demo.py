"""Simulated sessions for screenshots and view tests: put a server-less controller on any screen.

``demo_controller(config)`` builds a controller that never connects (departments from the config with
varied live status, one closed) and whose idle countdown runs on a manual clock (``devtools.manual_clock``):
nothing ticks unless a stage or a test moves it. ``await stage(controller, name)`` resets it and sets it up
as in a real session at that point (a call with test-pattern video both ways, a chat, a scan, a shown
document, a countdown run down by the real timer...). Nothing here touches a network, a device or the disk.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import av

from config.schema import AppConfig
from devtools.manual_clock import ManualTimers
from hardware.simulated import SimulatedMedia, TestPatternVideoTrack
from kiosk_client.controller import KioskController
from kiosk_client.desk import reply_text
from kiosk_client.flow import KioskState, Screen
from kiosk_client.media import FrameSlot
from kiosk_client.peripherals import Peripherals, PrintOutcome
from kiosk_client.resident import ScanTask
from remote_call import incall as ic
from remote_call import protocol as p
from remote_call.desk import ChatLine, ShownDocument
from remote_call.documents import sha256_hex
from signaling_server.routing.estimate import estimate_wait, wait_estimate

STAGES: tuple[str, ...] = (
    "welcome",
    "offline",
    "choose_procedure",
    "choose_category",
    "choose_department",
    "choose_closed",
    "choose_search",
    "consent",
    "preflight",
    "waiting",
    "connecting",
    "in_call_chat",
    "in_call_writing",
    "in_call_typing",
    "in_call_scan",
    "in_call_scan_done",
    "in_call_scanner_broken",
    "in_call_document",
    "in_call_end_confirm",
    "in_call_muted",
    "in_call_reconnecting",
    "after_call",
    "after_call_no_paper",
    "idle_warning",
    "service",
    "appointment",
    "appointment_refused",
    "waiting_appointment",
    "help",
)
OFFICER_NAME = "市民登録課 盛岡 花子"
CHAT_LINES = ("こんにちは。市民登録課の盛岡です。", "本人確認書類をスキャナーに置いてください。")
SCAN_PROMPT = "運転免許証またはマイナンバーカードの表面を置いてください"


class DemoSession:
    """Stands in for a CallSession on screens that show a call."""

    def __init__(self, frame: Any):
        self.remote_video = FrameSlot()
        self.remote_video.push(frame)
        self.control_handlers: list[Any] = []
        self.document_handlers: list[Any] = []
        self.documents = None
        self.documents_open = asyncio.Event()

    def send_control(self, message: dict[str, Any]) -> None:
        return None

    async def close(self) -> None:
        self.remote_video.clear()


def video_frame(label: str, width: int = 1280, height: int = 720, index: int = 40) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(
        TestPatternVideoTrack(label, width, height, 15).render(index), format="bgr24"
    )


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def sample_scan_png() -> bytes:
    from hardware.sample_form import render_form_page

    image = render_form_page(60)
    image.thumbnail((360, 360))
    return _png(image)


def sample_document_png() -> bytes:
    from hardware.receipt import Slip, render_preview

    slip = Slip(
        reception_number="A-012",
        department="市民登録課",
        message="住民票の写しはコンビニでも取れます。マイナンバーカードと暗証番号（4桁）をご用意ください。",
    )
    return _png(render_preview(slip, 384))


def demo_departments(config: AppConfig) -> dict[str, p.DepartmentInfo]:
    infos = {}
    for i, dep in enumerate(d for d in config.departments if d.remote):
        closed = dep.id == "kenko-hoken"
        waiting, free = (0 if closed else i % 4), (1 if i % 3 == 0 else 0)  # every wait state appears
        estimate = wait_estimate(open=not closed, waiting=waiting, free=free, capacity=1.0, aht_s=240.0)
        infos[dep.id] = p.DepartmentInfo(
            id=dep.id,
            name_ja=dep.name_ja,
            name_en=dep.name_en,
            open=not closed,
            waiting=waiting,
            ewt_s=None if closed else estimate_wait(waiting + 1, free, 1.0, 240.0),
            next_open="2026-11-30T08:30" if closed else None,
            wait_state=estimate.state.value,
            wait_minutes=estimate.minutes,
        )
    return infos


def demo_controller(
    config: AppConfig, kiosk_id: str = "kiosk-ueda", *, timers: ManualTimers | None = None
) -> KioskController:
    controller = KioskController(
        "ws://127.0.0.1:9/ws",
        kiosk_id,
        "demo-token-never-sent",
        SimulatedMedia("kiosk", 640, 360, 15, 440.0),
        config=config,
        peripherals=Peripherals.simulated(),
        timers=timers if timers is not None else ManualTimers(),
        telemetry=False,
    )
    controller.departments = demo_departments(config)
    controller._departments_at = float("inf")  # never ask a server for fresher figures
    controller.online = True
    return controller


async def stage(controller: KioskController, name: str, language: str = "ja") -> None:
    """Reset ``controller`` and set it up as a real session would be on screen ``name``; every move goes
    along the kiosk's transition tables (``kiosk_client.flow``), as in a real session."""
    if name not in STAGES:
        raise ValueError(f"unknown demo stage {name!r}; expected one of {', '.join(STAGES)}")
    await controller.reset()
    controller.online = name != "offline"
    c, r = controller, controller.resident
    if name in ("welcome", "offline", "help"):
        if language != "ja":
            r.language = language
        return
    if "appointment" in name:
        r.language = language
        _appointment(c, name)
        return
    c.choose_language(language)
    if name == "choose_category":
        c.set_category("住民票・戸籍")
    elif name == "choose_search":
        c.set_search("じゅうみん")
    elif name == "choose_department":
        c.set_choose_mode("department")
    elif name == "choose_closed":
        c.set_choose_mode("department")
        c.select_department("kenko-hoken")
    if name.startswith("choose"):
        return
    c.select_procedure("juminhyo")
    if name == "consent":
        return
    if name == "idle_warning":
        _count_down_to(c, 12)
        return
    if name == "service":
        c.exit_gesture.on_gesture()  # the IT corner, held
        c.service_message = "service.wrong_pin"
        return
    c.flow.set_screen(Screen.PREFLIGHT)  # without the camera: the preview shows a test frame
    if name == "preflight":
        c.media.preview.push(video_frame("KIOSK CAMERA", 640, 360))
        c.media.mic_level = 0.05
        return
    _queue(c)
    if name == "waiting":
        return
    r.officer_name = OFFICER_NAME
    if name.startswith("after_call"):
        _after_call(c, paper=name == "after_call")
        return
    c.flow.set_state(KioskState.CONNECTING)
    c.flow.set_screen(Screen.CONNECTING)
    if name == "connecting":
        return
    _in_call(c, name)


def _appointment(c: KioskController, name: str) -> None:
    """予約のある方: the pad with digits typed, a refused PIN, or checked in early, waiting for the slot."""
    c.appointment.open()
    for digit in "314":
        c.appointment.type_digit(digit)
    slot = "2026-11-25T10:30+09:00"
    handlers = c.appointment.server_handlers(lambda _refused: None)
    if name == "appointment_refused":
        refusal = p.CallRefused(department="kosodate", reason="appointment_too_early", slot_start=slot)
        handlers[p.CallRefused](refusal)
    elif name == "waiting_appointment":
        checked_in = p.AppointmentCheckedIn(
            call_id="demo-call", department="kosodate", slot_start=slot, early=True
        )
        handlers[p.AppointmentCheckedIn](checked_in)


def _queue(c: KioskController) -> None:
    r = c.resident
    r.call_id, r.position, r.ewt_s, r.requested = "demo-call", 3, 420.0, True
    c.flow.set_state(KioskState.WAITING)
    c.flow.set_screen(Screen.WAITING)


def _after_call(c: KioskController, *, paper: bool) -> None:
    r = c.resident
    r.call_id = None
    r.end_reason = "completed"
    r.slip = (
        PrintOutcome(True, "ok", "printed")
        if paper
        else PrintOutcome(False, "paper_out", "not printed: paper out")
    )
    c.flow.set_state(KioskState.FINISHED)
    c.flow.set_screen(Screen.AFTER_CALL)  # arms the after-call countdown
    _count_down_to(c, 14)


def _count_down_to(c: KioskController, seconds: int) -> None:
    """Run the idle timer's own ticks on the manual clock until the countdown shows ``seconds`` (or its
    first number, if the configured warning is shorter)."""
    timers = c.idle.timers
    if not isinstance(timers, ManualTimers):
        raise TypeError("stage() needs a demo_controller: its countdown runs on a manual clock")
    while c.idle.armed and (c.idle.seconds_left is None or c.idle.seconds_left > seconds):
        timers.run_next()


def _in_call(c: KioskController, name: str) -> None:
    r = c.resident
    c.party.session = DemoSession(video_frame("OFFICER"))  # type: ignore[assignment]
    c.party.call_id = "demo-call"
    c.media.self_view.push(video_frame("KIOSK CAMERA", 640, 360))
    scan_phrase = ic.PhraseRef(phrase_id="scan.id_front")  # a library phrase, in the resident's language
    r.chat.extend(
        [
            ChatLine("officer", CHAT_LINES[0]),  # typed by the officer: shown marked untranslated
            ChatLine("resident", reply_text(r.language, "reply.yes")),
            ChatLine(
                "officer", c.desk.phrase_text(scan_phrase) or CHAT_LINES[1], phrase_id=scan_phrase.phrase_id
            ),
        ]
    )
    c.flow.set_state(KioskState.IN_CALL)
    c.flow.set_screen(Screen.IN_CALL)
    if name == "in_call_scan":
        r.scan = ScanTask("req-1", SCAN_PROMPT)
    elif name == "in_call_scan_done":
        r.scan = ScanTask("req-1", SCAN_PROMPT, stage="done", thumbnail=sample_scan_png())
    elif name == "in_call_scanner_broken":
        r.scan = ScanTask("req-1", SCAN_PROMPT, stage="failed", error_key="scan.unavailable")
    elif name == "in_call_document":
        data = sample_document_png()
        offer = ic.DocumentOffer(
            doc_id="doc-1",
            purpose="show",
            name="guide.png",
            mime="image/png",
            size=len(data),
            sha256=sha256_hex(data),
        )
        r.shown["doc-1"] = ShownDocument(offer, data)
    elif name == "in_call_end_confirm":
        c.media.set_muted(True)
        r.end_confirm = True
    elif name == "in_call_muted":
        c.media.set_muted(True)
    elif name in ("in_call_writing", "in_call_typing"):  # 筆談: a resident who asked for it (聴覚)
        _writing(r)
    elif name == "in_call_reconnecting":  # a media restart: the call stays on screen, saying 再接続中
        c.flow.set_state(KioskState.CONNECTING)


def _writing(r: Any) -> None:
    r.hearing = True
    r.writing.peer_draft = "印鑑はお持ちですか"
    r.writing.own_draft = "いんかん"
    r.writing.page.add("resident", 0, [(0.2 + i * 0.01, 0.3 + i * 0.012) for i in range(20)], True)
    r.writing.page.add("resident", 1, [(0.5, 0.25 + i * 0.025) for i in range(20)], True)
    r.writing.page.add("officer", 0, [(0.65 + i * 0.012, 0.6 - i * 0.01) for i in range(20)], True)


def view_stage(window: Any, name: str) -> None:
    """What a stage shows that lives in the view alone: the search keyboard open, the help panel, the 筆談
    keyboard."""
    window.screens["choose"].show_keyboard(name == "choose_search")
    window.screens["in_call"].writing.show_keyboard(name == "in_call_typing")
    if name == "help":
        window.help.show()
    else:
        window.help.hide()
    window.refresh()
