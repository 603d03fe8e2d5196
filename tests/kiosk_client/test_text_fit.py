"""No text on any kiosk screen is elided, clipped or overflowing its box: every stage of the demo in the
six languages, with normal text in the normal theme and with larger text in the high-contrast theme,
checked over the rendered widgets (``devtools.text_fit``) — and the check does find text that overflows."""

from __future__ import annotations

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
    window.show()
    qtbot.waitExposed(window)
    problems = text_problems(window)
    named = {p.split()[1] for p in problems}
    assert named == {"too-low", "too-narrow", "ruby-too-low", "button-too-narrow", "sticks-out"}, problems
    assert ruby.ruby is not None  # drawn as ruby: the furigana above, not in brackets


async def _check(window, controller, lang: str, *, large: bool) -> list[str]:
    problems = []
    for name in STAGES:
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
