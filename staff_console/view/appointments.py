"""The 予約 (appointments) tab: the officer's booked slots of a day and, for supervisors, a department's
bookings of a chosen day with its no-show rate. Read-only; the REST calls are ``staff_console.appointments``
(the controller's session token), run on the qasync loop by the window's TaskRunner."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from staff_console.appointments import AppointmentClient, AppointmentError, Booking
from staff_console.controller import ConsoleController
from staff_console.i18n import Messages
from staff_console.view import fmt
from staff_console.view.tasks import TaskRunner

MINE = ("time", "procedure", "name", "contact", "state", "notes")
DEPARTMENT = ("time", "officer", "procedure", "name", "contact", "state", "notes")


def _table(parent: QWidget, t: Messages, columns: tuple[str, ...], name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns), parent)
    table.setObjectName(name)
    table.setHorizontalHeaderLabels([t(f"appointments.col_{c}") for c in columns])
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(len(columns) - 1, QHeaderView.ResizeMode.Stretch)
    return table


def _bookable(controller: ConsoleController) -> set[str]:
    """The departments that take bookings, from the console's config (empty: not known here)."""
    config = controller.directory.config
    return {d.department for d in config.appointments.departments} if config is not None else set()


class AppointmentsTab(QWidget):
    changed = Signal(str)  # "mine", "department", "failed": after the tab shows the result

    def __init__(self, t: Messages, runner: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.t = t
        self.runner = runner
        self.controller: ConsoleController | None = None
        self.client: AppointmentClient | None = None
        self.day = QDateEdit(QDate.currentDate(), self)
        self.day.setDisplayFormat("yyyy-MM-dd")
        self.day.setCalendarPopup(True)
        self.reload_button = QPushButton(t("appointments.reload"), self)
        self.reload_button.clicked.connect(self.reload)
        self.status = QLabel("", self)
        self.status.setObjectName("muted")
        self.mine_heading = QLabel(t("appointments.mine"), self)
        self.mine_heading.setObjectName("heading")
        self.mine = _table(self, t, MINE, "myAppointmentsTable")
        self.department_heading = QLabel(t("appointments.department_bookings"), self)
        self.department_heading.setObjectName("heading")
        self.department = QComboBox(self)
        self.department.currentIndexChanged.connect(lambda _i: self.reload())
        self.no_show = QLabel("", self)
        self.bookings = _table(self, t, DEPARTMENT, "departmentAppointmentsTable")
        bar = QHBoxLayout()
        bar.addWidget(QLabel(t("appointments.day"), self))
        bar.addWidget(self.day)
        bar.addWidget(self.reload_button)
        bar.addWidget(self.status, 1)
        supervisor_bar = QHBoxLayout()
        supervisor_bar.addWidget(self.department_heading)
        supervisor_bar.addWidget(self.department)
        supervisor_bar.addWidget(self.no_show, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.mine_heading)
        layout.addWidget(self.mine, 1)
        layout.addLayout(supervisor_bar)
        layout.addWidget(self.bookings, 2)
        self._show_department(False)

    @property
    def supervisor(self) -> bool:
        return self.controller is not None and self.controller.role.value == "supervisor"

    def attach(self, controller: ConsoleController, departments: list[tuple[str, str]]) -> None:
        """Use this signed-in controller's session; supervisors choose among their departments."""
        self.controller = controller
        self.client = AppointmentClient(
            controller.rest_base,
            lambda: controller._session_token,
            controller._rest_ssl,
        )
        mine = set(controller.skills) & (_bookable(controller) or set(controller.skills))
        self.department.blockSignals(True)
        self.department.clear()
        for dep, name in departments:
            if dep in mine:
                self.department.addItem(name, dep)
        self.department.blockSignals(False)
        self._show_department(self.supervisor)

    def _show_department(self, shown: bool) -> None:
        for widget in (self.department_heading, self.department, self.no_show, self.bookings):
            widget.setVisible(shown)

    def chosen_day(self) -> dt.date:
        day = self.day.date()
        return dt.date(day.year(), day.month(), day.day())

    def set_day(self, day: dt.date) -> None:
        self.day.setDate(QDate(day.year, day.month, day.day))

    def reload(self) -> None:
        if self.client is None:
            return
        self.runner.run(self._load(self.client, self.chosen_day()))

    async def _load(self, client: AppointmentClient, day: dt.date) -> None:
        t = self.t
        self.status.setText(t("appointments.loading"))
        try:
            self._fill(self.mine, [self._row(b, officer=False) for b in await client.my_day(day)])
            self.status.setText(t("appointments.updated", day=day.isoformat()))
            self.changed.emit("mine")
            department = self.department.currentData()
            if self.supervisor and department:
                listed = await client.department_day(str(department), day)
                self._fill(self.bookings, [self._row(b, officer=True) for b in listed.bookings])
                rate = fmt.percent(listed.no_show_rate)
                self.no_show.setText(t("appointments.no_show_rate", rate=rate, count=len(listed.bookings)))
                self.changed.emit("department")
        except AppointmentError as exc:
            self.status.setText(t("appointments.failed", detail=exc.message(t.language)))
            self.changed.emit("failed")

    def _row(self, b: Booking, *, officer: bool) -> list[str]:
        t = self.t
        directory = self.controller.directory if self.controller else None
        procedure = directory.procedure_name(b.procedure, t.language) if directory else b.procedure
        contact = " / ".join(x for x in (b.contact, b.email or "") if x)
        state = t(f"appointments.state_{b.state}") if t.has(f"appointments.state_{b.state}") else b.state
        row = [b.time, procedure or "—", b.name, contact or "—", state, b.notes]
        if officer:
            row.insert(1, b.officer or "—")
        return row

    def _fill(self, table: QTableWidget, rows: list[list[str]]) -> None:
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                table.setItem(r, c, QTableWidgetItem(value))

    def rows(self, table: QTableWidget) -> list[list[str]]:
        """What a table shows, row by row (tests)."""
        rows = []
        for r in range(table.rowCount()):
            items = [table.item(r, c) for c in range(table.columnCount())]
            rows.append([item.text() if item is not None else "" for item in items])
        return rows

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        """Wait until ``predicate()`` holds, re-checked after each result the tab shows (tests)."""
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
