"""The console's business-counter screens rendered to PNG: ``python -m devtools.business_shots DIR``.

An embedded server runs in this process; the officer invites a business through the invitation dialog (the
real REST route), a headless business (``devtools.business_peer``, aiortc) opens the link, rings, shares its
screen, uploads a PDF and a renamed .exe; each screen is grabbed to DIR/NN-name.png, in Japanese and English.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from config.loader import load_config
from config.schema import AppConfig
from devtools.business_peer import BusinessPeer, join, sample_pdf
from devtools.console_shots import SUPERVISOR, Shots, _frames, _sign_in, _window
from signaling_server.auth import hash_password
from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.testing import always_open
from staff_console.controller import ConsoleController
from staff_console.view.window import ConsoleWindow

log = logging.getLogger(__name__)
TIMEOUT = 30.0
DEPARTMENT = "kenchiku-shido"
PASSWORD = "correct horse battery"


async def render_business(directory: Path, config: AppConfig) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance()
    if isinstance(app, QApplication):
        app.setQuitOnLastWindowClosed(False)
    config = always_open(config)
    config = config.model_copy(update={"server": config.server.model_copy(update={"port": 0})})
    async with EmbeddedServer(config) as server:
        provision(
            server.store, server.config, kiosk_ids=["kiosk-ueda"], officers=["hanako"], password=PASSWORD
        )
        supervised = {d.id: "primary" for d in server.config.departments if d.remote}
        server.store.add_officer(SUPERVISOR, "佐藤 監督", "supervisor", hash_password(PASSWORD), supervised)
        shots = Shots(directory)
        for language in ("ja", "en"):
            await BusinessTour(server, shots, language).run()
        return shots.written


class BusinessTour:
    def __init__(self, server: EmbeddedServer, shots: Shots, language: str):
        self.server = server
        self.shots = shots
        self.language = language

    def grab(self, widget, name: str) -> None:
        self.shots.grab(widget, f"{name}-{self.language}")

    async def run(self) -> None:
        window = _window(self.server, self.language)
        c = await _sign_in(window, "hanako")
        peer: BusinessPeer | None = None
        try:
            await self.invitation(window, c)
            peer = await join(c, DEPARTMENT, company="有限会社 盛岡設備工業", mobile=True)
            await self.ring_and_call(window, c, peer)
            await self.screen_share(window, c, peer)
            await self.upload(window, c, peer)
            await self.history(window, c)
        finally:
            if peer is not None:
                await peer.stop()
            await window.shutdown()
            window.close()

    async def invitation(self, window: ConsoleWindow, c: ConsoleController) -> None:
        window.header.invite.click()
        dialog = window.invitation_dialog
        assert dialog is not None
        dialog.department.setCurrentIndex(dialog.department.findData(DEPARTMENT))
        dialog.company.setText("株式会社みちのく設計")
        dialog.contact.setText("岩手 太郎")
        dialog.email.setText("taro@michinoku-sekkei.example.jp")
        dialog.purpose.setPlainText("確認申請の事前相談（配置図・平面図）")
        dialog.second_factor.setChecked(True)
        self.grab(dialog, "invite-form")
        dialog.create_button.click()
        await dialog.wait_for(lambda: dialog.created is not None and dialog.table.rowCount() > 0, TIMEOUT)
        self.grab(dialog, "invite-created")
        dialog.close()

    async def ring_and_call(self, window: ConsoleWindow, c: ConsoleController, peer: BusinessPeer) -> None:
        await c.set_available()
        await window.wait_until(lambda: c.officer_state == "available")
        await peer.request_call(DEPARTMENT)
        await window.wait_until(lambda: window.desk.currentWidget() is window.ring, TIMEOUT)
        self.grab(window, "ring-business")
        window.ring.accept.click()
        await window.wait_until(lambda: c.in_call, TIMEOUT)
        session = c.party.session
        assert session is not None
        await peer.ready()
        await _frames(session, 10)
        await peer.say("お世話になります。給水装置工事の申込みについてご相談です。")
        await window.wait_until(lambda: window.call.chat.count() == 1, TIMEOUT)
        window.call.stage.remote.refresh()
        window.call.stage.local.refresh()
        self.grab(window, "call-business")
        window.call.tabs.setCurrentIndex(1)
        self.grab(window, "call-business-documents")
        window.call.tabs.setCurrentIndex(0)

    async def screen_share(self, window: ConsoleWindow, c: ConsoleController, peer: BusinessPeer) -> None:
        session = c.party.session
        assert session is not None
        await peer.share_screen(True)
        await window.wait_until(lambda: window.call.stage.sharing, TIMEOUT)
        await asyncio.wait_for(session.remote_screen.first.wait(), TIMEOUT)
        stage = window.call.stage
        for view in (stage.shared_screen, stage.remote, stage.local):
            view.refresh()
        self.grab(window, "call-screen-share")
        window.call.swap.click()
        for view in (stage.shared_screen, stage.remote, stage.local):
            view.refresh()
        self.grab(window, "call-screen-share-swapped")
        await peer.share_screen(False)
        await window.wait_until(lambda: not window.call.stage.sharing, TIMEOUT)

    async def upload(self, window: ConsoleWindow, c: ConsoleController, peer: BusinessPeer) -> None:
        await peer.upload(sample_pdf(3), "配置図.pdf", doc_id="up-1")
        await window.wait_until(lambda: "up-1" in window.viewers, TIMEOUT)
        viewer = window.viewers["up-1"]
        viewer.resize(900, 1000)
        viewer.view.fit()
        self.grab(viewer, "upload-viewer")
        viewer.next_page.click()
        self.grab(viewer, "upload-viewer-page2")
        viewer.close()
        await peer.upload(b"MZ\x90\x00" + bytes(4000), "図面.pdf", doc_id="up-exe")
        await window.wait_until(lambda: "up-exe" in c.desk.failed_documents, TIMEOUT)
        window.call.tabs.setCurrentIndex(1)
        window.call.stage.remote.refresh()
        self.grab(window, "call-upload-refused")
        window.call.tabs.setCurrentIndex(2)
        self.grab(window, "call-slip-disabled")

    async def history(self, window: ConsoleWindow, c: ConsoleController) -> None:
        await c.end_call("resolved", "配置図を確認。申請書類を案内済み。")
        await window.wait_until(lambda: c.call_id is None, TIMEOUT)
        window.tabs.setCurrentWidget(window.history)
        self.grab(window, "history-business")
        supervisor = _window(self.server, self.language)
        s = await _sign_in(supervisor, SUPERVISOR, "supervisor")
        await supervisor.wait_until(lambda: s.stats is not None, TIMEOUT)
        self.grab(supervisor, "supervisor-board")
        # The business part of the board, with statistics of the shape docs/console.md asks the server for
        # (until the server sends them): a count per department and the live sessions.
        assert s.stats is not None
        sample = dict(s.stats)
        sample["departments"] = {
            dep: d | ({"business": {"waiting": 1, "in_call": 1}} if dep == DEPARTMENT else {"business": 0})
            for dep, d in s.stats.get("departments", {}).items()
        }
        sample["business_sessions"] = [
            {
                "company": "有限会社 盛岡設備工業",
                "department": DEPARTMENT,
                "state": "in_call",
                "officer": "hanako",
                "waited_s": 42.0,
                "mobile": True,
            },
            {
                "company": "株式会社みちのく設計",
                "department": DEPARTMENT,
                "state": "waiting",
                "waited_s": 75.0,
            },
        ]
        supervisor.board.refresh(sample)
        self.grab(supervisor, "supervisor-board-business-sample")
        await supervisor.shutdown()
        supervisor.close()


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync

    from staff_console.view.style import apply_style
    from staff_console.view.tasks import use_thread_pool_executor

    args = argv if argv is not None else sys.argv[1:]
    directory = Path(args[0] if args else "shots/console-business")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    apply_style(app)

    async def render() -> list[Path]:
        use_thread_pool_executor(asyncio.get_running_loop())
        return await render_business(directory, load_config())

    for path in qasync.run(render()):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
