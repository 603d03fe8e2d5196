"""Furigana drawn above the kanji (ruby), for やさしい日本語.

Qt's rich text has no ``<ruby>``, so ``Catalogs.html`` writes a reading small after its word; a label that
receives such text (see ``widgets.PhraseLabel``) hands it to ``RubyText``, which lays it out itself: the
words wrap between phrases (``kiosk_client.linebreak``, a word with its reading is never split), each line
is a reading row above a text row, and a reading is centred over its kanji (the kanji are spaced out when
the reading is wider). ``RubyText.layout(width)`` is pure geometry over QFontMetrics, used for the size
hints, for painting and by the overflow check in the tests.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Property, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QPushButton, QStyle, QStyleOptionButton

from kiosk_client.linebreak import phrases, unbind

# What Catalogs.html makes of {漢字|かんじ}: the word (kanji: every base in the catalogs is), then the
# reading in a small span.
RUBY_HTML = re.compile(r"([\u3400-\u9fff々〆ヵヶ]+)<span style='font-size:60%'>（([^<>]+?)）</span>")
_BREAK = re.compile(r"<br\s*/?>|</p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
READING_SCALE = 0.5
ROW_GAP = 4  # pixels between lines


def has_ruby(markup: str) -> bool:
    return RUBY_HTML.search(markup) is not None


@dataclass(frozen=True)
class Segment:
    text: str
    reading: str | None = None


@dataclass(frozen=True)
class Placed:
    """A segment at its place: ``x``, the line ``row`` and its ``width`` (the wider of word and reading)."""

    segment: Segment
    x: int
    row: int
    width: int


def parse(markup: str) -> list[list[Segment]]:
    """Paragraphs of segments from the rich text: ruby words keep their reading; other tags are dropped."""
    paragraphs: list[list[Segment]] = []
    for block in _BREAK.split(unbind(markup)):
        segments: list[Segment] = []
        last = 0
        for match in RUBY_HTML.finditer(block):
            before = html.unescape(_TAG.sub("", block[last : match.start()]))
            if before:
                segments.append(Segment(before))
            base = html.unescape(_TAG.sub("", match.group(1)))
            segments.append(Segment(base, html.unescape(match.group(2))))
            last = match.end()
        rest = html.unescape(_TAG.sub("", block[last:]))
        if rest:
            segments.append(Segment(rest))
        paragraphs.append(segments)
    return paragraphs


def _units(segments: list[Segment]) -> list[list[Segment]]:
    """The unbreakable units of a paragraph: its phrases, a ruby word never cut."""
    plain = "".join(s.text for s in segments)
    cuts: set[int] = set()
    position = 0
    for phrase in phrases(plain):
        position += len(phrase)
        cuts.add(position)
    starts: list[int] = []
    position = 0
    for segment in segments:
        starts.append(position)
        position += len(segment.text)
    units: list[list[Segment]] = [[]]
    for segment, start in zip(segments, starts, strict=True):
        if segment.reading is not None:
            units[-1].append(segment)
        else:
            piece = ""
            for offset, char in enumerate(segment.text):
                piece += char
                if start + offset + 1 in cuts:
                    units[-1].append(Segment(piece))
                    units.append([])
                    piece = ""
            if piece:
                units[-1].append(Segment(piece))
        if start + len(segment.text) in cuts and units[-1]:
            units.append([])
    return [u for u in units if u]


class RubyText:
    def __init__(self, markup: str, font: QFont) -> None:
        self.paragraphs = parse(markup)
        self.font = font
        self.reading_font = QFont(font)
        size = font.pixelSize() if font.pixelSize() > 0 else round(font.pointSizeF() * 4 / 3)
        self.reading_font.setPixelSize(max(9, round(size * READING_SCALE)))
        self.metrics = QFontMetrics(font)
        self.reading_metrics = QFontMetrics(self.reading_font)
        # Layouts ask for the same widths over and over (heightForWidth in every relayout): measured, the
        # choose screen's refresh spent 9.6 of 17 s in layout() and 1.1 M horizontalAdvance calls.
        self._widths: dict[Segment, int] = {}
        self._layouts: dict[int, tuple[list[Placed], int, int]] = {}

    @property
    def row_height(self) -> int:
        return self.reading_metrics.height() + self.metrics.height() + ROW_GAP

    def plain(self) -> str:
        """The text with readings in brackets, as ``Catalogs.text`` writes it (for tests, accessibility)."""
        return "\n".join(
            "".join(s.text + (f"（{s.reading}）" if s.reading else "") for s in p) for p in self.paragraphs
        )

    def width_of(self, segment: Segment) -> int:
        known = self._widths.get(segment)
        if known is not None:
            return known
        own = self.metrics.horizontalAdvance(segment.text)
        if segment.reading is not None:
            own = max(own, self.reading_metrics.horizontalAdvance(segment.reading))
        self._widths[segment] = own
        return own

    def layout(self, width: int) -> tuple[list[Placed], int, int]:
        """Place every segment for a box ``width`` wide: (placed segments, rows, widest row in px)."""
        known = self._layouts.get(width)
        if known is None:
            known = self._layouts[width] = self._place(width)
        return known

    def _place(self, width: int) -> tuple[list[Placed], int, int]:
        placed: list[Placed] = []
        row, widest = 0, 0
        for paragraph in self.paragraphs:
            x = 0
            for unit in self._fitting_units(paragraph, width):
                unit_width = sum(self.width_of(s) for s in unit)
                if x > 0 and x + unit_width > width:
                    row, x = row + 1, 0
                for segment in unit:
                    w = self.width_of(segment)
                    placed.append(Placed(segment, x, row, w))
                    x += w
                widest = max(widest, x)
            row += 1
        return placed, max(row, 1), widest

    def _fitting_units(self, paragraph: list[Segment], width: int) -> list[list[Segment]]:
        """The paragraph's phrases; one wider than the line is cut, a word with its reading kept whole."""
        units: list[list[Segment]] = []
        for unit in _units(paragraph):
            if sum(self.width_of(s) for s in unit) <= width:
                units.append(unit)
                continue
            for segment in unit:
                if segment.reading is not None:
                    units.append([segment])
                else:
                    units += [[Segment(char)] for char in segment.text]
        return units

    def natural_width(self) -> int:
        return self.layout(1 << 20)[2]

    def height_for(self, width: int) -> int:
        return self.layout(width)[1] * self.row_height

    def paint(self, painter: QPainter, box: QRect, color: QColor, align: Qt.AlignmentFlag) -> None:
        placed, rows, _ = self.layout(box.width())
        row_widths = [0] * rows
        for p in placed:
            row_widths[p.row] = max(row_widths[p.row], p.x + p.width)
        painter.setPen(color)
        top = box.y()
        if align & Qt.AlignmentFlag.AlignVCenter:
            top += max(0, (box.height() - rows * self.row_height) // 2)
        for p in placed:
            shift = (box.width() - row_widths[p.row]) // 2 if align & Qt.AlignmentFlag.AlignHCenter else 0
            x = box.x() + shift + p.x
            y = top + p.row * self.row_height
            reading_h = self.reading_metrics.height()
            cell = QRect(x, y + reading_h, p.width, self.metrics.height())
            painter.setFont(self.font)
            painter.drawText(
                cell, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom), p.segment.text
            )
            if p.segment.reading:
                painter.setFont(self.reading_font)
                painter.drawText(
                    QRect(x, y, p.width, reading_h),
                    int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom),
                    p.segment.reading,
                )


