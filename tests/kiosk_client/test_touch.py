"""Touch that works: a flick with the finger (left mouse, which Qt also makes of unhandled touches) scrolls
a long list kinetically, a tap on a tile inside still clicks it, and the large page buttons page through."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QPushButton, QScroller, QVBoxLayout, QWidget

from kiosk_client.view.paging import PagedScroll
from kiosk_client.view.theme import Theme


def _list(qtbot, rows: int = 40) -> tuple[PagedScroll, list[QPushButton], list[int]]:
    content = QWidget()
    layout = QVBoxLayout(content)
    clicked: list[int] = []
    buttons = []
    for i in range(rows):
        b = QPushButton(f"procedure {i}")
        b.setObjectName(f"row-{i}")
        b.clicked.connect(lambda _=False, i=i: clicked.append(i))
        layout.addWidget(b)
        buttons.append(b)
    paged = PagedScroll("tiles", content)
    theme = Theme.make(high_contrast=False, large_text=False, min_touch_px=61, screen_height_px=1080)
    paged.setStyleSheet(theme.stylesheet())
    paged.set_labels("前へ", "次へ", lambda page, pages: f"{page}／{pages}ページ")
    qtbot.addWidget(paged)
    paged.resize(600, 700)
    paged.show()
    qtbot.waitExposed(paged)
    return paged, buttons, clicked


def test_a_flick_scrolls_the_list_and_a_tap_still_clicks(qtbot):
    paged, buttons, clicked = _list(qtbot)
    bar = paged.area.verticalScrollBar()
    viewport = paged.area.viewport()
    assert bar.maximum() > 0 and bar.value() == 0
    # The viewport has grabbed the left-button flick gesture (touches reach it as mouse events).
    assert QScroller.hasScroller(viewport) and QScroller.grabbedGesture(viewport) != Qt.GestureType(0)
    scroller = QScroller.scroller(viewport)
    # A finger moving up 480 px in 120 ms, fed with its own timestamps (no wall clock involved).
    scroller.handleInput(QScroller.Input.InputPress, QPointF(300, 600), 1000)
    for step in range(1, 13):
        scroller.handleInput(QScroller.Input.InputMove, QPointF(300, 600 - step * 40), 1000 + step * 10)
    scroller.handleInput(QScroller.Input.InputRelease, QPointF(300, 120), 1130)
    qtbot.waitUntil(lambda: bar.value() > 200, timeout=5000)
    qtbot.waitUntil(lambda: scroller.state() == QScroller.State.Inactive, timeout=10000)
    assert bar.value() > 480  # kinetic: it went on after the finger left
    assert clicked == []  # a flick is not a tap
    target = next(b for b in buttons if b.visibleRegion().boundingRect().height() == b.height())
    qtbot.mouseClick(target, Qt.MouseButton.LeftButton, pos=QPoint(20, target.height() // 2))
    qtbot.waitUntil(lambda: clicked == [buttons.index(target)], timeout=5000)


def test_page_buttons_turn_pages_and_say_where_you_are(qtbot):
    paged, _buttons, _clicked = _list(qtbot)
    bar = paged.area.verticalScrollBar()
    page, pages = paged.pages()
    assert page == 1 and pages >= 3
    assert paged.pager.isVisible() and not paged.previous.isEnabled() and paged.next.isEnabled()
    assert paged.position.text() == f"1／{pages}ページ"
    assert paged.previous.height() >= 61 and paged.next.height() >= 61
    qtbot.mouseClick(paged.next, Qt.MouseButton.LeftButton)
    assert bar.value() > 0 and paged.pages()[0] == 2 and paged.previous.isEnabled()
    for _ in range(pages):
        if paged.next.isEnabled():
            qtbot.mouseClick(paged.next, Qt.MouseButton.LeftButton)
    assert bar.value() == bar.maximum() and paged.pages() == (pages, pages)
    assert not paged.next.isEnabled()
    qtbot.mouseClick(paged.previous, Qt.MouseButton.LeftButton)
    assert paged.pages()[0] == pages - 1


def test_a_short_list_has_no_page_buttons(qtbot):
    paged, _buttons, _clicked = _list(qtbot, rows=2)
    assert not paged.pager.isVisible()
