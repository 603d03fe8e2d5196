"""The wrap-up page (後処理): the outcome and notes form of a call that ended before the officer gave its
outcome. It stays until the outcome is recorded, whatever the wrap-up clock says; the clock stands still
while the officer writes (``WrapUpClock.pause``)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QButtonGroup,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from staff_console.controller import ConsoleController
from staff_console.i18n import Messages
from staff_console.view import fmt
from staff_console.view.call import END_OUTCOMES


class WrapUpPage(QWidget):
    recorded = Signal(str, str)  # outcome, notes
    writing = Signal()  # the officer typed in the notes

    def __init__(self, t: Messages, parent: QWidget | None = None):
        super().__init__(parent)
        self.t = t
        title = QLabel(t("wrap.title"), self)
        title.setObjectName("heading")
        self.info = QLabel("", self)
        self.info.setObjectName("callInfo")
        self.info.setWordWrap(True)
        self.clock = QLabel("", self)
        self.clock.setObjectName("wrapClock")
        layout = QVBoxLayout(self)
        for widget in (title, self.info, self.clock):
            layout.addWidget(widget)
        outcome = QLabel(t("end.outcome"), self)
        outcome.setObjectName("heading")
        layout.addWidget(outcome)
        group = QButtonGroup(self)
        self.outcome_buttons: dict[str, QRadioButton] = {}
        for key in END_OUTCOMES:
            button = QRadioButton(t(f"outcome.{key}"), self)
            button.setObjectName(f"wrap-outcome-{key}")
            group.addButton(button)
            layout.addWidget(button)
            self.outcome_buttons[key] = button
        layout.addWidget(QLabel(t("end.notes"), self))
        self.notes = QPlainTextEdit(self)
        self.notes.setObjectName("wrapNotes")
        layout.addWidget(self.notes, 1)
        self.record = QPushButton(t("wrap.record"), self)
        self.record.setObjectName("primary")
        layout.addWidget(self.record)
        self.notes.textChanged.connect(self.writing.emit)
        self.record.clicked.connect(self._record)

    def start(self, c: ConsoleController, outcome: str, notes: str) -> None:
        """Show the owed outcome's form, carrying what the officer had chosen and written in the call."""
        t = self.t
        owed = c.wrap.owed
        entry = c.history.get(owed.call_id) if owed is not None else None
        reason = owed.reason if owed is not None else ""
        self.info.setText(
            t(
                "wrap.ended",
                reason=t(f"end_reason.{reason}") if t.has(f"end_reason.{reason}") else reason,
                kiosk=entry.kiosk_name if entry else "—",
                department=c.directory.department_name(entry.department, t.language) if entry else "—",
            )
        )
        self.outcome_buttons.get(outcome, self.outcome_buttons["resolved"]).setChecked(True)
        self.notes.blockSignals(True)  # carried over, not typed: the clock keeps running
        self.notes.setPlainText(notes)
        self.notes.moveCursor(QTextCursor.MoveOperation.End)  # the officer goes on where they stopped
        self.notes.blockSignals(False)
        self.record.setEnabled(True)
        self.refresh(c)

    def refresh(self, c: ConsoleController) -> None:
        t = self.t
        left = c.wrap_up_remaining()
        if left is None:
            self.clock.setText("")
        elif c.wrap.paused:
            self.clock.setText(t("wrap.paused", left=fmt.duration(t, max(0.0, left))))
        elif left >= 0:
            self.clock.setText(t("wrap.remaining", left=fmt.duration(t, left)))
        else:
            self.clock.setText(t("wrap.overdue", over=fmt.duration(t, -left)))

    def _record(self) -> None:
        outcome = next(o for o, b in self.outcome_buttons.items() if b.isChecked())
        self.record.setEnabled(False)  # once: the window shows the next page when the controller confirms
        self.recorded.emit(outcome, self.notes.toPlainText().strip())
