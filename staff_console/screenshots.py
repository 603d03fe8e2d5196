"""``madoguchi-console --screenshots DIR``: every screen rendered to PNG with a real simulated call.

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
from remote_call import incall as ic
from signaling_server.auth import hash_password
from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.testing import always_open
from staff_console.controller import ConsoleController
from staff_console.directory import Directory
from staff_console.i18n import Messages
from staff_console.samples import form_page, png_bytes
from staff_console.testing import PASSWORD, KioskInbox, console_media, start_kiosk
from staff_console.view.ringer import Ringer
from staff_console.view.window import ConsoleWindow

log = logging.getLogger(__name__)
TIMEOUT = 30.0
SUPERVISOR = "sato"


class Shots:
    def __init__(self, directory: Path):
        self.directory = directory
        self.written: list[Path] = []

    def grab(self, widget: QWidget, name: str) -> None:
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

    window = ConsoleWindow(Messages(language, strict=True), server_url=server.url,
                           directory=Directory(server.config), make_controller=make,
                           ringer=Ringer(use_sound_device=False))
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


async def render_all(directory: Path, config: AppConfig) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance()
    if app is not None:  # closing the intermediate windows must not end the event loop
        app.setQuitOnLastWindowClosed(False)  # type: ignore[attr-defined]
    shots = Shots(directory)
    config = always_open(config)
    config = config.model_copy(update={"server": config.server.model_copy(update={"port": 0})})
    async with EmbeddedServer(config) as server:
        server.fleet = provision(server.store, config, kiosk_ids=["kiosk-ueda", "kiosk-tonan"],
                                 officers=["hanako", "jiro"], password=PASSWORD)
        server.store.add_officer(SUPERVISOR, "佐藤 監督", "supervisor", hash_password(PASSWORD), {})
        english = _window(server, "en")
        english.sign_in.username.setText("hanako")
        shots.grab(english, "sign-in-en")
        english.close()
        window = _window(server)
        window.sign_in.username.setText("hanako")
        shots.grab(window, "sign-in")
        c = await _sign_in(window, "hanako")
        await c.set_shift([d for d in c.skills if d in ("kosodate", "shimin-toroku", "kenko-hoken")])
        await c.set_available()
        await window.wait_until(lambda: c.officer_state == "available")
        shots.grab(window, "desk-available")
        await c.set_away("meeting")
        await window.wait_until(lambda: c.officer_state == "away")
        shots.grab(window, "desk-away")
        await c.set_available()
        await window.wait_until(lambda: c.officer_state == "available")

        kiosk = await start_kiosk(server, "kiosk-tonan")
        waiting = await start_kiosk(server, "kiosk-ueda")
        try:
            await kiosk.request_call("kosodate", procedure="jido-teate-nintei", language="vi",
                                     accessibility=["hearing", "large_text"])
            await window.wait_until(lambda: window.desk.currentWidget() is window.ring)
            shots.grab(window, "ring")
            window.ring.accept.click()
            await window.wait_until(lambda: c.in_call)
            session = c.party.session
            assert session is not None and kiosk.party.session is not None
            await asyncio.wait_for(kiosk.party.session.channel_open.wait(), TIMEOUT)
            await _frames(session, 10)
            inbox = KioskInbox(kiosk)
            await c.desk.send_chat("こんにちは。子育てあんしん課の盛岡です。")
            inbox.send(ic.Chat(id="r1", text="児童手当の申請をしたいです。", sender="resident"))
            await window.wait_until(lambda: window.call.chat.count() == 2)
            window.call.chat_input.setText("本人確認書類をお持ちですか？")
            window.call.stage.remote.refresh()
            window.call.stage.local.refresh()
            shots.grab(window, "call-chat")

            request_id = await c.desk.request_scan("本人確認書類を置いてください")
            await inbox.expect(ic.ScanRequest)
            scan = png_bytes(form_page(1240, 1754, sample_stamp=False, seed_text="scan 150 dpi"))
            await asyncio.wait_for(inbox.session.documents_open.wait(), TIMEOUT)
            from remote_call.documents import send_document, sha256_hex

            offer = ic.DocumentOffer(doc_id="scan-1", purpose="scan", request_id=request_id,
                                     name="申請書.png", mime="image/png", size=len(scan),
                                     sha256=sha256_hex(scan), width=1240, height=1754, dpi=150)
            assert inbox.session.documents is not None
            await send_document(inbox.session.documents, offer, scan)
            await window.wait_until(lambda: "scan-1" in window.viewers)
            viewer = window.viewers["scan-1"]
            viewer.resize(900, 1000)
            viewer.view.fit()
            shots.grab(viewer, "scan-viewer")
            viewer.view.set_scale(0.6)
            viewer.view.rotate_by(90)
            shots.grab(viewer, "scan-viewer-rotated")
            viewer.save_button.click()
            await window.runner.settle()
            shots.grab(viewer, "scan-viewer-saved")
            viewer.close()
            window.call.sample_shown.emit()
            await window.runner.settle()
            shown = next(iter(c.desk.shown))
            inbox.send(ic.DocumentReceived(doc_id=shown, ok=True))
            await window.wait_until(lambda: bool(c.desk.shown[shown].delivered))
            window.call.tabs.setCurrentIndex(1)
            window.call.stage.remote.refresh()
            shots.grab(window, "call-documents")

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
            shots.grab(window, "call-slip")

            window.call.tabs.setCurrentIndex(3)
            window.call.transfer_to.setCurrentIndex(max(0, window.call.transfer_to.findData("shimin-toroku")))
            window.call.transfer_note.setPlainText("児童手当の申請。住民票の写しも必要とのこと。")
            shots.grab(window, "call-transfer")

            window.call.tabs.setCurrentIndex(4)
            window.call.outcome_buttons["appointment_made"].setChecked(True)
            window.call.end_notes.setPlainText("12月3日10時に来庁予約。必要書類は控えで案内済み。")
            shots.grab(window, "call-end")

            # a warm transfer: hanako stays with the resident until jiro (市民登録課) answers
            second = _window(server)
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
            shots.grab(window, "call-transfer-pending")
            shots.grab(second, "ring-transferred")
            second.ring.accept.click()
            await window.wait_until(lambda: c.call_id is None and c.officer_state == "wrap_up")
            window.header.render(c)
            shots.grab(window, "desk-wrap-up")
            await second.wait_until(lambda: jiro.in_call)
            await _frames(jiro.party.session, 5)
            second.call.stage.remote.refresh()
            second.call.stage.local.refresh()
            shots.grab(second, "call-after-transfer")
            await jiro.end_call("appointment_made", "12月3日10時に来庁予約。")
            await second.wait_until(lambda: jiro.call_id is None)
            await second.shutdown()
            second.close()
            await waiting.request_call("shimin-toroku", procedure=None)
            await c.set_away("break")
            await window.wait_until(lambda: c.officer_state == "away")
            shots.grab(window, "desk-after-call")
            window.tabs.setCurrentWidget(window.history)
            shots.grab(window, "history")
            await window.wait_until(lambda: c.stats is not None)
            window.tabs.setCurrentWidget(window.board)
            shots.grab(window, "board-officer")

            supervisor = _window(server)
            s = await _sign_in(supervisor, SUPERVISOR, "supervisor")
            await supervisor.wait_until(lambda: s.stats is not None and any(
                d.get("waiting") for d in s.stats.get("departments", {}).values()), TIMEOUT)
            shots.grab(supervisor, "supervisor")
            await supervisor.shutdown()
            supervisor.close()
        finally:
            await asyncio.gather(kiosk.stop(), waiting.stop())
            await window.shutdown()
            window.close()
    return shots.written
