"""The family member's tile on the kiosk's call screen, rendered offscreen by the real window: a real server,
the kiosk's controller under its KioskWindow, a headless officer and the guest as a Python party (aiortc on
loopback; ``test_guest_tile.HeadlessGuest``). The tile shows the guest's video beside the officer, captioned
in the resident's language with no text clipped in any of the six; it goes, frame and all, when the guest
leaves, while the officer stays; with a sign-language interpreter the interpreter keeps the large place and
the family member is small beside. Each screen is saved under the test's tmp_path."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint

from devtools.headless import PASSWORD, connect_call, kiosk_media, start_console
from devtools.text_fit import text_problems
from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from kiosk_client.guest import GuestTile
from kiosk_client.i18n import LANGUAGES
from kiosk_client.view.in_call import InCallScreen
from kiosk_client.view.window import KioskWindow
from simulator.three_way import add_interpreter
from staff_console.interpreter import InterpreterController

from .conftest import settle
from .test_guest_tile import TIMEOUT, HeadlessGuest, guest_frames

CAPTIONS = {"ja": "ご家族", "ja-easy": "かぞく", "en": "Family member"}


def left_of(window: KioskWindow, screen: InCallScreen) -> tuple[int, int, int]:
    """The officer's video's left and right edges and the guest tile's left edge, in window coordinates."""
    officer = screen.officer_video.mapTo(window, QPoint(0, 0)).x()
    guest = screen.guest.mapTo(window, QPoint(0, 0)).x()
    return officer, officer + screen.officer_video.width(), guest


