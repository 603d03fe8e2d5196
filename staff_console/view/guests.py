"""The officer's 「家族」 tab in the call page: invite a family member into the call by link (issue 18).

It shows the link (to read out or copy), a QR code for a phone held up to the screen, when it expires and
whether it was e-mailed, whether the family member is in the call, and their video. It emits
``create_clicked`` with the e-mail address (may be empty); the window runs the controller's request and
hands it to ``show_link``."""

from __future__ import annotations

from collections.abc import Awaitable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from staff_console.controller import ConsoleController
from staff_console.guests import GuestLink, qr_png
from staff_console.i18n import Messages
from staff_console.invitations import InvitationError
from staff_console.view.video import VideoView


class GuestTab(QWidget):
    create_clicked = Signal(str)

    def __init__(self, t: Messages, parent: QWidget | None = None):
        super().__init__(parent)
        self.t = t
        self.created: GuestLink | None = None
        intro = QLabel(t("guest.intro"), self)
        intro.setWordWrap(True)
        self.email = QLineEdit(self)
        self.email.setPlaceholderText(t("guest.email"))
        self.email.setObjectName("guestEmail")
        self.invite = QPushButton(t("guest.create"), self)
        self.invite.setObjectName("primary")
        self.link = QLineEdit(self)
        self.link.setReadOnly(True)
        self.link.setObjectName("guestLink")
        self.copy = QPushButton(t("guest.copy"), self)
        self.copy.setEnabled(False)
        self.qr = QLabel(self)
        self.qr.setObjectName("guestQr")
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status = QLabel("", self)
        self.status.setObjectName("guestStatus")
        self.status.setWordWrap(True)
        self.presence = QLabel("", self)
        self.presence.setObjectName("guestPresence")
        self.video = VideoView(t("guest.video_waiting"), self, border=True)
        self.video.setObjectName("guestVideo")
        self.video.setMinimumHeight(160)
        row = QHBoxLayout()
        row.addWidget(self.link, 1)
        row.addWidget(self.copy)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.email)
        layout.addWidget(self.invite)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.qr, 1)
        layout.addWidget(self.presence)
        layout.addWidget(self.video, 1)
        self.invite.clicked.connect(self._clicked)
        self.copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.link.text()))

    def _clicked(self) -> None:
        self.invite.setEnabled(False)
        self.create_clicked.emit(self.email.text())

    async def show_link(self, pending: Awaitable[GuestLink]) -> None:
        """The controller's answer: the link, its QR code and expiry, or why there is none."""
        try:
            link = await pending
        except InvitationError as exc:
            self.status.setText(self.t("guest.failed", reason=exc.message(self.t.language)))
            return
        finally:
            self.invite.setEnabled(True)
        self.created = link
        self.link.setText(link.link)
        self.link.setCursorPosition(0)  # the start of the address shows, not its secret tail
        self.copy.setEnabled(True)
        lines = [self.t("guest.link_ready", until=link.until)]
        if link.emailed:
            lines.append(self.t("guest.emailed"))
        elif link.email_error:
            lines.append(self.t("guest.not_emailed", reason=link.email_error))
        self.status.setText("\n".join(lines))
        pixmap = QPixmap()
        pixmap.loadFromData(qr_png(link.link), "PNG")
        self.qr.setPixmap(pixmap)

    def refresh(self, controller: ConsoleController) -> None:
        """Whether the family member is connected now (the console's peer connection to ``guest``)."""
        session = controller.conference.session("guest")
        if session is not None:
            self.presence.setText(self.t("guest.joined"))
        elif self.presence.text():
            self.presence.setText(self.t("guest.left"))
        source = session.remote_video if session is not None else None
        if self.video.source is not source:
            self.video.set_source(source)

    def reset(self) -> None:
        self.created = None
        for widget in (self.link, self.email):
            widget.clear()
        for label in (self.status, self.presence, self.qr):
            label.clear()
        self.copy.setEnabled(False)
        self.invite.setEnabled(True)
        self.video.set_source(None)
