"""``madoguchi-screenshots console DIR``: every console screen rendered to PNG with a real simulated call.

An embedded signaling server runs in this process (no outside server), a headless kiosk with simulated
camera and microphone calls in, and the real console window is driven through sign-in, ring, call, scan,
slip, transfer, end, wrap-up, history and the supervisor board; each screen is grabbed to DIR/NN-name.png.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

from config.schema import AppConfig
from devtools.headless import PASSWORD, KioskInbox, console_media, start_kiosk
from devtools.text_fit import text_problems
from kiosk_client.controller import KioskController
from remote_call import incall as ic
from signaling_server.auth import hash_password
from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.testing import always_open
from staff_console.controller import ConsoleController
from staff_console.directory import Directory
from staff_console.i18n import Messages
from staff_console.samples import form_page, png_bytes
from staff_console.view.ringer import Ringer
from staff_console.view.style import apply_style
from staff_console.view.window import ConsoleWindow

log = logging.getLogger(__name__)
TIMEOUT = 30.0
SUPERVISOR = "sato"


class Shots:
    """Writes each screen to a PNG and checks its text fits (``devtools.text_fit``): ``problems`` lists
    every label or button whose text is clipped, elided or sticks out, by screen."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.written: list[Path] = []
        self.problems: list[str] = []

    def grab(self, widget: QWidget, name: str) -> None:
        self.problems += [f"{name}: {problem}" for problem in text_problems(widget)]
        path = self.directory / f"{len(self.written) + 1:02d}-{name}.png"
        if not widget.grab().save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        self.written.append(path)


async def _frames(session, count: int) -> None:
    got = asyncio.Event()

    def listener(_frame) -> None:
        if session.remote_video.count >= count:
            got.set()

    session.remote_video.listeners.append(listener)
    try:
        if session.remote_video.count < count:
            await asyncio.wait_for(got.wait(), TIMEOUT)
    finally:
        session.remote_video.listeners.remove(listener)


def _window(server: EmbeddedServer, language: str = "ja") -> ConsoleWindow:
    def make(user: str, password: str, role: str) -> ConsoleController:
        return ConsoleController(server.url, user, password, console_media(), role=role, config=server.config)

    window = ConsoleWindow(
        Messages(language, strict=True),
        server_url=server.url,
        directory=Directory(server.config),
        make_controller=make,
        ringer=Ringer(use_sound_device=False),
    )
    window.resize(1440, 900)
    window.show()
    return window


async def _sign_in(window: ConsoleWindow, username: str, role: str = "officer") -> ConsoleController:
    window.sign_in.username.setText(username)
    window.sign_in.password.setText(PASSWORD)
    window.sign_in.role.setCurrentIndex(window.sign_in.role.findData(role))
    window.sign_in.button.click()
    await window.runner.settle()
    assert window.controller is not None
    return window.controller


async def render_all(directory: Path, config: AppConfig, problems: list[str] | None = None) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance()
    if isinstance(app, QApplication):  # closing the intermediate windows must not end the event loop
        app.setQuitOnLastWindowClosed(False)
        apply_style(app)  # the console's own look, whatever ran before in this process
    config = always_open(config)
    config = config.model_copy(update={"server": config.server.model_copy(update={"port": 0})})
    async with EmbeddedServer(config) as server:
        tour = Tour(server, Shots(directory))
        await tour.run()
        if problems is not None:
            problems += tour.shots.problems
        return tour.shots.written


