"""Small widgets of the kiosk view: tiles with wrapped text, the video surface, labels and buttons."""

from __future__ import annotations

import asyncio
import contextlib
import html as html_lib
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from av.video.reformatter import VideoReformatter
from PySide6.QtCore import QEvent, QObject, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QLabel,
    QPushButton,
    QScroller,
    QScrollerProperties,
    QSizePolicy,
    QStyle,
    QStyleOptionButton,
    QWidget,
)

from kiosk_client.linebreak import bind, bind_html, phrases
from kiosk_client.view.ruby import RubyButton, RubyText, has_ruby
from kiosk_client.view.theme import FIT_STEPS


class PhraseLabel(QLabel):
    """A label whose Japanese or Chinese text wraps only between phrases (``kiosk_client.linebreak``);
    ``text()`` gives the text as set, without the invisible word joiners. Rich text with furigana (easy
    Japanese, see ``Catalogs.html``) is drawn as ruby, the reading above the kanji (``view.ruby``)."""

    _raw = ""
    _ruby: RubyText | None = None

    def setText(self, text: str) -> None:
        self._raw = text
        rich = self.textFormat() == Qt.TextFormat.RichText
        if rich and has_ruby(text):
            self._ruby = RubyText(text, self.font())
            super().setText("")
            self.updateGeometry()
            self.update()
            return
        self._ruby = None
        super().setText(bind_html(text) if rich else bind(text))

    def text(self) -> str:
        return self._raw

    def clear(self) -> None:
        self._raw = ""
        self._ruby = None
        super().clear()

    @property
    def ruby(self) -> RubyText | None:
        """The ruby layout with the label's current font (the stylesheet may have changed it)."""
        if self._ruby is not None and self._ruby.font != self.font():
            self._ruby = RubyText(self._raw, self.font())
        return self._ruby

    def _margins(self) -> tuple[int, int]:
        m = self.contentsMargins()
        return m.left() + m.right(), m.top() + m.bottom()

    def hasHeightForWidth(self) -> bool:
        return super().hasHeightForWidth() if self.ruby is None else self.wordWrap()

    def heightForWidth(self, width: int) -> int:
        ruby = self.ruby
        if ruby is None:
            return super().heightForWidth(width)
        mw, mh = self._margins()
        return ruby.height_for(max(1, width - mw)) + mh

    def sizeHint(self) -> QSize:
        ruby = self.ruby
        if ruby is None:
            return super().sizeHint()
        mw, mh = self._margins()
        width = ruby.natural_width() if not self.wordWrap() else min(ruby.natural_width(), 640)
        return QSize(width + mw, ruby.height_for(width) + mh)

    def minimumSizeHint(self) -> QSize:
        ruby = self.ruby
        if ruby is None:
            return super().minimumSizeHint()
        if not self.wordWrap():
            return self.sizeHint()
        mw, mh = self._margins()
        # A scroll area sizes its content by this, not by height-for-width: the height at the current width.
        height = self.heightForWidth(self.width()) if self.width() > 50 else ruby.height_for(640) + mh
        return QSize(min(200, ruby.natural_width()) + mw, height)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self.ruby is not None and self.wordWrap() and self.height() < self.heightForWidth(self.width()):
            self.updateGeometry()  # wrapped at a new width: more rows

    def paintEvent(self, event: Any) -> None:
        ruby = self.ruby
        if ruby is None:
            super().paintEvent(event)
            return
        painter = QPainter(self)
        ruby.paint(
            painter, self.contentsRect(), self.palette().color(self.foregroundRole()), self.alignment()
        )
        painter.end()


def label(
    text: str = "",
    role: str | None = None,
    *,
    rich: bool = False,
    wrap: bool = True,
    align: Qt.AlignmentFlag | None = None,
) -> QLabel:
    widget = PhraseLabel()
    widget.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    widget.setWordWrap(wrap)
    if role:
        widget.setProperty("role", role)
    if align is not None:
        widget.setAlignment(align)
    widget.setText(text)
    return widget


def button(name: str, role: str | None = None, *, checkable: bool = False, wrap: bool = False) -> QPushButton:
    """A touch button. ``wrap``: its width comes from the layout alone and long text wraps to it."""
    widget = WrapButton() if wrap else RubyButton()
    widget.setObjectName(name)
    if role:
        widget.setProperty("role", role)
    widget.setCheckable(checkable)
    widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    if wrap:
        widget.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
    else:
        widget.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    return widget


