"""「予約のある方」: the check-in screen — a large numeric pad for the booking's PIN, and a button that reads
the QR code of the confirmation through the kiosk's camera. Every touch goes to the controller's
``appointment`` part; the digits typed live in the resident's session (the privacy reset clears them)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QSizePolicy, QVBoxLayout

from kiosk_client.appointment import PIN_DIGITS
from kiosk_client.controller import KioskController
from kiosk_client.view.base import Ctx, Screen, run
from kiosk_client.view.widgets import button, label


class AppointmentScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        part = controller.appointment
        layout = QVBoxLayout(self)
        # Tight vertically: with larger text and a notice above (appointment_refused) on 1080 p, margins of
        # 24 px and a spacing of 14 px left the pad 26 px short and its rows of buttons overlapped; on
        # 1280x800 the pad stuck out 33 px below the screen while the prompt and the typed digits sat above
        # it. They now sit beside the pad, which takes the height under the title alone.
        margin = controller.kiosk_config.screen_width_px // 12  # 160 px on the 1920 px kiosk, 106 px on 1280
        layout.setContentsMargins(margin, 8, margin, 8)
        layout.setSpacing(8)
        self.title = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.prompt = label(rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.display = label(role="big", wrap=False, align=Qt.AlignmentFlag.AlignCenter)
        self.display.setObjectName("appointment-display")
        # One line, whose width does not push the layout around (the pad and the column keep their shares).
        self.display.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.title)
        grid = QGridLayout()
        grid.setSpacing(12)
        for i, digit in enumerate("1234567890"):
            b = button(f"appointment-{digit}")
            b.setText(digit)
            b.setProperty("big", "true")
            b.clicked.connect(lambda _=False, d=digit: part.type_digit(d))
            grid.addWidget(b, i // 3 if digit != "0" else 3, i % 3 if digit != "0" else 1)
        self.erase = button("appointment-erase", wrap=True)
        self.erase.clicked.connect(part.erase)
        self.ok = button("appointment-ok", "primary", wrap=True)
        self.ok.clicked.connect(lambda: run(part.submit()))
        for b in (self.erase, self.ok):
            b.setProperty("big", "true")
        grid.addWidget(self.erase, 3, 0)
        grid.addWidget(self.ok, 3, 2)
        # The pad on the left, the QR code reader and the way back on the right: the pad keeps its size when
        # a notice takes the top of the screen.
        row = QHBoxLayout()
        row.setSpacing(48)
        row.addLayout(grid, 3)
        side = QVBoxLayout()
        side.setSpacing(18)
        self.or_qr = label(rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.scan = button("appointment-scan", wrap=True)
        self.scan.clicked.connect(lambda: run(part.scan_qr()))
        self.back = button("appointment-back", wrap=True)
        self.back.clicked.connect(controller.home)
        side.addWidget(self.prompt)
        side.addWidget(self.display)
        side.addStretch(1)
        side.addWidget(self.or_qr)
        side.addWidget(self.scan)
        side.addStretch(1)
        side.addWidget(self.back)
        row.addLayout(side, 2)
        layout.addLayout(row)
        layout.addStretch(1)

    def refresh(self, ctx: Ctx) -> None:
        c = ctx.controller
        typed = len(c.resident.appointment_pin)
        self.title.setText(ctx.h("appointment.title"))
        self.prompt.setText(ctx.h("appointment.prompt"))
        # Hair spaces: six large marks on one line beside the pad (with spaces they wrapped at larger text).
        self.display.setText("\u200a".join("●" * typed + "－" * (PIN_DIGITS - typed)))
        self.or_qr.setText(ctx.h("appointment.scanning" if c.appointment.scanning else "appointment.or_qr"))
        self.erase.setText(ctx.t("appointment.erase"))
        self.ok.setText(ctx.t("appointment.ok"))
        self.back.setText(ctx.t("appointment.back"))
        self.scan.setText(ctx.t("appointment.scan"))
        self.scan.setEnabled(not c.appointment.scanning)
