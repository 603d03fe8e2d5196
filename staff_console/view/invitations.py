"""The business invitation dialog (業者を招待): create an invitation, copy its link, revoke today's.

Non-modal (``show()``, never ``exec()`` under qasync). The REST calls are the controller's
(``ConsoleController.invitations``, ``staff_console.invitations``); a refusal is shown in the dialog in the
officer's language, with the server's own message when it gives one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from staff_console.controller import ConsoleController
from staff_console.i18n import Messages
from staff_console.invitations import Invitation, InvitationError, InvitationRequest
from staff_console.view.tasks import TaskRunner

DEFAULT_WINDOW = dt.timedelta(hours=2)
COLUMNS = ("window", "company", "contact", "department", "status")


class InvitationDialog(QDialog):
    changed = Signal(str)  # "created", "listed", "revoked", "failed": after the dialog shows the result

    def __init__(
        self,
        t: Messages,
        controller: ConsoleController,
        runner: TaskRunner,
        departments: list[tuple[str, str]],
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.t = t
        self.controller = controller
        self.runner = runner
        self.names = dict(departments)
        self.invitations: list[Invitation] = []
        self.created: Invitation | None = None
        self.setWindowTitle(t("invite.title"))
        self.setObjectName("invitationDialog")
        self.setModal(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self._heading("invite.new"))
        layout.addLayout(self._form(departments))
        layout.addWidget(self._result())
        layout.addWidget(self._heading("invite.today"))
        layout.addWidget(self._list(), 1)
        self.resize(760, 860)

    def _heading(self, key: str) -> QLabel:
        label = QLabel(self.t(key), self)
        label.setObjectName("heading")
        return label

    def _form(self, departments: list[tuple[str, str]]) -> QFormLayout:
        t, c = self.t, self.controller
        # Officers invite for the departments they serve, supervisors for those they supervise (the server
        # checks the same skills and answers 403 otherwise).
        mine = set(c.skills) or {d for d, _ in departments}
        self.department = QComboBox(self)
        for dep, name in departments:
            if dep in mine:
                self.department.addItem(name, dep)
        self.company = QLineEdit(self)
        self.contact = QLineEdit(self)
        self.email = QLineEdit(self)
        self.email.setPlaceholderText("name@example.co.jp")
        self.purpose = QPlainTextEdit(self)
        self.purpose.setPlaceholderText(t("invite.purpose_hint"))
        self.purpose.setFixedHeight(70)
        now = dt.datetime.now().replace(second=0, microsecond=0)
        self.valid_from = self._moment(now)
        self.valid_until = self._moment(now + DEFAULT_WINDOW)
        self.appointment = QLineEdit(self)
        self.appointment.setPlaceholderText(t("invite.appointment_hint"))
        self.second_factor = QCheckBox(t("invite.second_factor"), self)
        self.mobile = QCheckBox(t("invite.mobile"), self)
        self.mobile.setToolTip(t("invite.mobile_tip"))
        self.create_button = QPushButton(t("invite.create"), self)
        self.create_button.setObjectName("primary")
        self.create_button.clicked.connect(self.submit)
        form = QFormLayout()
        form.addRow(t("invite.department"), self.department)
        form.addRow(t("invite.company"), self.company)
        form.addRow(t("invite.contact"), self.contact)
        form.addRow(t("invite.email"), self.email)
        form.addRow(t("invite.purpose"), self.purpose)
        form.addRow(t("invite.valid_from"), self.valid_from)
        form.addRow(t("invite.valid_until"), self.valid_until)
        form.addRow(t("invite.appointment"), self.appointment)
        form.addRow(self.second_factor)
        form.addRow(self.mobile)
        form.addRow(self.create_button)
        return form

    def _moment(self, value: dt.datetime) -> QDateTimeEdit:
        edit = QDateTimeEdit(QDateTime(value.year, value.month, value.day, value.hour, value.minute, 0), self)
        edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        edit.setCalendarPopup(True)
        return edit

    def _result(self) -> QWidget:
        box = QWidget(self)
        self.status = QLabel("", box)
        self.status.setWordWrap(True)
        self.link = QLineEdit(box)
        self.link.setReadOnly(True)
        self.link.setObjectName("invitationLink")
        self.copy = QPushButton(self.t("invite.copy"), box)
        self.copy.setEnabled(False)
        self.copy.clicked.connect(self.copy_link)
        row = QHBoxLayout()
        row.addWidget(self.link, 1)
        row.addWidget(self.copy)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addLayout(row)
        return box

    def _list(self) -> QWidget:
        box = QWidget(self)
        self.table = QTableWidget(0, len(COLUMNS), box)
        self.table.setHorizontalHeaderLabels([self.t(f"invite.col_{c}") for c in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.revoke = QPushButton(self.t("invite.revoke"), box)
        self.revoke.setObjectName("danger")
        self.revoke.clicked.connect(self.revoke_selected)
        self.refresh_button = QPushButton(self.t("invite.reload"), box)
        self.refresh_button.clicked.connect(self.reload)
        row = QHBoxLayout()
        row.addWidget(self.refresh_button)
        row.addStretch(1)
        row.addWidget(self.revoke)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        return box

    # ------------------------------------------------------------------ actions

    def request(self) -> InvitationRequest:
        return InvitationRequest(
            department=self.department.currentData() or "",
            company=self.company.text(),
            contact_name=self.contact.text(),
            email=self.email.text(),
            purpose=self.purpose.toPlainText(),
            valid_from=_moment_of(self.valid_from),
            valid_until=_moment_of(self.valid_until),
            second_factor=self.second_factor.isChecked(),
            mobile=self.mobile.isChecked(),
            appointment_id=self.appointment.text().strip() or None,
        )

    def submit(self) -> None:
        request = self.request()
        wrong = request.problems()
        if wrong:
            fields = "、".join(self.t(f"invite.field_{name}") for name in wrong)
            self._show("failed", self.t("invite.fix_fields", fields=fields))
            return
        self.create_button.setEnabled(False)
        self._run(self._create(request))

    async def _create(self, request: InvitationRequest) -> None:
        try:
            invitation = await self.controller.invitations.create(request)
        finally:
            self.create_button.setEnabled(True)
        self.created = invitation
        self.link.setText(invitation.link)
        self.copy.setEnabled(bool(invitation.link))
        mail = "invite.emailed" if invitation.emailed else "invite.not_emailed"
        self._show("created", self.t("invite.created", company=request.company) + " " + self.t(mail))
        await self._reload()

    def copy_link(self) -> None:
        QApplication.clipboard().setText(self.link.text())
        self.status.setText(self.t("invite.copied"))

    def reload(self) -> None:
        self._run(self._reload())

    async def _reload(self) -> None:
        self.invitations = await self.controller.invitations.list_today()
        rows = [self._row(i) for i in self.invitations]
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for col, value in enumerate(row):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, self.invitations[r].invitation_id)
                self.table.setItem(r, col, item)
        self.revoke.setEnabled(bool(rows))
        self.changed.emit("listed")

    def _row(self, invitation: Invitation) -> list[str]:
        t = self.t
        status = invitation.status
        label = t(f"invite.status_{status}") if t.has(f"invite.status_{status}") else status
        company = invitation.company + (t("invite.mobile_suffix") if invitation.mobile else "")
        return [
            f"{_clock(invitation.valid_from)}–{_clock(invitation.valid_until)}",
            company,
            invitation.contact_name,
            self.names.get(invitation.department, invitation.department),
            label,
        ]

    def revoke_selected(self) -> None:
        row = self.table.currentRow()
        if not 0 <= row < len(self.invitations):
            self._show("failed", self.t("invite.choose_row"))
            return
        invitation = self.invitations[row]

        async def revoke() -> None:
            await self.controller.invitations.revoke(invitation.invitation_id)
            self._show("revoked", self.t("invite.revoked", company=invitation.company))
            await self._reload()

        self._run(revoke())

    def _run(self, action: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await action
            except InvitationError as exc:
                self._show("failed", self.t("invite.failed", detail=exc.message(self.t.language)))

        self.runner.run(guarded())

    def _show(self, event: str, text: str) -> None:
        self.status.setObjectName("error" if event == "failed" else "")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
        self.status.setText(text)
        self.changed.emit(event)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        """Wait until ``predicate()`` holds, re-checked after each result the dialog shows (tests)."""
        import asyncio

        if predicate():
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def check(_event: str) -> None:
            if not done.done() and predicate():
                done.set_result(None)

        self.changed.connect(check)
        try:
            await asyncio.wait_for(done, timeout)
        finally:
            self.changed.disconnect(check)


def _clock(value: Any) -> str:
    """``HH:MM`` of an ISO 8601 time in the console's zone (the text itself when it is not one)."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%m/%d %H:%M")


def _moment_of(edit: QDateTimeEdit) -> dt.datetime:
    value = edit.dateTime().toPython()
    assert isinstance(value, dt.datetime)
    return value