class TileButton(QPushButton):
    """A large button whose text wraps: a title and up to four status lines (QPushButton itself cannot wrap).

    The tile stacks its labels itself: each at the height its wrapped text needs at the tile's width, one
    below the other, and asks for the sum as its minimum height (grid and box layouts do not ask a child for
    its height at a width). A QVBoxLayout inside the button did this before and left a label at a stale
    position after a wrapped height changed: with larger text in easy Japanese the 「コンビニでも もらえます」
    line was drawn over the department line (issue #15; ``devtools.text_fit`` now reports overlapping texts).
    """

    MARGINS = (18, 12, 18, 12)  # left, top, right, bottom
    SPACING = 4
    LINES = 4  # the department line, two status lines of a closed department, the convenience store line

    def __init__(self, name: str):
        super().__init__()
        self.setObjectName(name)
        self.setProperty("role", "tile")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.title = label(rich=True)  # rich: easy Japanese names carry ruby
        self.title.setStyleSheet("font-weight: bold;")
        self.lines: list[QLabel] = [label() for _ in range(self.LINES)]
        for child in [self.title, *self.lines]:
            child.setParent(self)
            child.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            child.installEventFilter(self)  # a label's font changes its wrapped height

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._arrange()
        return False

    def set_content(self, title: str, lines: list[tuple[str, str | None]]) -> None:
        """``title`` is rich text (escape plain names); ``lines`` are plain text with a label role."""
        self.title.setText(title)
        self.setAccessibleName(html_lib.unescape(re.sub(r"<[^>]+>", "", title)))
        self.setText("")  # the labels carry the text; keep the button's own text empty
        for i, widget in enumerate(self.lines):
            text, role = lines[i] if i < len(lines) else ("", None)
            widget.setText(text)
            widget.setProperty("role", role or "")
            widget.style().unpolish(widget)
            widget.style().polish(widget)
            widget.setVisible(bool(text))
        self._arrange()

    def set_checked_look(self, checked: bool) -> None:
        """Labels inside a checked tile take the button's text colour (QSS cannot select on the parent)."""
        for child in [self.title, *self.lines]:
            child.setProperty("on", "true" if checked else "false")
            child.style().unpolish(child)
            child.style().polish(child)

    def _shown(self) -> list[QLabel]:
        return [w for w in (self.title, *self.lines) if not w.isHidden()]

    def _text_width(self) -> int:
        left, _top, right, _bottom = self.MARGINS
        return max(1, self.width() - left - right)

    def _arrange(self) -> None:
        """Each label at its wrapped height for the tile's width, one below the other; the tile's minimum
        height is what they need together."""
        left, top, _right, bottom = self.MARGINS
        width = self._text_width()
        y = top
        for widget in self._shown():
            widget.ensurePolished()  # the stylesheet's font decides the wrapped height
            wraps = widget.hasHeightForWidth()
            height = widget.heightForWidth(width) if wraps else widget.sizeHint().height()
            widget.setGeometry(left, y, width, height)
            y += height + self.SPACING
        wanted = y - self.SPACING + bottom
        if wanted != self.minimumHeight():
            self.setMinimumHeight(wanted)

    def sizeHint(self) -> QSize:
        return self.minimumSizeHint()  # wider is welcome (the policy expands), taller not needed

    def minimumSizeHint(self) -> QSize:
        left, _top, right, _bottom = self.MARGINS
        widths = [w.minimumSizeHint().width() for w in self._shown()]
        return QSize(max(widths, default=0) + left + right, self.minimumHeight())

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._arrange()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._arrange()  # shown: the labels are polished now, with the stylesheet's fonts

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() in (QEvent.Type.StyleChange, QEvent.Type.FontChange) and hasattr(self, "lines"):
            self._arrange()
        return handled


def wrap_text(text: str, metrics: QFontMetrics, width: int) -> str:
    """Break ``text`` into lines no wider than ``width``, between phrases (``linebreak.phrases``: BudouX for
    Japanese and Chinese, spaces otherwise); a phrase wider than the line is cut between characters."""
    if width <= 0 or metrics.horizontalAdvance(text) <= width:
        return text
    tokens: list[str] = []
    for phrase in phrases(text):
        tokens += list(phrase) if metrics.horizontalAdvance(phrase.rstrip()) > width else [phrase]
    lines: list[str] = []
    line = ""
    for token in tokens:
        candidate = line + token
        if line and metrics.horizontalAdvance(candidate.rstrip()) > width:
            lines.append(line.rstrip())
            line = token
        else:
            line = candidate
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


