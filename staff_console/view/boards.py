"""Read-only boards: the supervisor's live queues and officers, and the officer's calls today."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from staff_console.directory import Directory
from staff_console.history import CallHistory
from staff_console.i18n import Messages
from staff_console.view import fmt


def _table(parent: QWidget, headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers), parent)
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(value))


class SupervisorBoard(QWidget):
    DEPARTMENT_COLUMNS = (
        "department",
        "waiting",
        "longest_wait",
        "ewt",
        "answered",
        "abandoned",
        "service_level",
        "rating",
        "officers_available",
        "business",
    )
    BUSINESS_COLUMNS = ("company", "department", "state", "officer", "waited")
    OFFICER_COLUMNS = ("officer", "state", "reason", "calls_today", "rating")

    def __init__(self, t: Messages, directory: Directory, parent: QWidget | None = None):
        super().__init__(parent)
        self.t = t
        self.directory = directory
        self.updated = QLabel(t("board.no_stats"), self)
        self.updated.setObjectName("muted")
        self.totals = QLabel("", self)
        self.totals.setObjectName("heading")
        self.departments = _table(self, [t(f"board.{c}") for c in self.DEPARTMENT_COLUMNS])
        self.departments.setObjectName("departmentsTable")
        self.officers = _table(self, [t(f"board.{c}") for c in self.OFFICER_COLUMNS])
        self.officers.setObjectName("officersTable")
        layout = QVBoxLayout(self)
        layout.addWidget(self.updated)
        layout.addWidget(self.totals)
        heading = QLabel(t("board.queues"), self)
        heading.setObjectName("heading")
        layout.addWidget(heading)
        layout.addWidget(self.departments, 3)
        self.officers_heading = QLabel(t("board.officers"), self)
        self.officers_heading.setObjectName("heading")
        layout.addWidget(self.officers_heading)
        layout.addWidget(self.officers, 2)
        self.business_heading = QLabel(t("board.business_sessions"), self)
        self.business_heading.setObjectName("heading")
        self.business = _table(self, [t(f"board.business_{c}") for c in self.BUSINESS_COLUMNS])
        self.business.setObjectName("businessTable")
        layout.addWidget(self.business_heading)
        layout.addWidget(self.business, 1)

    def refresh(self, stats: dict[str, Any] | None) -> None:
        t = self.t
        if not stats:
            return
        at = stats.get("at")
        stamp = time.strftime("%H:%M:%S", time.localtime(at or time.time()))
        self.updated.setText(t("board.updated", at=stamp))
        rows = []
        answered = abandoned = within = ratings = rating_sum = 0
        order = {dep: i for i, dep in enumerate(self.directory.remote_departments())}
        departments = sorted(
            stats.get("departments", {}).items(), key=lambda kv: (order.get(kv[0], 999), kv[0])
        )
        for dep_id, d in departments:
            answered += int(d.get("answered", 0))
            abandoned += int(d.get("abandoned", 0))
            within += int(d.get("answered_within_sl", 0))
            ratings += int(d.get("ratings", 0))
            rating_sum += int(d.get("rating_sum", 0))
            rows.append(
                [
                    self.directory.department_name(dep_id, t.language),
                    str(d.get("waiting", 0)),
                    fmt.duration(t, d.get("longest_wait_s") or 0.0) if d.get("waiting") else "—",
                    wait_text(t, d),
                    str(d.get("answered", 0)),
                    str(d.get("abandoned", 0)),
                    fmt.percent(d.get("service_level")),
                    rating_text(t, d),
                    str((d.get("officers") or {}).get("available", 0)),
                    business_count(d.get("business_sessions")),
                ]
            )
        _fill(self.departments, rows)
        level = fmt.percent(within / answered if answered else None)
        self.totals.setText(
            t("board.totals", service_level=level, answered=answered, abandoned=abandoned)
            + t("board.totals_rating", rating=rating_text(t, {"ratings": ratings, "rating_sum": rating_sum}))
        )
        has_officers = "officers" in stats  # supervisors; officers get their departments' queues only
        self.officers_heading.setVisible(has_officers)
        self.officers.setVisible(has_officers)
        officer_rows = []
        for officer_id, o in sorted(stats.get("officers", {}).items()):
            state = o.get("state", "offline")
            reason = o.get("reason")
            officer_rows.append(
                [
                    officer_id,
                    t(f"state.{state}") if t.has(f"state.{state}") else str(state),
                    fmt.state_reason(t, reason),
                    str(o.get("calls_today", 0)),
                    rating_text(t, o),
                ]
            )
        _fill(self.officers, officer_rows)
        sessions = business_sessions(stats)
        # Shown once the server reports business sessions (a server without the business counter does not).
        reported = any("business_sessions" in d for _, d in departments)
        self.departments.setColumnHidden(self.DEPARTMENT_COLUMNS.index("business"), not reported)
        self.business_heading.setVisible(has_officers and reported)
        self.business.setVisible(has_officers and reported)
        _fill(
            self.business,
            [
                [
                    str(s.get("company", "")) + (t("business.mobile_suffix") if s.get("mobile") else ""),
                    self.directory.department_name(str(s.get("department", "")), t.language),
                    business_state(t, str(s.get("state", ""))),
                    str(s.get("officer") or "—"),
                    fmt.duration(t, s.get("waited_s")) if s.get("waited_s") is not None else "—",
                ]
                for s in sessions
            ],
        )


def wait_text(t: Messages, department: dict[str, Any]) -> str:
    """The department's wait estimate as the wait board and the kiosk tiles say it (the server's one
    ``wait_state`` / ``wait_minutes``); a server without them: the raw estimate."""
    state = department.get("wait_state")
    if isinstance(state, str) and t.has(f"board.wait_{state}"):
        return t(f"board.wait_{state}", minutes=department.get("wait_minutes"))
    ewt_s = department.get("ewt_s")
    return fmt.duration(t, ewt_s) if ewt_s is not None else "—"


def rating_text(t: Messages, counters: dict[str, Any]) -> str:
    """Residents' satisfaction today (rate_call, 1..5): the average and how many rated, or a dash."""
    count = int(counters.get("ratings") or 0)
    if not count:
        return t("board.rating_none")
    return t("board.rating_value", mean=f"{int(counters.get('rating_sum') or 0) / count:.1f}", count=count)


