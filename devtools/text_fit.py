"""The check that no text on a rendered screen is elided, clipped or overflowing its box.

``text_problems(window)`` looks at every visible label and text button of a rendered window and compares
the room the text needs (Qt's own height-for-width for wrapping labels, the text document's ideal width
for the longest unbreakable word, the ruby layout for furigana labels, the size hint for buttons) with the
widget's geometry, and the widget's box with the boxes of its parents up to the window (a parent clips
what sticks out), stopping at a scroll area's content (that scrolls). Each text also needs a box of its own:
two visible texts of one parent whose boxes overlap are drawn over each other (``overlapping_texts``; a
tile's department line under its 「コンビニでも もらえます」 line, issue #15). Used by
``tests/kiosk_client/test_text_fit.py`` over every kiosk screen.
"""

from __future__ import annotations

import itertools

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QTextDocument, QTextOption
from PySide6.QtWidgets import QAbstractButton, QLabel, QPushButton, QScrollArea, QWidget

from kiosk_client.view.widgets import PhraseLabel, WrapButton

SLACK = 2  # pixels of rounding


def _name(widget: QWidget) -> str:
    return widget.objectName() or type(widget).__name__


def _ideal_width(label: QLabel, text: str, width: int) -> float:
    """The width the text needs at ``width`` (more than ``width`` when a word cannot be broken)."""
    document = QTextDocument()
    document.setDefaultFont(label.font())
    document.setDocumentMargin(0)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap if label.wordWrap() else QTextOption.WrapMode.NoWrap)
    document.setDefaultTextOption(option)
    if label.textFormat() == Qt.TextFormat.RichText:
        document.setHtml(text)
    else:
        document.setPlainText(text)
    document.setTextWidth(width if label.wordWrap() else -1)
    return document.idealWidth()


def label_problem(label: QLabel) -> str | None:
    """Why ``label``'s text does not fit its box, or None."""
    box = label.contentsRect()
    if isinstance(label, PhraseLabel) and label.ruby is not None:
        ruby = label.ruby
        width = box.width() if label.wordWrap() else 1 << 20
        need_w = ruby.layout(width)[2]
        need_h = ruby.height_for(width)
    else:
        shown = QLabel.text(label)  # what Qt draws (with the word joiners of PhraseLabel)
        if not shown or not label.pixmap().isNull():
            return None
        need_w = int(_ideal_width(label, shown, box.width()))
        need_h = label.heightForWidth(label.width()) if label.wordWrap() else label.sizeHint().height()
        need_h -= label.height() - box.height()  # both include the label's padding and frame; box does not
    if need_w > box.width() + SLACK:
        return f"needs {need_w} px wide, has {box.width()}"
    if need_h > box.height() + SLACK:
        return f"needs {need_h} px high, has {box.height()}"
    return None


def button_problem(button: QPushButton) -> str | None:
    if not button.text():
        return None
    hint = button.sizeHint()
    if hint.width() > button.width() + SLACK:
        return f"text needs {hint.width()} px wide, has {button.width()}"
    if hint.height() > button.height() + SLACK and "\n" in button.text():
        return f"text needs {hint.height()} px high, has {button.height()}"
    if isinstance(button, WrapButton) and (cut := button.cut_phrases()):
        return f"the phrase {cut[0].strip()!r} is cut between characters"
    return None


def clipped_by_parent(widget: QWidget, window: QWidget) -> str | None:
    """A parent clips what sticks out of it; a scroll area's content may be larger than the view."""
    child: QWidget = widget
    box = widget.rect()
    parent = widget.parentWidget()
    while parent is not None and child is not window:
        if isinstance(parent.parentWidget(), QScrollArea) or isinstance(parent, QScrollArea):
            return None
        box = box.translated(child.pos())
        if not parent.rect().adjusted(-SLACK, -SLACK, SLACK, SLACK).contains(box):
            return f"sticks out of {_name(parent)} ({_rect(box)} in {_rect(parent.rect())})"
        child, parent = parent, parent.parentWidget()
    return None


def _rect(r: QRect) -> str:
    return f"{r.x()},{r.y()} {r.width()}x{r.height()}"


def _has_text(widget: QWidget) -> bool:
    if isinstance(widget, QLabel):
        return bool(widget.text()) and widget.pixmap().isNull()
    return isinstance(widget, QPushButton) and bool(widget.text())


def overlapping_texts(window: QWidget) -> list[str]:
    """Pairs of visible texts (labels, text buttons) with one parent whose boxes overlap."""
    problems: list[str] = []
    for parent in [window, *window.findChildren(QWidget)]:
        if not parent.isVisible():
            continue
        texts = [w for w in parent.children() if isinstance(w, QWidget) and w.isVisible() and _has_text(w)]
        for a, b in itertools.combinations(texts, 2):
            both = a.geometry().intersected(b.geometry())
            if both.width() > SLACK and both.height() > SLACK:
                problems.append(
                    f"{_name(a)} {_text(a)!r} overlaps {_name(b)} {_text(b)!r} in {_name(parent)} "
                    f"({_rect(a.geometry())} and {_rect(b.geometry())})"
                )
    return problems


def _text(widget: QWidget) -> str:
    return widget.text()[:30] if isinstance(widget, (QLabel, QAbstractButton)) else ""


def text_problems(window: QWidget) -> list[str]:
    problems: list[str] = [f"overlap: {p}" for p in overlapping_texts(window)]
    for label in window.findChildren(QLabel):
        if label.isVisible() and label.text():
            why = label_problem(label) or clipped_by_parent(label, window)
            if why:
                problems.append(f"label {_name(label)} {label.text()[:40]!r}: {why}")
    for button in window.findChildren(QAbstractButton):
        if isinstance(button, QPushButton) and button.isVisible():
            why = button_problem(button) or (clipped_by_parent(button, window) if button.text() else None)
            if why:
                problems.append(f"button {_name(button)} {button.text()[:40]!r}: {why}")
    return problems
