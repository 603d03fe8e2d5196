"""``python -m devtools.facts_shots DIR``: the console screens of issue 15 item 6 and 8 rendered to PNG.

A real call (embedded server, headless kiosk, the real console window): the call with the caller labels
above the video, the end button and the transfer list with each department's officers free / busy; the
same call during a media restart (再接続中); the wrap-up form after the resident hung up mid-note; the
supervisor board with the residents' ratings. Offscreen; nothing here is part of the product.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from PySide6.QtWidgets import QWidget

from devtools.console_shots import TIMEOUT, Shots, _frames, _sign_in, _window
from devtools.headless import PASSWORD, start_kiosk
from devtools.qt_settle import settle
from devtools.screenshots import _application, load
from kiosk_client.flow import KioskState
from remote_call import protocol as p
from signaling_server.auth import hash_password
from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.testing import always_open
from staff_console.view.window import ConsoleWindow


async def render(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    config = always_open(load(None))
    config = config.model_copy(update={"server": config.server.model_copy(update={"port": 0})})
    shots = Shots(directory)
    async with EmbeddedServer(config) as server:
        server.fleet = provision(  # type: ignore[attr-defined]  # as devtools.console_shots does
            server.store, config, kiosk_ids=["kiosk-ueda"], officers=["hanako", "jiro"], password=PASSWORD
        )
        boss = {d.id: "primary" for d in config.departments if d.remote}
        server.store.add_officer("sato", "佐藤 監督", "supervisor", hash_password(PASSWORD), boss)
        jiro_window = _window(server)
        jiro = await _sign_in(jiro_window, "jiro")  # someone free in other departments: the transfer list
        await jiro.set_shift(["shimin-toroku"])
        await jiro.set_available()
        window = _window(server)
        c = await _sign_in(window, "hanako")
        await c.set_available()
        await window.wait_until(lambda: c.officer_state == "available")
        kiosk = await start_kiosk(server, "kiosk-ueda")
        try:
            await kiosk.request_call(
                "kosodate", procedure="jido-teate-nintei", language="vi", accessibility=["hearing"]
            )
            await window.wait_until(lambda: window.desk.currentWidget() is window.ring)
            shots.grab(window, "ring-buttons")
            window.ring.accept.click()
            await window.wait_until(lambda: c.in_call and c.stats is not None)
            await _frames(c.party.session, 10)
            await c.desk.send_chat("こんにちは。子育てあんしん課です。")
            _open_tab(window, window.call.transfer_to)
            window.call.transfer_to.showPopup()
            window.call.stage.remote.refresh()
            shots.grab(window, "call-labels-end-transfer")
            window.call.transfer_to.hidePopup()
            shots.grab(window.call.transfer_to.view().window(), "transfer-list")
            window.call.tabs.setCurrentIndex(0)
            await kiosk.client.send(p.RestartMedia(call_id=c.call_id or ""))
            await window.wait_until(lambda: c.reconnecting)
            shots.grab(window, "call-reconnecting")
            await window.wait_until(lambda: c.in_call and not c.reconnecting)
            _open_tab(window, window.call.end_button)
            window.call.outcome_buttons["visit_city_hall"].setChecked(True)
            window.call.end_notes.setPlainText("必要書類を案内。来庁予約を")
            await kiosk.end_call()
            await window.wait_until(lambda: window.desk.currentWidget() is window.wrap_up)
            window.wrap_up.notes.insertPlainText("取る予定")
            await window.runner.settle()  # the hold is sent: wrap-up stands still
            window.wrap_up.refresh(c)
            window.header.refresh(c)
            await settle(window)  # the header's layout takes the longer text before the grab
            shots.grab(window, "wrap-up-form")
            window.wrap_up.record.click()
            await window.wait_until(lambda: c.wrap.owed is None)
            await kiosk.wait_for_state(KioskState.FINISHED, TIMEOUT)
            kiosk.rate("good")
            supervisor = _window(server)
            s = await _sign_in(supervisor, "sato", "supervisor")
            await supervisor.wait_until(
                lambda: bool(s.stats and s.stats["departments"]["kosodate"].get("ratings")), TIMEOUT
            )
            shots.grab(supervisor, "supervisor-ratings")
            await supervisor.shutdown()
        finally:
            await kiosk.stop()
            await window.shutdown()
            await jiro_window.shutdown()
    return shots.written


def _open_tab(window: ConsoleWindow, inside: QWidget) -> None:
    tab = inside.parentWidget()
    assert tab is not None
    window.call.tabs.setCurrentWidget(tab)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync

    from staff_console.view.style import apply_style
    from staff_console.view.tasks import use_thread_pool_executor

    apply_style(_application("madoguchi-console"))

    async def run() -> list[Path]:
        use_thread_pool_executor(asyncio.get_running_loop())
        return await render(Path(sys.argv[1] if len(sys.argv) > 1 else "var/shots/facts"))

    for path in qasync.run(run()):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
