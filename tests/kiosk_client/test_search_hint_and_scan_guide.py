"""The search field's placeholder is a clean example in every language (no reading in brackets: Qt draws
a placeholder itself, so easy Japanese is written in kana), and the example really finds a procedure; the
scan prompt's picture guide fits the scan panel without paging on a 1920x1080 kiosk in every language but
easy Japanese, pages with the buttons (never a flick) on 1280x800, and no text is clipped at either size."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from devtools.kiosk_demo import stage, view_stage
from devtools.text_fit import text_problems
from kiosk_client.i18n import LANGUAGES, catalogs
from kiosk_client.search import plain_of

from .conftest import click, settle

BRACKETS = re.compile(r"[（）()\[\]［］{}|]")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_a_clean_search_example(lang):
    raw_hint = catalogs().raw(lang, "choose.search_prompt")
    raw_example = catalogs().raw(lang, "choose.search_example")
    assert plain_of(raw_hint) == raw_hint and plain_of(raw_example) == raw_example  # no {漢字|かんじ}
    example = catalogs().text(lang, "choose.search_example")
    hint = catalogs().text(lang, "choose.search_prompt", example=example)
    assert example in hint
    assert not BRACKETS.search(hint), hint
    if lang == "ja-easy":
        assert not re.search(r"[\u4e00-\u9fff]", hint)  # all kana: a placeholder cannot draw ruby


@contextlib.asynccontextmanager
async def _kiosk(qtbot: Any, clock: Any, width: int, height: int) -> AsyncIterator[tuple[Any, Any]]:
    from config.loader import load_config
    from devtools.kiosk_demo import demo_controller
    from kiosk_client.view.window import KioskWindow

    config = load_config()
    size = {"screen_width_px": width, "screen_height_px": height}
    kiosks = [k.model_copy(update=size) if k.id == "kiosk-ueda" else k for k in config.kiosks]
    controller = demo_controller(config.model_copy(update={"kiosks": kiosks}), timers=clock)
    window = KioskWindow(controller)
    qtbot.addWidget(window)
    window.show()
    await settle(window)
    try:
        yield controller, window
    finally:
        window.shutdown()
        await controller.stop()


async def _show(window: Any, controller: Any, name: str, lang: str) -> None:
    window.frozen = True
    await stage(controller, name, lang)
    window.frozen = False
    view_stage(window, name)
    await settle(window)
    window.refresh()
    await settle(window)


async def test_the_placeholder_shows_the_example_and_the_example_finds_a_procedure(demo):
    controller, window = demo
    for lang in LANGUAGES:
        await _show(window, controller, "choose_procedure", lang)
        search = window.screens["choose"].search
        example = catalogs().text(lang, "choose.search_example")
        assert search.placeholderText() == catalogs().text(lang, "choose.search_prompt", example=example)
        controller.set_search(example)  # what the resident would type, as the example says
        found = controller.visible_procedures()
        assert found, f"{lang}: the example {example!r} finds nothing"
        if lang in ("ja", "ja-easy", "zh"):
            assert "juminhyo" in {
                p.id for p in found
            }  # 住民票 / じゅうみんひょう: the certificate of residence


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1280, 800)])
async def test_the_scan_guide_fits_or_pages_in_every_language(qtbot, clock, width, height):
    async with _kiosk(qtbot, clock, width, height) as (controller, window):
        screen = window.screens["in_call"]
        guidance = screen.guidance_pages
        for lang in LANGUAGES:
            await _show(window, controller, "in_call_scan", lang)
            assert screen.scan_guide.isVisible() and screen.scan_guide_side.isVisible()
            assert text_problems(window) == [], lang
            assert screen.scan_button.isVisible() and screen.scan_cancel.isVisible()  # never paged away
            pages = guidance.pages()[1]
            if width == 1920 and lang != "ja-easy":
                assert not guidance.pager.isVisible(), f"{lang}: the guide does not fit 1920x1080"
                assert pages == 1
                continue
            # Otherwise the page buttons, not a flick, bring the rest of the guide into sight.
            assert guidance.pager.isVisible() and pages >= 2
            while guidance.next.isEnabled():
                click(qtbot, window, "scan-guidance-next")
            side = screen.scan_guide_side
            top = side.mapTo(guidance.area.widget(), side.rect().topLeft()).y()
            value = guidance.area.verticalScrollBar().value()
            view = guidance.area.viewport().height()
            assert value <= top and top + side.height() <= value + view, f"{lang}: the last words unseen"
