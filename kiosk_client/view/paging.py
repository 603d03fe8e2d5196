"""Large 「前へ」「次へ」 page buttons for every list a resident meets that can be longer than its box
(procedures, departments, categories, the languages, the canned replies, the chat, the scan guide, help):
a flick is not something every resident can do, a touch on a large button is.

``PagedScroll`` is a flickable scroll area with the two buttons and 「1／3ページ」 below it, shown only
while the content is taller than the view; ``translate_pagers`` gives every pager under a widget its words
from the catalog (the window does it on each render, so no screen can forget one).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QMetaObject, QObject, Qt, Slot
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QScrollArea, QVBoxLayout, QWidget

from kiosk_client.view.base import Ctx
from kiosk_client.view.widgets import button, enable_flick, label

BESIDE_MIN_WIDTH = 120  # px: a button column beside a list, at least two touch targets wide
NARROW_PX = 520  # a list narrower than this has its page position below the buttons
PAGER_SPACING = 8
PAGE_OVERLAP = 0.9  # a page turn moves 90 % of the view: the last line of a page is seen again on the next


class PagedScroll(QWidget):
    """A flickable scroll area with large page buttons and the page position below it, shown only while
    the content is taller than the view. ``follow_end``: stay at the newest (bottom) content as it grows
    (the chat), unless the resident has paged back. ``beside``: the buttons in a column to the right of the
    list, for a short list in a narrow column (the call's chat and replies), where a row below would take
    the list's last lines."""

    def __init__(
        self,
        name: str,
        content: QWidget,
        *,
        follow_end: bool = False,
        beside: bool = False,
        scroll_bar: bool = True,
    ) -> None:
        super().__init__()
        self.setObjectName(name)
        self.area = QScrollArea()
        self.area.setObjectName(f"{name}-scroll")
        self.area.setWidgetResizable(True)
        self.area.setWidget(content)
        enable_flick(self.area)
        # The scroll bar stays as well (where the page is, at a glance): with it turned off, QScrollArea
        # sized the list once, before the tiles had fitted their text, and the last ones stayed squeezed.
        # A list of plain text may do without (``scroll_bar=False``): its width then does not change
        # with the pager, so neither does its height (the scan guidance, which fits by a few pixels).
        if not scroll_bar:
            self.area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # On a panel or a notice the list shows the panel's colour, not the window's.
        self.area.setStyleSheet(
            "QScrollArea, QScrollArea > QWidget, QScrollArea > QWidget > QWidget { background: transparent; }"
        )
        self.previous = button(f"{name}-previous", wrap=True)
        self.next = button(f"{name}-next", wrap=True)
        self.position = label(align=Qt.AlignmentFlag.AlignCenter, wrap=False)
        self.position.setObjectName(f"{name}-position")
        self.previous.clicked.connect(lambda: self.turn(-1))
        self.next.clicked.connect(lambda: self.turn(+1))
        layout = QHBoxLayout(self) if beside else QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(PAGER_SPACING)
        layout.addWidget(self.area, 1)
        self.pager = QWidget()
        self.pager.setObjectName(f"{name}-pager")
        self.pager.setStyleSheet(f"#{name}-pager {{ background: transparent; }}")
        self._beside = beside
        if beside:
            column = QVBoxLayout(self.pager)
            column.setContentsMargins(0, 0, 0, 0)
            column.addWidget(self.previous)
            column.addWidget(self.position)
            column.addStretch(1)
            column.addWidget(self.next)
        else:
            self._row = QGridLayout(self.pager)
            self._row.setContentsMargins(0, 0, 0, 0)
            self._narrow: bool | None = None
            self._arrange(narrow=False)
        layout.addWidget(self.pager)
        self.pager.hide()
        self._position_text: Callable[[int, int], str] = lambda page, pages: f"{page} / {pages}"
        self._follow_end = follow_end
        self._at_end = True
        bar = self.area.verticalScrollBar()
        bar.rangeChanged.connect(self._range_changed)
        bar.valueChanged.connect(lambda _v: self._update())
        self._queued = False
        content.installEventFilter(self)
        self.area.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._cover()
        if event.type() in (QEvent.Type.Resize, QEvent.Type.LayoutRequest) and not self._queued:
            # The items move after this event (the content's layout handles it next): look again then.
            self._queued = True
            QMetaObject.invokeMethod(self, "_queued_update", Qt.ConnectionType.QueuedConnection)
        return False

    @Slot()
    def _queued_update(self) -> None:
        self._queued = False
        self._update()

    def _cover(self) -> None:
        """The scroll range from the list's real height. QScrollArea sets it from the height-for-width of
        the content's layout, which wrapped tiles outgrow when they fit their text afterwards (measured:
        the range stopped 70 px short of the last category with larger text)."""
        content, bar = self.area.widget(), self.area.verticalScrollBar()
        if content is None:
            return
        wanted = max(0, content.height() - self.area.viewport().height())
        if bar.maximum() != wanted:
            bar.setRange(0, wanted)

    def set_labels(self, previous: str, next_: str, position: Callable[[int, int], str]) -> None:
        self.previous.setText(previous)
        self.next.setText(next_)
        self._position_text = position
        self._size_column()
        self._update()

    def _size_column(self) -> None:
        """Beside the list: the column as wide as its widest word (the buttons wrap, so it must be set)."""
        if not self._beside:
            return
        texts = (self.previous.text(), self.next.text(), self._position_text(9, 9))
        metrics = self.previous.fontMetrics()
        widest = max(metrics.horizontalAdvance(text) for text in texts)
        self.pager.setFixedWidth(max(BESIDE_MIN_WIDTH, widest + 48))
        self.setMinimumHeight(self._button_height() * 2 + 8)  # both buttons whole, always

    def _button_height(self) -> int:
        return max(max(b.sizeHint().height(), b.minimumHeight()) for b in (self.previous, self.next))

    def _arrange(self, *, narrow: bool) -> None:
        """The buttons in a row with the position between them; in a narrow column (the categories) the
        position goes below the two buttons instead, where its words have the whole width."""
        if narrow == self._narrow:
            return
        self._narrow = narrow
        row = self._row
        for widget in (self.previous, self.position, self.next):
            row.removeWidget(widget)
        for column in range(3):
            row.setColumnStretch(column, 0)
        if narrow:
            row.addWidget(self.previous, 0, 0)
            row.addWidget(self.next, 0, 1)
            row.addWidget(self.position, 1, 0, 1, 2)
            row.setColumnStretch(0, 1)
            row.setColumnStretch(1, 1)
        else:
            row.addWidget(self.previous, 0, 0)
            row.addWidget(self.position, 0, 1)
            row.addWidget(self.next, 0, 2)
            for column, stretch in enumerate((2, 1, 2)):
                row.setColumnStretch(column, stretch)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if not self._beside:
            self._arrange(narrow=self.width() < NARROW_PX)
        if self._beside:  # a short list: the two buttons first, the position only when there is room
            room = self.height() - 2 * self._button_height() - 16
            self.position.setVisible(room >= self.position.sizeHint().height())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._update()  # what changed while the list was hidden (another screen was shown)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.StyleChange, QEvent.Type.FontChange):
            self._size_column()  # larger text: a wider column

    def translate(self, ctx: Ctx) -> None:
        self.set_labels(
            ctx.t("pager.previous"),
            ctx.t("pager.next"),
            lambda page, pages: ctx.t("page.position", page=page, pages=pages),
        )

    def _step(self) -> int:
        return max(1, round(self.area.viewport().height() * PAGE_OVERLAP))

    def _blocks(self) -> list[tuple[int, int]]:
        """(top, bottom) of each shown item of the list (a tile, a row of replies, a paragraph)."""
        content = self.area.widget()
        if content is None:
            return []
        children = content.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
        return sorted((w.y(), w.y() + w.height()) for w in children if w.isVisible())

    def _needed(self) -> int:
        """The height the list needs: where its last item ends while it overflows; while it fits, the
        layout's own minimum (the items are stretched to the view then, so their bottom says nothing)."""
        content, view = self.area.widget(), self.area.viewport().height()
        if content is None:
            return 0
        if content.height() > view:
            return content_end(self._blocks(), view, self.area.verticalScrollBar().maximum())
        layout = content.layout()
        if layout is None:
            return content.minimumSizeHint().height()
        if layout.hasHeightForWidth():
            return layout.totalHeightForWidth(content.width())
        return layout.totalMinimumSize().height()

    def starts(self) -> list[int]:
        """Where each page begins (scroll positions), the first at 0 and the last at the end."""
        bar = self.area.verticalScrollBar()
        return page_starts(self._blocks(), self.area.viewport().height(), bar.maximum())

    def pages(self) -> tuple[int, int]:
        """(current page, number of pages), 1-based."""
        bar = self.area.verticalScrollBar()
        starts = self.starts()
        if bar.value() >= bar.maximum():
            return len(starts), len(starts)
        return sum(1 for start in starts if start <= bar.value()), len(starts)

    def turn(self, direction: int) -> None:
        """The next (+1) or previous (-1) page: a page begins with the first item the last one did not
        show whole, so no line is cut in half by a page turn (a single long text moves 90 % of a view)."""
        bar = self.area.verticalScrollBar()
        starts = self.starts()
        if direction > 0:
            later = [start for start in starts if start > bar.value()]
            bar.setValue(later[0] if later else bar.maximum())
        else:
            earlier = [start for start in starts if start < bar.value()]
            bar.setValue(earlier[-1] if earlier else 0)

    def to_start(self) -> None:
        self.area.verticalScrollBar().setValue(0)

    def to_end(self) -> None:
        """The last page, and stay there as the content grows (``follow_end``)."""
        self._at_end = True
        bar = self.area.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _range_changed(self, _low: int, high: int) -> None:
        self._cover()
        high = self.area.verticalScrollBar().maximum()
        if self._follow_end and self._at_end:
            self.area.verticalScrollBar().setValue(high)  # the newest line, once laid out
        self._update()

    def _update(self) -> None:
        bar = self.area.verticalScrollBar()
        self._at_end = bar.value() >= bar.maximum()
        page, pages = self.pages()
        room = self.area.viewport().height()
        showing = self.pager.isVisibleTo(self)
        if showing and not self._beside:
            room += self.pager.height() + PAGER_SPACING  # the room the list gets back without the pager
        # Shown while the list does not fit the room it would have without the pager: deciding by what the
        # items need, not by the content's margins, keeps a list a few pixels too tall from showing and
        # hiding the pager in turn.
        needed = self._needed()
        if showing != (needed > room):
            self.pager.setVisible(needed > room)
        self.previous.setEnabled(bar.value() > 0)
        self.next.setEnabled(page < pages)
        self.position.setText(self._position_text(page, pages))


def translate_pagers(root: QWidget, ctx: Ctx) -> None:
    """Every pager under ``root`` in the resident's language."""
    for paged in root.findChildren(PagedScroll):
        paged.translate(ctx)


def page_starts(blocks: list[tuple[int, int]], view: int, maximum: int) -> list[int]:
    """The scroll positions where the pages of a list begin: ``blocks`` are its items' (top, bottom), sorted
    by top; ``view`` the height shown; ``maximum`` the last scroll position. The next page begins at the
    first item that the page does not show whole, or 90 % of a view further when no item begins inside it
    (an item taller than the view); the pages end once the last item's bottom is shown (the margin below
    it is no page of its own)."""
    starts = [0]
    if view <= 0:
        return starts
    end = content_end(blocks, view, maximum)
    while starts[-1] < maximum and end > starts[-1] + view:
        here = starts[-1]
        cut = [top for top, bottom in blocks if bottom > here + view and top > here]
        step = here + max(1, round(view * PAGE_OVERLAP))
        spanning = any(top <= here and bottom > here + view for top, bottom in blocks)  # taller than the view
        following = min(cut[0], step) if cut and spanning else cut[0] if cut else step
        starts.append(min(maximum, following))
    return starts


def content_end(blocks: list[tuple[int, int]], view: int, maximum: int) -> int:
    """Where the list's last item ends (the whole content's height when there are no items)."""
    return max((bottom for _top, bottom in blocks), default=maximum + view)