# What Catalogs.text makes of {漢字|かんじ} for buttons: the reading in brackets after its kanji.
RUBY_BRACKETS = re.compile(r"([\u3400-\u9fff々〆ヵヶ]+)（([\u3041-\u3096ー]+)）")


def has_bracket_ruby(text: str) -> bool:
    return RUBY_BRACKETS.search(text) is not None


def brackets_to_html(text: str) -> str:
    """``字（じ）を　おおきく`` → rich text whose reading ``RubyText`` draws above the kanji."""
    parts: list[str] = []
    last = 0
    for match in RUBY_BRACKETS.finditer(text):
        parts.append(html.escape(text[last : match.start()]))
        word, reading = html.escape(match.group(1)), html.escape(match.group(2))
        parts.append(f"{word}<span style='font-size:60%'>（{reading}）</span>")
        last = match.end()
    parts.append(html.escape(text[last:]))
    return "".join(parts)


class RubyButton(QPushButton):
    """A touch button that draws an easy-Japanese reading above its kanji (``字（じ）`` as set by
    ``Catalogs.text``) instead of in brackets; ``text()`` gives the text as set. Other text is Qt's own.
    The checked look's text colour comes from the theme (``qproperty-checkedTextColor``): a stylesheet's
    ``:checked`` colour never reaches the palette."""

    _ruby_raw = ""
    _ruby: RubyText | None = None
    _ruby_wraps = False

    def __init__(self) -> None:
        super().__init__()
        self._checked_text = QColor("#ffffff")

    def _get_checked_text(self) -> QColor:
        return self._checked_text

    def _set_checked_text(self, colour: QColor) -> None:
        self._checked_text = QColor(colour)
        self.update()

    checkedTextColor = Property(QColor, _get_checked_text, _set_checked_text)

    def set_ruby_text(self, text: str) -> bool:
        """Take ``text`` as ruby if it has bracketed readings; whether it did."""
        if not has_bracket_ruby(text):
            self._ruby = None
            self._ruby_raw = ""
            return False
        self._ruby_raw = text
        self._ruby = RubyText(brackets_to_html(text), self.font())
        QPushButton.setText(self, "")
        self.setAccessibleName(text)
        self.updateGeometry()
        self.update()
        return True

    def setText(self, text: str) -> None:
        if not self.set_ruby_text(text):
            super().setText(text)

    def text(self) -> str:
        return self._ruby_raw if self._ruby is not None else super().text()

    @property
    def ruby(self) -> RubyText | None:
        if self._ruby is not None and self._ruby.font != self.font():
            self._ruby = RubyText(brackets_to_html(self._ruby_raw), self.font())
        return self._ruby

    def _option(self) -> QStyleOptionButton:
        option = QStyleOptionButton()
        self.initStyleOption(option)
        return option

    def ruby_box(self) -> QRect:
        return self.style().subElementRect(QStyle.SubElement.SE_PushButtonContents, self._option(), self)

    def sizeHint(self) -> QSize:
        ruby = self.ruby
        if ruby is None:
            return super().sizeHint()
        width = (
            max(1, self.ruby_box().width())
            if self._ruby_wraps and self.width() > 50
            else ruby.natural_width()
        )
        content = QSize(ruby.layout(width)[2] + 4, ruby.height_for(width))
        return self.style().sizeFromContents(QStyle.ContentsType.CT_PushButton, self._option(), content, self)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint() if self.ruby is not None else super().minimumSizeHint()

    def paintEvent(self, event: Any) -> None:
        super().paintEvent(event)  # the frame and background, no text
        ruby = self.ruby
        if ruby is None:
            return
        colour = (
            self._checked_text if self.isChecked() else self.palette().color(QPalette.ColorRole.ButtonText)
        )
        painter = QPainter(self)
        ruby.paint(painter, self.ruby_box(), colour, Qt.AlignmentFlag.AlignCenter)
        painter.end()