WAITING_STATES = ("queued", "ringing")  # a business call's record state: still waiting for an officer


def business_count(sessions: Any) -> str:
    """A department's live business sessions (the server's ``business_sessions``) as "waiting / in call"."""
    if not isinstance(sessions, list):
        return "—"
    waiting = sum(1 for s in sessions if isinstance(s, dict) and s.get("state") in WAITING_STATES)
    in_call = sum(1 for s in sessions if isinstance(s, dict)) - waiting
    return f"{waiting} / {in_call}" if waiting or in_call else "0"


def business_state(t: Messages, state: str) -> str:
    key = f"board.business_state_{'waiting' if state == 'queued' else state}"
    return t(key) if t.has(key) else state


def business_sessions(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Every department's live business sessions (``departments.<id>.business_sessions``), with its id."""
    sessions = []
    for dep_id, data in (stats.get("departments") or {}).items():
        listed = data.get("business_sessions") if isinstance(data, dict) else None
        sessions += [{"department": dep_id} | s for s in listed or [] if isinstance(s, dict)]
    return sessions


class HistoryBoard(QWidget):
    COLUMNS = ("time", "department", "kiosk", "procedure", "duration", "outcome", "notes")

    def __init__(self, t: Messages, directory: Directory, parent: QWidget | None = None):
        super().__init__(parent)
        self.t = t
        self.directory = directory
        self.summary = QLabel("", self)
        self.summary.setObjectName("heading")
        self.table = _table(self, [t(f"history.{c}") for c in self.COLUMNS])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(self.COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setObjectName("historyTable")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)

    def refresh(self, history: CallHistory) -> None:
        t = self.t
        rows = []
        for e in reversed(history.entries):
            outcome = (
                t(f"outcome.{e.outcome}")
                if e.outcome
                else (t("history.in_progress") if e.ended_at is None else t("history.no_outcome"))
            )
            notes = e.notes
            if e.transferred_to:
                notes = t(
                    "history.transferred_to",
                    department=self.directory.department_name(e.transferred_to, t.language),
                ) + (f" {notes}" if notes else "")
            rows.append(
                [
                    fmt.clock(e.started_at),
                    self.directory.department_name(e.department, t.language),
                    t("history.business", company=e.kiosk_name) if e.business else e.kiosk_name,
                    self.directory.procedure_name(e.procedure, t.language) or "—",
                    fmt.duration(t, e.duration_s) if e.duration_s is not None else "—",
                    outcome,
                    notes,
                ]
            )
        _fill(self.table, rows)
        self.summary.setText(t("history.summary", count=len(history.entries)))