async def officer_frame(kiosk: KioskController) -> None:
    """Until the kiosk's current session with the officer has a frame (a media restart makes a new session,
    which starts with none: waited for again, each wait woken by the session's own frames)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + TIMEOUT
    while True:
        session = kiosk.party.session
        assert session is not None
        if session.remote_video.count > 0:
            return
        arrived = asyncio.Event()

        def wake(_frame: object, event: asyncio.Event = arrived) -> None:
            event.set()

        session.remote_video.listeners.append(wake)
        left = end - loop.time()
        assert left > 0, "no frame from the officer"
        try:
            with contextlib.suppress(TimeoutError):  # then re-read: the session may be a new one
                await asyncio.wait_for(arrived.wait(), min(left, 5.0))
        finally:
            session.remote_video.listeners.remove(wake)


async def render(window: KioskWindow, kiosk: KioskController, language: str, path: Path) -> None:
    kiosk.resident.language = language  # the screen in each language (the resident's choice, made before)
    await settle(window)
    window.refresh()
    # The new texts' layout is deferred work: measured before it has run, a button still has the size of
    # its text in the previous language (a false overlap of the quick replies: 1 of 6 runs of these files).
    await settle(window)
    await window.flush_video()
    assert window.grab().save(str(path)), path


async def test_the_guest_tile_shows_beside_the_officer_and_goes_when_the_guest_leaves(
    make_server, qtbot, tmp_path
):
    async with make_server() as server:
        token = server.fleet.kiosk_tokens["kiosk-ueda"]
        kiosk = KioskController(server.url, "kiosk-ueda", token, kiosk_media())
        window = KioskWindow(kiosk)
        qtbot.addWidget(window)
        window.show()
        console = await start_console(server)
        guest: HeadlessGuest | None = None
        try:
            await kiosk.start(TIMEOUT)
            await connect_call(server, kiosk, console)
            screen = window.screens["in_call"]
            assert isinstance(screen, InCallScreen)
            await settle(window)
            assert window.stack.currentWidget() is screen and screen.officer_video.isVisible()
            assert not screen.guest.isVisible()  # no family member yet: no tile

            guest = await HeadlessGuest.join(server, console)
            await guest_frames(kiosk, GuestTile(kiosk.conference), 5)
            for language in LANGUAGES:
                await render(window, kiosk, language, tmp_path / f"guest-{language}.png")
                assert screen.guest.isVisible() and screen.guest.video.isVisible()
                assert screen.guest.video.has_image, language  # the guest's camera, drawn
                if language in CAPTIONS:
                    assert CAPTIONS[language] in screen.guest.caption.text()
                assert text_problems(window) == [], language
            officer_left, officer_right, guest_left = left_of(window, screen)
            assert guest_left >= officer_right > officer_left  # beside the officer, to the right
            assert screen.officer_video.width() >= 1.8 * screen.guest.width() > 300  # the officer large, 2:1

            left = asyncio.ensure_future(kiosk.events.wait("peer_left", TIMEOUT, peer="guest"))
            await guest.leave()
            await left
            await officer_frame(kiosk)  # on a loaded machine the pair may have been rebuilt meanwhile
            await render(window, kiosk, "ja", tmp_path / "guest-left-ja.png")
            assert not screen.guest.isVisible() and not screen.guest.video.has_image
            assert screen.guest.caption.text() == ""
            assert screen.officer_video.isVisible() and screen.officer_video.has_image  # the call goes on
        finally:
            if guest is not None:
                await guest.close()
            window.shutdown()
            await asyncio.gather(kiosk.stop(), console.stop(), return_exceptions=True)


@pytest.mark.parametrize("language", ["jsl", "ne"])
async def test_with_an_interpreter_the_guest_tile_takes_its_share_and_every_text_fits(
    make_server, qtbot, tmp_path, language
):
    """Four parties on the kiosk: a sign-language interpreter keeps the large place (1 : 3 : 1); with a
    spoken-language (Nepali) interpreter the officer stays the largest (4 : 3 : 2)."""
    async with make_server() as server:
        add_interpreter(server, "mai", PASSWORD, [language])
        token = server.fleet.kiosk_tokens["kiosk-ueda"]
        kiosk = KioskController(server.url, "kiosk-ueda", token, kiosk_media())
        window = KioskWindow(kiosk)
        qtbot.addWidget(window)
        window.show()
        console = await start_console(server)
        interpreter = InterpreterController(
            server.url, "mai", PASSWORD, SimulatedMedia("interpreter", 160, 120, 15, 880.0)
        )
        guest: HeadlessGuest | None = None
        try:
            await asyncio.gather(kiosk.start(TIMEOUT), interpreter.start(TIMEOUT))
            await connect_call(server, kiosk, console)
            await interpreter.set_available()
            offered = asyncio.ensure_future(interpreter.events.wait("ring", TIMEOUT))
            joined = asyncio.ensure_future(kiosk.events.wait("peer_connected", TIMEOUT, peer="interpreter"))
            await console.interpreter.request(language)
            await offered
            await interpreter.accept()
            await joined
            guest = await HeadlessGuest.join(server, console)
            await guest_frames(kiosk, GuestTile(kiosk.conference), 5)

            screen = window.screens["in_call"]
            assert isinstance(screen, InCallScreen)
            pane, officer, family = screen.interpreter, screen.officer_video, screen.guest
            for shown in ("ja-easy", "vi"):  # vi: the longest interpreter status line with larger text
                await render(window, kiosk, shown, tmp_path / f"guest-{language}-{shown}.png")
                assert pane.isVisible() and family.isVisible() and family.video.has_image
                assert text_problems(window) == [], shown
            assert family.caption.text() != "" and pane.x() < family.x()
            if language == "jsl":
                assert pane.width() >= 2.5 * max(officer.width(), family.width())  # 1 : 3 : 1
            else:
                assert officer.width() > pane.width() > family.width()  # 4 : 3 : 2

            # The call ends with the family member still in it; the privacy reset leaves nothing of them.
            ended = asyncio.ensure_future(kiosk.events.wait("call_ended", TIMEOUT))
            await console.end_call()
            await ended
            await kiosk.reset()
            await settle(window)
            assert not kiosk.conference.links and kiosk.conference.latest_frame("guest") is None
            assert not family.isVisible() and not family.video.has_image and family.caption.text() == ""
        finally:
            if guest is not None:
                await guest.close()
            window.shutdown()
            await asyncio.gather(kiosk.stop(), console.stop(), interpreter.stop(), return_exceptions=True)
