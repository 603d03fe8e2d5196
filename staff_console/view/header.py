"""The top bar: who is signed in, their state (with how long), wrap-up clock, available / away buttons."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from staff_console.controller import ConsoleController
from staff_console.directory import AWAY_REASONS
from staff_console.i18n import Messages
from staff_console.view import fmt
from staff_console.view.style import STATE_COLOURS


class Header(QFrame):
    available_clicked = Signal()
    away_clicked = Signal(str)
    invite_clicked = Signal()
    sign_out_clicked = Signal()

    def __init__(self, t: Messages, parent: QWidget | None = None):
        super().__init__(parent)
        self.t = t
        self.setObjectName("header")
        self.title = QLabel(t("app.title"), self)
        self.title.setObjectName("heading")
        self.who = QLabel("", self)
        self.badge = QLabel("", self)
        self.badge.setObjectName("badge")
        self.since = QLabel("", self)
        self.since.setObjectName("muted")
        self.wrap_up = QLabel("", self)
        self.wrap_up.setObjectName("wrapup")
        self.available = QPushButton(t("status.set_available"), self)
        self.available.setObjectName("primary")
        self.reason = QComboBox(self)
        for reason in AWAY_REASONS:
            self.reason.addItem(t(f"away.{reason}"), reason)
        self.away = QPushButton(t("status.set_away"), self)
        self.invite = QPushButton(t("invite.open"), self)
        self.invite.setObjectName("invite")
        self.invite.setToolTip(t("invite.open_tip"))
        self.sign_out = QPushButton(t("status.sign_out"), self)
        layout = QHBoxLayout(self)
        for widget in (self.title, self.who, self.badge, self.since, self.wrap_up):
            layout.addWidget(widget)
        layout.addStretch(1)
        for control in (self.invite, self.available, self.reason, self.away, self.sign_out):
            layout.addWidget(control)
        self.invite.clicked.connect(self.invite_clicked.emit)
        self.sign_out.clicked.connect(self.sign_out_clicked.emit)
        self.available.clicked.connect(self.available_clicked.emit)
        self.away.clicked.connect(lambda: self.away_clicked.emit(self.reason.currentData()))

    def refresh(self, c: ConsoleController) -> None:
        t = self.t
        role = t("signin.role_supervisor") if c.role.value == "supervisor" else t("signin.role_officer")
        self.who.setText(t("header.who", name=c.display_name, role=role))
        state = c.officer_state if c.online else "offline"
        if c.role.value == "supervisor" and c.online:
            state = "monitoring"
        text = t(f"state.{state}")
        if state == "away" and c.state_reason:
            text = t("state.away_reason", reason=fmt.state_reason(t, c.state_reason))
        self.badge.setText(text)
        self.badge.setStyleSheet(f"background: {STATE_COLOURS.get(state, '#616161')};")
        self.since.setText(t("header.since", elapsed=fmt.duration(t, c.state_elapsed())))
        remaining = c.wrap_up_remaining()
        if remaining is None:
            self.wrap_up.setText("")
        elif c.wrap.paused:  # the officer writes the outcome: wrap-up stands still
            self.wrap_up.setText(t("header.wrap_up_paused", left=fmt.duration(t, max(0.0, remaining))))
        elif remaining >= 0:
            self.wrap_up.setText(t("header.wrap_up_left", left=fmt.duration(t, remaining)))
        else:
            self.wrap_up.setText(t("header.wrap_up_over", over=fmt.duration(t, -remaining)))
        officer = c.role.value == "officer"
        busy = state in ("ringing", "in_call")
        for widget in (self.available, self.reason, self.away):
            widget.setVisible(officer)
        self.available.setEnabled(c.online and not busy and state != "available")
        self.away.setEnabled(c.online and not busy)
        self.since.setVisible(officer)
        self.invite.setEnabled(c.online)