class WrapButton(RubyButton):
    """A QPushButton whose text wraps to its width (Qt's own button never wraps); easy-Japanese readings
    are drawn above their kanji (``RubyButton``), wrapped by the ruby layout."""

    _ruby_wraps = True

    def __init__(self) -> None:
        super().__init__()
        self._raw = ""
        self._fitting = False

    def setText(self, text: str) -> None:
        self._raw = text
        if self.set_ruby_text(text):
            self._grow()
            return
        self._rewrap()

    def _grow(self) -> None:
        wanted = self.sizeHint().height()  # the stylesheet's min-height would hold it below its lines
        if wanted > self.minimumHeight() and self.width() > 50:
            self.setMinimumHeight(wanted)

    def raw_text(self) -> str:
        return self._raw

    def _fit(self, width: int, height: int) -> str:
        """The largest font step (``theme.FIT_STEPS``) at which every phrase fits on a line and the lines
        fit the button's height: the text shrinks before a word would be cut. The theme's stylesheet
        sizes each step."""
        current = str(self.property("fit") or "")
        base_px = self.font().pixelSize() / FIT_STEPS.get(current, 1.0)
        for step, factor in [("", 1.0), *FIT_STEPS.items()]:
            font = QFont(self.font())
            font.setPixelSize(max(1, round(base_px * factor)))
            metrics = QFontMetrics(font)
            words_fit = all(metrics.horizontalAdvance(p.rstrip()) <= width for p in phrases(self._raw))
            lines = wrap_text(self._raw, metrics, width).count("\n") + 1
            if words_fit and (lines == 1 or lines * metrics.lineSpacing() <= height):
                return step
        return list(FIT_STEPS)[-1]

    def cut_phrases(self) -> list[str]:
        """The phrases too wide for a line even at the font ``_fit`` chose: ``wrap_text`` cuts them between
        characters (「うけつけ」 over 「る」), which a reader takes for two words. None should be left."""
        if self._ruby is not None or self.width() <= 50:
            return []
        width, metrics = self._text_box().width(), self.fontMetrics()
        return [p for p in phrases(self._raw) if metrics.horizontalAdvance(p.rstrip()) > width]

    def _text_box(self) -> QRect:
        """Where the style puts the text: the button less the stylesheet's border and padding."""
        option = QStyleOptionButton()
        self.initStyleOption(option)
        box = self.style().subElementRect(QStyle.SubElement.SE_PushButtonContents, option, self)
        return box.adjusted(2, 0, -2, 0)  # a little air, as the style draws the focus frame inside

    def _rewrap(self) -> None:
        if self._ruby is not None:
            self._grow()
            return
        if self.width() <= 50 or self.font().pixelSize() <= 0:
            wrapped = self._raw
        else:
            box = self._text_box()
            step = self._fit(box.width(), box.height())
            if step != str(self.property("fit") or "") and not self._fitting:
                self._fitting = True  # the re-polish below sends a StyleChange: do not fit again inside
                try:
                    self.setProperty("fit", step)
                    self.style().unpolish(self)
                    self.style().polish(self)
                finally:
                    self._fitting = False
            wrapped = wrap_text(self._raw, self.fontMetrics(), self._text_box().width())
        if wrapped != QPushButton.text(self):
            QPushButton.setText(self, wrapped)
        self._grow()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._rewrap()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        kinds = (QEvent.Type.StyleChange, QEvent.Type.FontChange)
        if event.type() in kinds and hasattr(self, "_fitting") and not self._fitting:
            self._rewrap()