class Tour:
    """The officer's day in screens: sign-in, the desk, a ring, a call with every tab, a warm transfer,
    wrap-up, history, the board and the supervisor's view."""

    def __init__(self, server: EmbeddedServer, shots: Shots):
        self.server = server
        self.shots = shots
        server.fleet = provision(
            server.store,
            server.config,
            kiosk_ids=["kiosk-ueda", "kiosk-tonan"],
            officers=["hanako", "jiro"],
            password=PASSWORD,
        )
        supervised = {d.id: "primary" for d in server.config.departments if d.remote}  # sees only these
        server.store.add_officer(SUPERVISOR, "佐藤 監督", "supervisor", hash_password(PASSWORD), supervised)

    async def run(self) -> None:
        english = _window(self.server, "en")
        english.sign_in.username.setText("hanako")
        self.shots.grab(english, "sign-in-en")
        english.close()
        window = _window(self.server)
        window.sign_in.username.setText("hanako")
        self.shots.grab(window, "sign-in")
        c = await _sign_in(window, "hanako")
        await self.desk(window, c)
        kiosk = await start_kiosk(self.server, "kiosk-tonan")
        waiting = await start_kiosk(self.server, "kiosk-ueda")
        try:
            inbox = await self.ring_and_answer(window, c, kiosk)
            await self.chat(window, c, inbox)
            await self.scan(window, c, inbox)
            await self.documents_and_slip(window, c, inbox)
            self.transfer_and_end_tabs(window)
            await self.warm_transfer(window, c)
            await waiting.request_call("shimin-toroku", procedure=None)
            await self.after_call(window, c)
            await self.supervisor()
        finally:
            await asyncio.gather(kiosk.stop(), waiting.stop())
            await window.shutdown()
            window.close()

    async def desk(self, window: ConsoleWindow, c: ConsoleController) -> None:
        await c.set_shift([d for d in c.skills if d in ("kosodate", "shimin-toroku", "kenko-hoken")])
        await c.set_available()
        await window.wait_until(lambda: c.officer_state == "available")
        self.shots.grab(window, "desk-available")
        await c.set_away("meeting")
        await window.wait_until(lambda: c.officer_state == "away")
        self.shots.grab(window, "desk-away")
        await c.set_available()
        await window.wait_until(lambda: c.officer_state == "available")

    async def ring_and_answer(
        self, window: ConsoleWindow, c: ConsoleController, kiosk: KioskController
    ) -> KioskInbox:
        await kiosk.request_call(
            "kosodate", procedure="jido-teate-nintei", language="vi", accessibility=["hearing", "large_text"]
        )
        await window.wait_until(lambda: window.desk.currentWidget() is window.ring)
        self.shots.grab(window, "ring")
        window.ring.accept.click()
        await window.wait_until(lambda: c.in_call)
        session = c.party.session
        assert session is not None and kiosk.party.session is not None
        await asyncio.wait_for(kiosk.party.session.channel_open.wait(), TIMEOUT)
        await _frames(session, 10)
        return KioskInbox(kiosk)

    async def chat(self, window: ConsoleWindow, c: ConsoleController, inbox: KioskInbox) -> None:
        await c.desk.send_chat("こんにちは。子育てあんしん課の盛岡です。")
        inbox.send(ic.Chat(id="r1", text="児童手当の申請をしたいです。", sender="resident"))
        await window.wait_until(lambda: window.call.chat.count() == 2)
        window.call.chat_input.setText("本人確認書類をお持ちですか？")
        window.call.stage.remote.refresh()
        window.call.stage.local.refresh()
        self.shots.grab(window, "call-chat")

    async def scan(self, window: ConsoleWindow, c: ConsoleController, inbox: KioskInbox) -> None:
        request_id = await c.desk.request_scan("本人確認書類を置いてください")
        await inbox.expect(ic.ScanRequest)
        scan = png_bytes(form_page(1240, 1754, sample_stamp=False, seed_text="scan 150 dpi"))
        await inbox.send_scan(scan, request_id, name="申請書.png", width=1240, height=1754, dpi=150)
        await window.wait_until(lambda: "scan-1" in window.viewers)
        viewer = window.viewers["scan-1"]
        viewer.resize(900, 1000)
        viewer.view.fit()
        self.shots.grab(viewer, "scan-viewer")
        viewer.view.set_scale(0.6)
        viewer.view.rotate_by(90)
        self.shots.grab(viewer, "scan-viewer-rotated")
        viewer.save_button.click()
        await window.runner.settle()
        self.shots.grab(viewer, "scan-viewer-saved")
        viewer.close()

    async def documents_and_slip(
        self, window: ConsoleWindow, c: ConsoleController, inbox: KioskInbox
    ) -> None:
        window.call.sample_shown.emit()
        await window.runner.settle()
        shown = next(iter(c.desk.shown))
        inbox.send(ic.DocumentReceived(doc_id=shown, ok=True))
        await window.wait_until(lambda: bool(c.desk.shown[shown].delivered))
        window.call.tabs.setCurrentIndex(1)
        window.call.stage.remote.refresh()
        self.shots.grab(window, "call-documents")

        window.call.tabs.setCurrentIndex(2)
        window.call.slip_message.setPlainText("本日はご利用ありがとうございました。")
        window.call.slip_items.setPlainText("印鑑\n本人確認書類\n振込先口座がわかるもの")
        window.call.slip_next.setPlainText("書類をそろえて子育てあんしん課（本庁舎2階）へ。")
        window.call.slip_qr.setText("https://www.city.morioka.iwate.jp/")
        window.call.slip_button.click()
        await window.runner.settle()
        slip = await inbox.expect(ic.PrintSlip)
        inbox.send(ic.PrintResult(slip_id=slip.slip_id, ok=True, printer_status="ok"))
        await window.wait_until(lambda: c.desk.slips[slip.slip_id].result is not None)
        self.shots.grab(window, "call-slip")

    def transfer_and_end_tabs(self, window: ConsoleWindow) -> None:
        window.call.tabs.setCurrentIndex(3)
        window.call.transfer_to.setCurrentIndex(max(0, window.call.transfer_to.findData("shimin-toroku")))
        window.call.transfer_note.setPlainText("児童手当の申請。住民票の写しも必要とのこと。")
        self.shots.grab(window, "call-transfer")
        window.call.tabs.setCurrentIndex(4)
        window.call.outcome_buttons["appointment_made"].setChecked(True)
        window.call.end_notes.setPlainText("12月3日10時に来庁予約。必要書類は控えで案内済み。")
        self.shots.grab(window, "call-end")

    async def warm_transfer(self, window: ConsoleWindow, c: ConsoleController) -> None:
        """hanako stays with the resident until jiro (市民登録課) answers."""
        second = _window(self.server)
        jiro = await _sign_in(second, "jiro")
        await jiro.set_shift(["shimin-toroku"])
        await jiro.set_available()
        await second.wait_until(lambda: jiro.officer_state == "available")
        window.call.tabs.setCurrentIndex(3)
        window.call.transfer_warm.setChecked(True)
        window.call.transfer_button.click()
        await window.wait_until(lambda: c.transfer is not None)
        await second.wait_until(lambda: second.desk.currentWidget() is second.ring)
        window.call.stage.remote.refresh()
        self.shots.grab(window, "call-transfer-pending")
        self.shots.grab(second, "ring-transferred")
        second.ring.accept.click()
        await window.wait_until(lambda: c.call_id is None and c.officer_state == "wrap_up")
        window.header.refresh(c)
        self.shots.grab(window, "desk-wrap-up")
        await second.wait_until(lambda: jiro.in_call)
        await _frames(jiro.party.session, 5)
        second.call.stage.remote.refresh()
        second.call.stage.local.refresh()
        self.shots.grab(second, "call-after-transfer")
        await jiro.end_call("appointment_made", "12月3日10時に来庁予約。")
        await second.wait_until(lambda: jiro.call_id is None)
        await second.shutdown()
        second.close()

    async def after_call(self, window: ConsoleWindow, c: ConsoleController) -> None:
        await c.set_away("break")
        await window.wait_until(lambda: c.officer_state == "away")
        self.shots.grab(window, "desk-after-call")
        window.tabs.setCurrentWidget(window.history)
        self.shots.grab(window, "history")
        await window.wait_until(lambda: c.stats is not None)
        window.tabs.setCurrentWidget(window.board)
        self.shots.grab(window, "board-officer")

    async def supervisor(self) -> None:
        supervisor = _window(self.server)
        s = await _sign_in(supervisor, SUPERVISOR, "supervisor")
        await supervisor.wait_until(
            lambda: (
                s.stats is not None and any(d.get("waiting") for d in s.stats.get("departments", {}).values())
            ),
            TIMEOUT,
        )
        self.shots.grab(supervisor, "supervisor")
        await supervisor.shutdown()
        supervisor.close()
