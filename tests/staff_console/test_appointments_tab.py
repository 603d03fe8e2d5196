"""The 予約 tab against the real embedded server: bookings made through the staff REST API (電話予約) show in
the officer's day with time, procedure, name, contact, state and notes; a supervisor sees the department's
bookings of the chosen day and its no-show rate; a refusal is shown, not lost. Renders PNGs to
/tmp/console-appointments."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import aiohttp

from devtools.headless import PASSWORD
from signaling_server.auth import hash_password
from staff_console.appointments import AppointmentClient, AppointmentError
from staff_console.view.window import ConsoleWindow

SHOTS = Path("/tmp/console-appointments")


async def book_two(server, token: str) -> tuple[dt.date, dict, dict]:
    """Two phone bookings for hanako on the first bookable day after today; the second is cancelled."""
    base = server.http_url
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/booking/days", params={"department": "kosodate"}) as r:
            day = (await r.json())["days"][1]
        async with http.get(f"{base}/api/booking/slots", params={"department": "kosodate", "date": day}) as r:
            slots = (await r.json())["slots"]
        booked = []
        for slot, name, notes in ((slots[1], "盛岡 花子", "児童手当の転入"), (slots[0], "岩手 次郎", "")):
            body = {
                "department": "kosodate",
                "slot_start": slot["start"],
                "name": name,
                "contact": "019-000-0000",
                "procedure": "ninshin-todoke",
                "officer": "hanako",
                "notes": notes,
            }
            async with http.post(f"{base}/api/appointments", json=body, headers=auth) as r:
                assert r.status == 201, await r.text()
                booked.append(await r.json())
        async with http.post(f"{base}/api/booking/cancel", json={"pin": booked[1]["pin"]}) as r:
            assert (await r.json())["state"] == "cancelled"
    return dt.date.fromisoformat(day), booked[0], booked[1]


def hhmm(booking: dict) -> str:
    return booking["start"][11:16]  # the city's zone, as the server writes it


async def show_day(window: ConsoleWindow, day: dt.date, predicate) -> None:
    tab = window.appointments
    tab.set_day(day)
    if window.tabs.currentWidget() is tab:
        tab.reload()
    else:
        window.tabs.setCurrentWidget(tab)  # showing the tab loads it
    await tab.wait_for(lambda: predicate(tab))
    await window.runner.settle()


def save(window: ConsoleWindow, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert window.grab().save(str(SHOTS / name))


async def test_officer_sees_their_booked_day(make_window, qtbot, helpers, server):
    window = make_window()
    await helpers.sign_in(window, qtbot, "hanako")
    c = window.controller
    day, first, cancelled = await book_two(server, c._session_token)
    tab = window.appointments
    assert window.tabs.isTabVisible(window.tabs.indexOf(tab))
    assert window.tabs.tabText(window.tabs.indexOf(tab)) == "予約"
    await show_day(window, day, lambda tab: tab.mine.rowCount() == 2)
    procedure = c.directory.procedure_name("ninshin-todoke", "ja")
    assert tab.rows(tab.mine) == [
        [hhmm(cancelled), procedure, "岩手 次郎", "019-000-0000", "キャンセル", ""],
        [hhmm(first), procedure, "盛岡 花子", "019-000-0000", "予約済み", "児童手当の転入"],
    ]
    assert not tab.bookings.isVisible()  # officers: their own day only
    assert helpers.raw_keys(window) == []
    save(window, "officer.png")

    # Another day: nothing booked.
    await show_day(window, day + dt.timedelta(days=1), lambda tab: tab.mine.rowCount() == 0)
    assert day.isoformat() not in tab.status.text()


async def test_supervisor_sees_the_departments_day_and_no_show_rate(make_window, qtbot, helpers, server):
    server.store.add_officer("kacho", "課長", "supervisor", hash_password(PASSWORD), {"kosodate": "primary"})
    officer = make_window()
    await helpers.sign_in(officer, qtbot, "hanako")
    day, first, cancelled = await book_two(server, officer.controller._session_token)
    window = make_window(language="en")
    await helpers.sign_in(window, qtbot, "kacho", role="supervisor")
    tab = window.appointments
    offered = [tab.department.itemData(i) for i in range(tab.department.count())]
    assert offered[0] == "kosodate" and "kenchiku-shido" not in offered  # bookable departments only
    await show_day(window, day, lambda tab: tab.bookings.rowCount() == 2)
    procedure = window.controller.directory.procedure_name("ninshin-todoke", "en")
    assert tab.rows(tab.bookings) == [
        [hhmm(cancelled), "hanako", procedure, "岩手 次郎", "019-000-0000", "Cancelled", ""],
        [hhmm(first), "hanako", procedure, "盛岡 花子", "019-000-0000", "Booked", "児童手当の転入"],
    ]
    assert tab.mine.rowCount() == 0 and tab.bookings.isVisible()
    assert tab.no_show.text() == "No-show rate: — (2 bookings)"  # nobody was due yet
    assert helpers.raw_keys(window) == []
    save(window, "supervisor.png")


async def test_a_refusal_is_shown_in_the_tab(make_window, qtbot, helpers, server):
    window = make_window()
    await helpers.sign_in(window, qtbot, "hanako")
    tab = window.appointments
    c = window.controller
    tab.client = AppointmentClient(c.rest_base, lambda: "x" * 43)  # a token the server does not know
    window.tabs.setCurrentWidget(tab)
    await tab.wait_for(lambda: tab.status.text().startswith("予約を読み込めませんでした"))
    await window.runner.settle()
    signed_out = AppointmentClient(c.rest_base, lambda: None)
    try:
        await signed_out.my_day(dt.date.today())
    except AppointmentError as exc:
        assert exc.code == "not_signed_in"
    else:
        raise AssertionError("no token, no request")
