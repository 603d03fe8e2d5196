"""Furigana drawn above the kanji: the ruby layout, a label and a button that paint it (easy Japanese)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QImage

from kiosk_client.i18n import catalogs
from kiosk_client.view.ruby import RubyButton, RubyText, Segment, brackets_to_html, parse
from kiosk_client.view.theme import Theme
from kiosk_client.view.widgets import label

STYLE = Theme.make(high_contrast=False, large_text=False, min_touch_px=61, screen_height_px=1080).stylesheet()


def _ink_rows(image: QImage, background: QColor) -> list[int]:
    """The rows of ``image`` with anything drawn on them."""
    rows = []
    for y in range(image.height()):
        if any(image.pixelColor(x, y) != background for x in range(0, image.width(), 2)):
            rows.append(y)
    return rows


def test_the_readings_of_the_catalog_become_ruby_segments(qapp):
    markup = catalogs().html("ja-easy", "consent.camera")
    (paragraph,) = parse(markup)
    assert Segment("市役所", "しやくしょ") in paragraph
    assert "".join(s.text for s in paragraph).startswith("カメラ：市役所の")
    font = QFont("Noto Sans CJK JP")
    font.setPixelSize(27)
    ruby = RubyText(markup, font)
    assert ruby.plain() == catalogs().text("ja-easy", "consent.camera")
    placed, rows, _ = ruby.layout(300)
    assert rows >= 3
    word = next(p for p in placed if p.segment.reading)
    assert word.width >= ruby.reading_metrics.horizontalAdvance("しやくしょ")  # spaced out under its reading
    # A word with its reading is never cut, whatever the width.
    assert [p.segment for p in ruby.layout(40)[0] if p.segment.reading] == [Segment("市役所", "しやくしょ")]


def test_a_label_paints_the_reading_above_the_kanji(qtbot):
    widget = label(catalogs().html("ja-easy", "scan.title"), rich=True)
    widget.setStyleSheet(STYLE)
    qtbot.addWidget(widget)
    widget.resize(600, 120)
    widget.show()
    qtbot.waitExposed(widget)
    assert widget.ruby is not None and widget.text() == catalogs().html("ja-easy", "scan.title")
    image = widget.grab().toImage()
    rows = _ink_rows(image, image.pixelColor(0, 0))
    ruby = widget.ruby
    top = (widget.height() - ruby.row_height) // 2
    reading_rows = [y for y in rows if top <= y < top + ruby.reading_metrics.height()]
    text_rows = [y for y in rows if y >= top + ruby.reading_metrics.height()]
    assert reading_rows and text_rows and max(reading_rows) < min(text_rows)  # furigana on top


def test_a_button_draws_its_reading_above_and_keeps_its_text(qtbot):
    text = catalogs().text("ja-easy", "top.larger_text")  # 字（じ）を　おおきく
    plain = RubyButton()
    plain.setStyleSheet(STYLE)
    plain.setText("をおおきく")
    button = RubyButton()
    button.setStyleSheet(STYLE)
    button.setText(text)
    for b in (plain, button):
        qtbot.addWidget(b)
        b.show()
    assert button.ruby is not None and button.text() == text and "（" in text
    assert plain.ruby is None and plain.text() == "をおおきく"
    assert button.sizeHint().height() > plain.sizeHint().height()  # a reading row above the text
    assert "字<span style='font-size:60%'>（じ）</span>" in brackets_to_html(text)
