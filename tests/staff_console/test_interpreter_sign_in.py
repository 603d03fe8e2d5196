"""Interpreter mode signs in on the console's own sign-in page (issue 18): a wrong password is refused on
the page, which stays for another try; the right one gives a started controller; closing the page ends it."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt

from devtools.headless import PASSWORD, TIMEOUT
from hardware.simulated import SimulatedMedia
from simulator.three_way import add_interpreter
from staff_console.i18n import Messages
from staff_console.view.interpreter import InterpreterSignIn


def _submit(qtbot, window: InterpreterSignIn, username: str, password: str) -> None:
    window.page.username.setText(username)
    window.page.password.setText(password)
    qtbot.mouseClick(window.page.button, Qt.MouseButton.LeftButton)


async def test_a_refusal_stays_on_the_page_and_the_right_password_signs_in(server, qtbot):
    add_interpreter(server, "mai", PASSWORD, ["vi", "jsl"])
    window = InterpreterSignIn(Messages("ja", strict=True), server.url, SimulatedMedia("i", 160, 120, 5, 0.0))
    qtbot.addWidget(window)
    window.show()
    assert window.page.role.currentData() == "interpreter" and not window.page.role.isEnabled()
    running = asyncio.ensure_future(window.run())
    _submit(qtbot, window, "mai", "wrong password")
    await asyncio.wait_for(window.refused.wait(), TIMEOUT)
    assert window.page.error.text().startswith("サインインできません: "), window.page.error.text()
    assert not running.done() and window.isVisible() and window.page.password.text() == ""
    _submit(qtbot, window, "mai", PASSWORD)
    controller = await asyncio.wait_for(running, TIMEOUT)
    try:
        assert controller is not None and controller.online and controller.languages == ["jsl", "vi"]
        assert not window.isVisible()
    finally:
        if controller is not None:
            await controller.stop()


async def test_closing_the_page_ends_interpreter_mode(server, qtbot):
    window = InterpreterSignIn(Messages("en", strict=True), server.url, SimulatedMedia("i", 160, 120, 5, 0.0))
    qtbot.addWidget(window)
    window.show()
    running = asyncio.ensure_future(window.run())
    window.close()  # before run() even started: it must still end
    assert await asyncio.wait_for(running, TIMEOUT) is None
    window = InterpreterSignIn(Messages("en", strict=True), server.url, SimulatedMedia("i", 160, 120, 5, 0.0))
    qtbot.addWidget(window)
    window.show()
    running = asyncio.ensure_future(window.run())
    _submit(qtbot, window, "nobody", "x")  # a refusal first, then the page is closed while it shows
    await asyncio.wait_for(window.refused.wait(), TIMEOUT)
    window.close()
    assert await asyncio.wait_for(running, TIMEOUT) is None
