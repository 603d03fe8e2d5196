"""Sign-in page: server, user name, password and role. The password leaves the field as soon as it is sent."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from remote_call.signaling_client import ServerUrls
from staff_console.i18n import Messages


class SignInPage(QWidget):
    submitted = Signal(str, str, str)  # username, password, role

    def __init__(
        self, t: Messages, server_url: ServerUrls, username: str = "", parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.t = t
        box = QFrame(self)
        box.setMaximumWidth(460)
        title = QLabel(t("signin.title"), box)
        title.setObjectName("title")
        self.server = QLabel(
            t("signin.server", url=server_url if isinstance(server_url, str) else ", ".join(server_url)), box
        )
        self.server.setObjectName("muted")
        self.server.setWordWrap(True)  # several nodes' URLs: one line each when they do not fit together
        self.username = QLineEdit(username, box)
        self.username.setObjectName("username")
        self.password = QLineEdit(box)
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.role = QComboBox(box)
        self.role.addItem(t("signin.role_officer"), "officer")
        self.role.addItem(t("signin.role_supervisor"), "supervisor")
        self.button = QPushButton(t("signin.button"), box)
        self.button.setObjectName("primary")
        self.error = QLabel("", box)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow(t("signin.username"), self.username)
        form.addRow(t("signin.password"), self.password)
        form.addRow(t("signin.role"), self.role)
        inner = QVBoxLayout(box)
        inner.addWidget(title)
        inner.addWidget(self.server)
        inner.addLayout(form)
        inner.addWidget(self.button)
        inner.addWidget(self.error)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(box, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)
        self.button.clicked.connect(self._submit)
        self.password.returnPressed.connect(self._submit)

    def _submit(self) -> None:
        username = self.username.text().strip()
        password = self.password.text()
        if not username or not password:
            self.show_error(self.t("signin.missing"))
            return
        self.password.clear()
        self.set_busy(True)
        self.error.setText("")
        self.submitted.emit(username, password, self.role.currentData())

    def set_busy(self, busy: bool) -> None:
        self.button.setEnabled(not busy)
        self.button.setText(self.t("signin.busy") if busy else self.t("signin.button"))

    def show_error(self, text: str) -> None:
        self.set_busy(False)
        self.error.setText(text)
