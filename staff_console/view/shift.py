"""The idle page: the departments served this shift (chosen from the officer's skills) and the wait state."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

from staff_console.controller import ConsoleController
from staff_console.i18n import Messages


class ShiftPage(QWidget):
    shift_chosen = Signal(list)

    def __init__(self, t: Messages, parent: QWidget | None = None):
        super().__init__(parent)
        self.t = t
        self.status = QLabel("", self)
        self.status.setObjectName("title")
        self.hint = QLabel("", self)
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        self.group = QGroupBox(t("shift.title"), self)
        self.boxes: dict[str, QCheckBox] = {}
        self._rendered_shift: list[str] | None = None
        self.group_layout = QVBoxLayout(self.group)
        self.current = QLabel("", self.group)
        self.current.setWordWrap(True)
        self.button = QPushButton(t("shift.apply"), self.group)
        self.button.setObjectName("primary")
        self.group_layout.addWidget(self.current)
        self.group_layout.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.hint)
        layout.addWidget(self.group)
        layout.addStretch(1)
        self.button.clicked.connect(self._apply)

    def _apply(self) -> None:
        chosen = [dep for dep, box in self.boxes.items() if box.isChecked()]
        self.shift_chosen.emit(chosen)

    def refresh(self, c: ConsoleController) -> None:
        t = self.t
        skills = c.skills
        if list(self.boxes) != skills:
            for box in self.boxes.values():
                self.group_layout.removeWidget(box)
                box.deleteLater()
            self.boxes = {}
            for index, dep in enumerate(skills):
                box = QCheckBox(c.directory.department_name(dep, t.language), self.group)
                box.setObjectName(f"shift-{dep}")
                box.setChecked(not c.shift or dep in c.shift)
                self.group_layout.insertWidget(index, box)
                self.boxes[dep] = box
        if c.shift != self._rendered_shift:  # the shift changed (or was set elsewhere): show it
            self._rendered_shift = list(c.shift)
            for dep, box in self.boxes.items():
                box.setChecked(not c.shift or dep in c.shift)
        names = [c.directory.department_name(d, t.language) for d in (c.shift or skills)]
        self.current.setText(t("shift.current", departments="、".join(names) if names else "—"))
        state = c.officer_state if c.online else "offline"
        self.status.setText(
            t(f"idle.{state}")
            if state in ("available", "away", "wrap_up", "offline")
            else t("idle.available")
        )
        if state == "available":
            self.hint.setText(t("idle.hint_available"))
        elif state == "wrap_up":
            self.hint.setText(t("idle.hint_wrap_up"))
        else:
            self.hint.setText(t("idle.hint_other"))
        self.group.setEnabled(c.online and state not in ("ringing", "in_call"))
