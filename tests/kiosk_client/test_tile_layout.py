"""A procedure tile (``TileButton``) stacks its title and status lines one below the other at the height each
needs at the tile's width, and asks for that height — after its text, its width or its font (the larger-text
theme) changes. Issue #15: with larger text in easy Japanese the 「コンビニでも もらえます」 line was drawn
over the department line."""

from __future__ import annotations

import itertools

from PySide6.QtWidgets import QWidget

from devtools.text_fit import overlapping_texts, text_problems
from kiosk_client.i18n import catalogs
from kiosk_client.view.theme import Theme
from kiosk_client.view.widgets import TileButton

DEPARTMENT = "住民票（じゅうみんひょう）・戸籍（こせき） / 市民登録課（住民票の 係）"


def _stylesheet(*, large: bool) -> str:
    theme = Theme.make(
        high_contrast=large, large_text=large, min_touch_px=61, screen_height_px=1080, language="ja-easy"
    )
    return theme.stylesheet()


def _stacked(tile: TileButton) -> None:
    """The shown labels are in order, none over another, each as high as its wrapped text, inside the tile."""
    shown = [w for w in (tile.title, *tile.lines) if w.isVisible()]
    for upper, lower in itertools.pairwise(shown):
        assert upper.geometry().bottom() < lower.geometry().top(), (upper.text(), lower.text())
    for widget in shown:
        assert widget.height() >= widget.heightForWidth(widget.width()), widget.text()
        assert tile.rect().contains(widget.geometry()), widget.text()
    assert tile.minimumHeight() > shown[-1].geometry().bottom()  # the layouts give it all that room


def test_a_tile_stacks_its_lines_after_text_width_and_font_change(qtbot):
    window = QWidget()
    qtbot.addWidget(window)
    window.setStyleSheet(_stylesheet(large=False))
    window.resize(1000, 1800)
    tile = TileButton("tile-procedure-juminhyo")
    tile.setParent(window)
    c = catalogs()
    title = c.html("ja-easy", "consent.camera")  # rich text with ruby, several rows when narrow
    lines = [
        ("ぜんぶ", "subtitle"),
        (c.text("ja-easy", "tile.closed"), "closed"),
        (c.text("ja-easy", "tile.convenience"), None),
    ]
    tile.set_content(title, lines)
    tile.setGeometry(10, 10, 466, 200)
    window.show()
    qtbot.waitExposed(window)
    _stacked(tile)
    short = tile.lines[0].height()

    # Longer department line (wraps to more rows): the lines below move down.
    lines[0] = (DEPARTMENT, "subtitle")
    lines.insert(2, (c.text("ja-easy", "tile.next_open", when="11がつ30にち 08:30"), "closed"))
    tile.set_content(title, lines)
    tile.resize(466, tile.minimumHeight())
    assert tile.lines[0].height() > short
    shown = [line.text() for line in tile.lines if line.isVisible()]
    assert shown == [text for text, _role in lines]  # four lines: the convenience store is not dropped
    _stacked(tile)

    # Larger text: every label's font grows, the stack follows.
    before = tile.minimumHeight()
    window.setStyleSheet(_stylesheet(large=True))
    tile.resize(466, tile.minimumHeight())
    assert tile.minimumHeight() > before
    _stacked(tile)

    # Narrower: more rows, still stacked; the check over the rendered widgets agrees.
    tile.resize(330, tile.minimumHeight())
    tile.resize(330, tile.minimumHeight())
    _stacked(tile)
    assert overlapping_texts(window) == []
    assert text_problems(window) == []
