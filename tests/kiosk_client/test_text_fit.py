"""No text on any kiosk screen is elided, clipped, overflowing its box or drawn over another text: every
stage of the demo in the six languages, with normal text in the normal theme and with larger text in the
high-contrast theme, on the 1920x1080 kiosk, and the screens whose layout is tightest on a 1280x800 kiosk
(the top bar with all its buttons, the procedure tiles, the PIN pad under a notice), checked over the
rendered widgets (``devtools.text_fit``) — and the check does find text that overflows or overlaps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from PySide6.QtWidgets import QPushButton, QWidget

from devtools.kiosk_demo import STAGES, stage, view_stage
from devtools.text_fit import text_problems
from kiosk_client.i18n import LANGUAGES, catalogs
from kiosk_client.view.theme import Theme
from kiosk_client.view.widgets import label

from .conftest import settle

LONG = "住民票の写しの交付を申し込みたいときは、職員にお伝えください。"


def _placed(qtbot, widget: QWidget, x: int, y: int, w: int, h: int, parent: QWidget) -> QWidget:
    widget.setParent(parent)
    widget.setGeometry(x, y, w, h)
    widget.show()
    return widget


def test_the_check_reports_text_that_does_not_fit(qtbot):
    window = QWidget()
    window.setStyleSheet(
        Theme.make(high_contrast=False, large_text=False, min_touch_px=61, screen_height_px=1080).stylesheet()
    )
    qtbot.addWidget(window)
    window.resize(1200, 800)
    fits = _placed(qtbot, label(LONG), 0, 0, 1100, 120, window)
    fits.setObjectName("fits")
    too_low = _placed(qtbot, label(LONG), 0, 130, 300, 40, window)  # wraps to 3 lines in 40 px
    too_low.setObjectName("too-low")
    too_narrow = _placed(qtbot, label("Certificate of residence", wrap=False), 0, 180, 120, 60, window)
    too_narrow.setObjectName("too-narrow")
    ruby = _placed(
        qtbot, label(catalogs().html("ja-easy", "consent.camera"), rich=True), 0, 250, 300, 40, window
    )
    ruby.setObjectName("ruby-too-low")
    button = QPushButton("予約のある方 / I have an appointment")
    button.setObjectName("button-too-narrow")
    _placed(qtbot, button, 0, 320, 200, 70, window)
    sticking_out = _placed(qtbot, label("はい"), 1150, 400, 200, 60, window)
    sticking_out.setObjectName("sticks-out")
    under = _placed(qtbot, label("市民登録課"), 0, 480, 400, 50, window)  # each fits its box, but the
    under.setObjectName("drawn-over")  # boxes overlap: one text is drawn over the other
    _placed(qtbot, label("コンビニでも もらえます"), 0, 500, 400, 50, window).setObjectName("on-top")
    _placed(qtbot, label("いま できます"), 0, 560, 400, 50, window).setObjectName("below")  # touches none
    window.show()
    qtbot.waitExposed(window)
    problems = text_problems(window)
    named = {p.split()[1] for p in problems}
    expected = {"too-low", "too-narrow", "ruby-too-low", "button-too-narrow", "sticks-out", "drawn-over"}
    assert named == expected, problems
    assert [p for p in problems if p.startswith("overlap:")] == [
        "overlap: drawn-over '市民登録課' overlaps on-top 'コンビニでも もらえます' in QWidget"
        " (0,480 400x50 and 0,500 400x50)"
    ]
    assert ruby.ruby is not None  # drawn as ruby: the furigana above, not in brackets


async def _check(
    window, controller, lang: str, *, large: bool, stages: tuple[str, ...] = STAGES
) -> list[str]:
    problems = []
    for name in stages:
        window.frozen = True
        await stage(controller, name, lang)
        controller.resident.large_text = large
        controller.resident.high_contrast = large
        window.frozen = False
        view_stage(window, name)
        await settle(window)
        window.refresh()
        await settle(window)
        problems += [f"{lang}/{name}{' large' if large else ''}: {p}" for p in text_problems(window)]
    return problems


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_no_text_overflows_on_any_screen(demo, lang):
    controller, window = demo
    problems = await _check(window, controller, lang, large=False)
    problems += await _check(window, controller, lang, large=True)
    assert problems == []


# The top bar without and with back and start over (and the help button's two-language text on the first
# screen); two columns of tiles with every status line; the departments; one column beside the keyboard.
SMALL_STAGES = (
    "welcome",
    "choose_procedure",
    "choose_category",
    "choose_department",
    "choose_search",
    "appointment_refused",  # a notice above the PIN pad: its last row stuck out below a 1280x800 screen
)


@pytest.fixture
async def small(qtbot, clock) -> AsyncIterator[tuple[Any, Any]]:
    """The demo kiosk on a 1280x800 screen (its fonts and touch targets computed for that screen)."""
    from config.loader import load_config
    from devtools.kiosk_demo import demo_controller
    from kiosk_client.view.window import KioskWindow

    config = load_config()
    size = {"screen_width_px": 1280, "screen_height_px": 800}
    kiosks = [k.model_copy(update=size) if k.id == "kiosk-ueda" else k for k in config.kiosks]
    controller = demo_controller(config.model_copy(update={"kiosks": kiosks}), timers=clock)
    window = KioskWindow(controller)
    qtbot.addWidget(window, before_close_func=KioskWindow.shutdown)  # see conftest.demo
    window.show()
    await settle(window)
    yield controller, window
    await controller.stop()


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_no_text_overflows_on_a_1280x800_kiosk(small, lang):
    controller, window = small
    assert (window.width(), window.height()) == (1280, 800)
    problems = await _check(window, controller, lang, large=False, stages=SMALL_STAGES)
    problems += await _check(window, controller, lang, large=True, stages=SMALL_STAGES)
    assert problems == []
