"""The incoming call panel: big, flashing, with everything the officer may know before answering.

A business (業者向け) is told apart by a labelled badge and its own title, not by colour alone: the
badge names the counter (業者 or 業者・動く窓口), and the rows show the company, the contact, the purpose
and the appointment instead of the kiosk's place and the resident's language."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from remote_call import protocol as p
from staff_console.directory import Directory
from staff_console.i18n import Messages
from staff_console.view import fmt

KIOSK_ROWS = ("kiosk", "procedure", "language", "accessibility")
BUSINESS_ROWS = ("company", "contact", "purpose", "appointment")
RING_BUTTON_GAP = 64  # px between 辞退 and 応答する
ROWS = ("company", "contact", "kiosk", "department", "purpose", "appointment", *KIOSK_ROWS[1:], "notes")


class RingPanel(QFrame):
    accept_clicked = Signal()
    decline_clicked = Signal()

    def __init__(
        self, t: Messages, directory: Directory, parent: QWidget | None = None, clock=time.monotonic
    ):
        super().__init__(parent)
        self.t = t
        self.directory = directory
        self.clock = clock
        self.offer: p.CallOffer | None = None
        self._shown_at = 0.0
        self.setObjectName("ringPanel")
        self.title = QLabel(t("ring.title"), self)
        self.title.setObjectName("ringTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge = QLabel("", self)
        self.badge.setObjectName("businessBadge")
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge.setVisible(False)
        grid = QGridLayout()
        self.values: dict[str, QLabel] = {}
        self.names: dict[str, QLabel] = {}
        for row, key in enumerate(ROWS):
            name = QLabel(t(f"ring.{key}"), self)
            name.setObjectName("ringField")
            value = QLabel("", self)
            value.setObjectName("ringValue")
            value.setWordWrap(True)
            grid.addWidget(name, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, row, 1)
            self.values[key] = value
            self.names[key] = name
        grid.setColumnStretch(1, 1)
        self.waited = QLabel("", self)
        self.waited.setObjectName("ringWait")
        self.waited.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.countdown = QLabel("", self)
        self.countdown.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.accept = QPushButton(t("ring.accept"), self)
        self.accept.setObjectName("accept")
        self.decline = QPushButton(t("ring.decline"), self)
        self.decline.setObjectName("decline")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.decline)
        buttons.addSpacing(RING_BUTTON_GAP)  # apart, so that a hurried press does not hit 辞退 for 応答する
        buttons.addWidget(self.accept)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        badge_row = QHBoxLayout()
        badge_row.addStretch(1)
        badge_row.addWidget(self.badge)
        badge_row.addStretch(1)
        layout.addLayout(badge_row)
        layout.addLayout(grid)
        layout.addWidget(self.waited)
        layout.addWidget(self.countdown)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.accept.clicked.connect(self.accept_clicked.emit)
        self.decline.clicked.connect(self.decline_clicked.emit)
        self._flash = QTimer(self)
        self._flash.setInterval(500)
        self._flash.timeout.connect(self._toggle)

    def show_offer(self, offer: p.CallOffer) -> None:
        t, d = self.t, self.directory
        self.offer = offer
        self._shown_at = self.clock()
        self._show_kind(offer.business)
        location = offer.kiosk.location or d.kiosk_location(offer.kiosk.id)
        self.values["kiosk"].setText(f"{offer.kiosk.name}（{location}）" if location else offer.kiosk.name)
        self.values["department"].setText(d.department_name(offer.department, t.language))
        procedure = d.procedure_name(offer.caller.procedure, t.language)
        self.values["procedure"].setText(procedure or t("ring.no_procedure"))
        self.values["language"].setText(fmt.language(t, offer.caller.language))
        self.values["accessibility"].setText(fmt.accessibility(t, offer.caller.accessibility))
        notes = [d.transfer_note(note, t.language) for note in offer.notes]
        self.values["notes"].setText("\n".join(notes) if notes else t("ring.no_notes"))
        self.accept.setEnabled(True)
        self.decline.setEnabled(True)
        self.tick()
        self._flash.start()

    def _show_kind(self, business: p.BusinessInfo | None) -> None:
        """Kiosk rows for a resident, business rows (and the badge) for a business."""
        t = self.t
        for key in KIOSK_ROWS:
            self._row(key, business is None)
        for key in BUSINESS_ROWS:
            self._row(key, business is not None)
        self.badge.setVisible(business is not None)
        self.title.setText(t("ring.title_business") if business else t("ring.title"))
        if business is None:
            return
        self.badge.setText(fmt.business_badge(t, business))
        self.values["company"].setText(business.company)
        self.values["contact"].setText(business.contact_name)
        self.values["purpose"].setText(business.purpose or t("ring.no_purpose"))
        self.values["appointment"].setText(business.appointment_id or t("ring.no_appointment"))

    def _row(self, key: str, visible: bool) -> None:
        self.names[key].setVisible(visible)
        self.values[key].setVisible(visible)

    def stop(self) -> None:
        self._flash.stop()
        self.offer = None

    def tick(self) -> None:
        if self.offer is None:
            return
        elapsed = self.clock() - self._shown_at
        self.waited.setText(self.t("ring.waited", waited=fmt.duration(self.t, self.offer.waited_s + elapsed)))
        left = max(0.0, self.offer.ring_timeout_s - elapsed)
        self.countdown.setText(self.t("ring.countdown", left=fmt.duration(self.t, left)))

    def _toggle(self) -> None:
        flash = self.property("flash") != "true"
        self.setProperty("flash", "true" if flash else "false")
        self.style().unpolish(self)
        self.style().polish(self)
        self.tick()
