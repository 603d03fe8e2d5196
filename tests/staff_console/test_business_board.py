"""The supervisor board's business part, from the statistics the server sends (``departments.<id>.
business_sessions``, see signaling_server/switchboard/directory.py): a count per department (waiting / in
call) and the list of live business sessions; hidden while the server sends none."""

from __future__ import annotations

from signaling_server.testing import test_config
from staff_console.directory import Directory
from staff_console.i18n import Messages
from staff_console.view.boards import SupervisorBoard, business_count


def _stats(**extra):
    department = {"waiting": 1, "answered": 2, "abandoned": 0, "officers": {"available": 1}}
    return {
        "at": 1796100000.0,
        "departments": {"kenchiku-shido": department | extra.pop("department", {})},
        "officers": {"hanako": {"state": "in_call", "calls_today": 2}},
        **extra,
    }


def _row(table, row: int) -> list[str]:
    return [table.item(row, c).text() for c in range(table.columnCount()) if not table.isColumnHidden(c)]


def test_board_shows_business_sessions_when_the_server_reports_them(qtbot):
    board = SupervisorBoard(Messages("ja", strict=True), Directory(test_config()))
    qtbot.addWidget(board)
    board.show()
    board.refresh(_stats())
    business_column = SupervisorBoard.DEPARTMENT_COLUMNS.index("business")
    assert board.departments.isColumnHidden(business_column) and not board.business.isVisible()

    in_call = {
        "call_id": "c-1",
        "invitation_id": "inv1",
        "company": "有限会社 盛岡設備工業",
        "appointment_id": None,
        "state": "in_call",
        "officer": "hanako",
        "waited_s": 42.0,
        "mobile": True,
    }
    waiting = in_call | {"call_id": "c-2", "company": "盛岡建築設計", "state": "queued", "officer": None,
                         "mobile": False, "waited_s": 65.0}  # fmt: skip
    board.refresh(_stats(department={"business_sessions": [in_call, waiting], "business_sessions_today": 3}))
    assert not board.departments.isColumnHidden(business_column)
    assert board.departments.item(0, business_column).text() == "1 / 1"
    assert board.business.isVisible() and board.business_heading.text() == "業者の窓口（進行中）"
    assert _row(board.business, 0) == [
        "有限会社 盛岡設備工業（動く窓口）",
        "建築指導課",
        "通話中",
        "hanako",
        "42秒",
    ]
    assert _row(board.business, 1) == ["盛岡建築設計", "建築指導課", "待機中", "—", "1分5秒"]


def test_business_count_forms():
    assert business_count(None) == "—" and business_count([]) == "0"
    assert business_count([{"state": "ringing"}, {"state": "connecting"}, {"state": "in_call"}]) == "1 / 2"
