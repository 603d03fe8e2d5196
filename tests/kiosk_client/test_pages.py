"""Every list a resident meets that can be longer than its box has large 「前へ」「次へ」 page buttons and
「1／3ページ」 (kiosk_client/view/paging.py), so nobody has to flick: the departments, the categories, the
search results beside the keyboard, the languages with 「その他の言語」 open, the canned replies, the chat and
help. Driven through the real window on a 1280x800 kiosk with larger text (where they overflow), by
clicking the buttons; a page turn never cuts an item in half at the top."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PySide6.QtWidgets import QScrollArea, QWidget

from devtools.kiosk_demo import stage, view_stage
from kiosk_client.i18n import catalogs
from kiosk_client.view.paging import PagedScroll, content_end, page_starts
from remote_call.desk import ChatLine
from remote_call.wire import INTERPRETER_LANGUAGES

from .conftest import TIMEOUT, click, settle


def test_pages_begin_with_the_first_item_the_last_page_did_not_show_whole():
    rows = [(i * 100, i * 100 + 90) for i in range(10)]  # ten rows of 90 px, 10 px apart: 990 px
    starts = page_starts(rows, view=250, maximum=990 - 250)
    assert starts[0] == 0 and starts[-1] == 740
    # Each page begins at a row's top, the first row that the page before showed only in part.
    assert starts[1:-1] == [200, 400, 600]
    for start, following in itertools.pairwise(starts):
        shown_whole = [top for top, bottom in rows if top >= start and bottom <= start + 250]
        assert following <= max(shown_whole) + 100  # no row is skipped
    # One long text (a single item taller than the view) moves 90 % of a view at a time.
    assert page_starts([(0, 1000)], view=200, maximum=800) == [0, 180, 360, 540, 720, 800]
    # A remainder of a few pixels (the margin below the last row) is not a page of its own.
    assert page_starts([(0, 90), (100, 190)], view=200, maximum=15) == [0]
    # A row below a gap begins the next page; a tall item is paged through before the one after it.
    assert page_starts([(0, 60), (200, 260)], view=100, maximum=160) == [0, 160]
    assert page_starts([(0, 500), (510, 560)], view=200, maximum=360) == [0, 180, 360]
    assert page_starts([], view=0, maximum=0) == [0]


@contextlib.asynccontextmanager
async def _kiosk(qtbot: Any, clock: Any, width: int, height: int) -> AsyncIterator[tuple[Any, Any]]:
    """The demo kiosk on a ``width`` x ``height`` screen (its fonts and touch targets computed for it)."""
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


@pytest.fixture
async def small(qtbot, clock):
    """A 1280x800 kiosk."""
    async with _kiosk(qtbot, clock, 1280, 800) as kiosk:
        yield kiosk


async def _show(window: Any, controller: Any, name: str, lang: str = "ja", *, large: bool = True) -> None:
    window.frozen = True
    await stage(controller, name, lang)
    controller.resident.large_text = large
    window.frozen = False
    view_stage(window, name)
    await settle(window)
    window.refresh()
    await settle(window)


def _pager(window: QWidget, name: str) -> PagedScroll:
    paged = window.findChild(PagedScroll, name)
    assert paged is not None, name
    return paged


def _whole_at_top(paged: PagedScroll) -> bool:
    """The item at the top of the view begins there (a page turn did not cut it), unless the page is
    inside an item taller than the view, or is the end of the list."""
    bar = paged.area.verticalScrollBar()
    value, view = bar.value(), paged.area.viewport().height()
    blocks = paged._blocks()
    at_a_top = any(top == value for top, _bottom in blocks)
    in_a_tall_one = any(top < value < bottom and bottom - top > view for top, bottom in blocks)
    return at_a_top or in_a_tall_one or value == bar.maximum()


async def _scroll_range(paged: PagedScroll) -> None:
    """Wait (woken by the scroll bar's rangeChanged, at most TIMEOUT) until the scroll range covers the
    list: QScrollArea updates it from a posted event after the items' wrapped heights grew."""
    bar, content = paged.area.verticalScrollBar(), paged.area.widget()

    def covered() -> bool:
        return bar.maximum() == max(0, content.height() - paged.area.viewport().height())

    if covered():
        return
    reached = asyncio.get_running_loop().create_future()

    def check(_low: int, _high: int) -> None:
        if covered() and not reached.done():
            reached.set_result(None)

    bar.rangeChanged.connect(check)
    try:
        await asyncio.wait_for(reached, TIMEOUT)
    finally:
        bar.rangeChanged.disconnect(check)


async def _page_through(qtbot: Any, window: QWidget, paged: PagedScroll, lang: str) -> int:
    """Click 次へ to the last page and 前へ back to the first; returns the number of pages."""
    await _scroll_range(paged)
    name = paged.objectName()
    page, pages = paged.pages()
    assert paged.pager.isVisible() and pages >= 2 and page == 1
    assert paged.position.text() == catalogs().text(lang, "page.position", page=1, pages=pages)
    assert paged.next.text() == catalogs().text(lang, "pager.next")
    assert not paged.previous.isEnabled()
    for expected in range(2, pages + 1):
        click(qtbot, window, f"{name}-next")
        assert paged.pages() == (expected, pages)
        assert paged.position.text() == catalogs().text(lang, "page.position", page=expected, pages=pages)
        assert _whole_at_top(paged), f"{name}: page {expected} begins inside an item"
    assert not paged.next.isEnabled()
    bar = paged.area.verticalScrollBar()
    view = paged.area.viewport().height()
    assert content_end(paged._blocks(), view, bar.maximum()) <= bar.value() + view  # the last item, whole
    for expected in range(pages - 1, 0, -1):
        click(qtbot, window, f"{name}-previous")
        assert paged.pages()[0] == expected
    assert bar.value() == 0
    return pages


def test_every_scrolling_list_of_the_kiosk_has_page_buttons(qtbot):
    from config.loader import load_config
    from devtools.kiosk_demo import demo_controller
    from kiosk_client.view.window import KioskWindow

    window = KioskWindow(demo_controller(load_config()))
    qtbot.addWidget(window)
    areas = window.findChildren(QScrollArea)
    assert len(areas) >= 8
    unpaged = [
        a.objectName() or a.parent().objectName() for a in areas if not isinstance(a.parent(), PagedScroll)
    ]
    assert unpaged == [], "a scrolling list without page buttons"
    names = {p.objectName() for p in window.pagers}
    assert {"tiles", "categories", "welcome", "consent", "chat", "replies", "scan-guidance", "help"} <= names
    window.shutdown()


async def test_the_departments_page_on_a_small_screen(qtbot, clock):
    async with _kiosk(qtbot, clock, 1024, 600) as (controller, window):
        await _show(window, controller, "choose_department", "en")
        assert await _page_through(qtbot, window, _pager(window, "tiles"), "en") >= 2


async def test_procedures_and_categories_page_with_the_buttons(small, qtbot):
    controller, window = small
    await _show(window, controller, "choose_procedure", "ja")
    assert await _page_through(qtbot, window, _pager(window, "tiles"), "ja") >= 3
    assert not _pager(window, "categories").pager.isVisible()  # they fit: no buttons
    await _show(window, controller, "choose_procedure", "ja-easy")  # with readings they do not
    assert await _page_through(qtbot, window, _pager(window, "categories"), "ja-easy") >= 2
    # Turning the procedures' page and then choosing a category starts the new list at its first page.
    tiles = _pager(window, "tiles")
    click(qtbot, window, "tiles-next")
    assert tiles.pages()[0] == 2
    controller.set_category("住民票・戸籍")
    await settle(window)
    assert tiles.area.verticalScrollBar().value() == 0


async def test_search_results_beside_the_keyboard_page(small, qtbot):
    controller, window = small
    await _show(window, controller, "choose_search", "ja-easy")
    controller.set_search("")  # every procedure is a candidate: one long column beside the keyboard
    await settle(window)
    tiles = _pager(window, "tiles")
    assert await _page_through(qtbot, window, tiles, "ja-easy") >= 3
    click(qtbot, window, "tiles-next")
    controller.set_search("じゅうみん")  # typing narrows the list: it starts on its first page again
    await settle(window)
    assert tiles.area.verticalScrollBar().value() == 0


async def test_the_languages_with_other_languages_open_page(small, qtbot):
    controller, window = small
    await _show(window, controller, "welcome", "vi")
    welcome = window.screens["welcome"]
    click(qtbot, window, "lang-other")
    await settle(window)
    paged = _pager(window, "welcome")
    assert await _page_through(qtbot, window, paged, "vi") >= 2
    while paged.next.isEnabled():
        click(qtbot, window, "welcome-next")
    last = welcome.other.buttons[INTERPRETER_LANGUAGES[-1]]  # the last language, reached without a flick
    assert not last.visibleRegion().isEmpty()


async def test_canned_replies_and_the_chat_page_in_a_call(small, qtbot):
    controller, window = small
    await _show(window, controller, "in_call_chat", "zh")
    replies = _pager(window, "replies")
    assert await _page_through(qtbot, window, replies, "zh") >= 2
    while replies.next.isEnabled():
        click(qtbot, window, "replies-next")
    screen = window.screens["in_call"]
    thanks = screen.replies["reply.thanks"]
    assert not thanks.visibleRegion().isEmpty()  # the last reply, reached by the buttons
    # The chat follows its newest line, and stays where the resident paged back to until a new one comes.
    for i in range(12):
        controller.resident.chat.append(ChatLine("officer", f"行{i}" * 12))
    window.refresh()
    await settle(window)
    chat = _pager(window, "chat")
    bar = chat.area.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    click(qtbot, window, "chat-previous")
    back = bar.value()
    assert back < bar.maximum()
    window.refresh()  # any event re-renders the screen: the page the resident chose stays
    await settle(window)
    assert bar.value() == back
    controller.resident.chat.append(ChatLine("officer", "新しい行"))
    window.refresh()
    await settle(window)
    assert bar.value() == bar.maximum()


async def test_help_pages_with_larger_text_on_a_small_screen(small, qtbot):
    controller, window = small
    await _show(window, controller, "help", "vi")
    help_pages = _pager(window, "help")
    assert window.help.isVisible()
    assert window.help.geometry().bottom() <= window.height()  # the panel stays on the screen
    if help_pages.pages()[1] > 1:
        await _page_through(qtbot, window, help_pages, "vi")
    assert window.help.close_button.isVisible()