class VideoView(QWidget):
    """Draws the newest frame of a source (an av.VideoFrame or None), scaled to fit, at the view's tick rate.

    Only the newest frame is converted: libswscale reformat to the widget's size in RGBA, then a QImage over
    the numpy buffer (kept alive with the image). The conversion runs on a worker thread so the event loop
    (Qt and asyncio, which also carries the call's media) never waits for it; a frame that arrives while
    one is being converted is skipped. ``clear()`` drops everything (privacy reset).
    """

    _pool: ThreadPoolExecutor | None = None

    def __init__(self, name: str, source: Callable[[], Any] | None = None, *, mirror: bool = False):
        super().__init__()
        self.setObjectName(name)
        self.source = source
        self.mirror = mirror
        self.caption = ""
        self._last: Any = None
        self._array: np.ndarray | None = None
        self._image: QImage | None = None
        # Our own reformatter: a frame's built-in one may be in use at this moment by the encoder thread
        # (the self-view shows the very frames being encoded) and libswscale contexts are not thread-safe.
        self._reformatter = VideoReformatter()
        self._pending: asyncio.Future | None = None
        self._generation = 0
        self.frames_drawn = 0
        self.frames_converted = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    @property
    def has_image(self) -> bool:
        return self._image is not None

    def clear(self) -> None:
        self._generation += 1  # a conversion still running for the old frame is discarded
        self._last = None
        self._array = None
        self._image = None
        self.update()

    def _target(self, frame_w: int, frame_h: int) -> tuple[int, int]:
        w, h = max(2, self.width()), max(2, self.height())
        scale = min(w / frame_w, h / frame_h)
        return max(2, int(frame_w * scale) & ~1), max(2, int(frame_h * scale) & ~1)

    def _convert(self, frame: Any, width: int, height: int) -> tuple[np.ndarray, QImage]:
        converted = self._reformatter.reformat(frame, width=width, height=height, format="rgba")
        array: np.ndarray = converted.to_ndarray()
        if self.mirror:
            array = array[:, ::-1]
        array = np.ascontiguousarray(array)
        return array, QImage(array.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)

    def tick(self) -> None:
        """Called ~30 times a second: start converting the source's newest frame if it changed."""
        if self.source is None or not self.isVisible():
            return
        frame = self.source()
        if frame is None:
            if self._image is not None:
                self.clear()
            return
        if frame is self._last or self._pending is not None:
            return
        self._last = frame
        tw, th = self._target(frame.width, frame.height)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._show(self._generation, self._convert(frame, tw, th))
            return
        if VideoView._pool is None:
            VideoView._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kiosk-video")
        generation = self._generation
        self._pending = loop.run_in_executor(VideoView._pool, self._convert, frame, tw, th)
        self._pending.add_done_callback(lambda f: self._done(generation, f))

    def _done(self, generation: int, future: asyncio.Future) -> None:
        self._pending = None
        if future.cancelled() or future.exception() is not None:
            return
        self._show(generation, future.result())

    def _show(self, generation: int, result: tuple[np.ndarray, QImage]) -> None:
        if generation != self._generation:
            return
        self._array, self._image = result  # the array must live as long as the image
        self.frames_converted += 1
        self.update()

    async def flush(self) -> None:
        """Wait for a conversion in flight (tests and screenshots)."""
        pending = self._pending
        if pending is not None:
            with contextlib.suppress(Exception):
                await pending
            await asyncio.sleep(0)

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#101418"))
        if self._image is not None:
            x = (self.width() - self._image.width()) // 2
            y = (self.height() - self._image.height()) // 2
            painter.drawImage(x, y, self._image)
            self.frames_drawn += 1
        if self.caption:
            painter.setPen(QColor("#ffffff"))
            font = painter.font()
            font.setPixelSize(max(16, self.height() // 16))
            painter.setFont(font)
            box = QRect(0, self.height() - font.pixelSize() * 2, self.width(), font.pixelSize() * 2)
            painter.fillRect(box, QColor(0, 0, 0, 150))
            painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), self.caption)
        painter.end()


class ImageView(QLabel):
    """A still image from bytes (a scan thumbnail, a document the officer shows); ``clear()`` forgets it."""

    def __init__(self, name: str):
        super().__init__()
        self._source: bytes | None = None
        self._full: QPixmap | None = None
        self.setObjectName(name)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)

    def set_bytes(self, data: bytes | None) -> None:
        if data is self._source:
            return
        self._source = data
        if data is None:
            self.clear()
            return
        pixmap = QPixmap()
        pixmap.loadFromData(data)
        self._full = pixmap
        self._rescale()

    def clear(self) -> None:
        self._source = None
        self._full = None
        super().clear()

    def _rescale(self) -> None:
        full = self._full
        if full is None or full.isNull():
            return
        self.setPixmap(
            full.scaled(
                max(1, self.width()),
                max(1, self.height()),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._rescale()


def enable_flick(area: QAbstractScrollArea) -> None:
    """Kinetic flick scrolling on ``area``'s viewport. The left-mouse gesture also covers touch: Qt turns
    touches nobody handles into mouse events, and a tap on a button inside still clicks it."""
    viewport = area.viewport()
    if QScroller.hasScroller(viewport):
        return
    QScroller.grabGesture(viewport, QScroller.ScrollerGestureType.LeftMouseButtonGesture)
    scroller = QScroller.scroller(viewport)
    properties = scroller.scrollerProperties()
    # A tap reaches the button at once (Qt's default holds a press back 0.25 s to see whether a flick
    # starts); a flick that starts on a button takes the press back with a release outside it.
    properties.setScrollMetric(QScrollerProperties.ScrollMetric.MousePressEventDelay, 0)
    properties.setScrollMetric(QScrollerProperties.ScrollMetric.OvershootDragResistanceFactor, 0.3)
    properties.setScrollMetric(
        QScrollerProperties.ScrollMetric.HorizontalOvershootPolicy,
        QScrollerProperties.OvershootPolicy.OvershootAlwaysOff,
    )
    scroller.setScrollerProperties(properties)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
