"""One wait estimate everywhere: for the same state of a department, the public wait board's JSON, the
kiosk's department tile and the console's board say the same thing (the router's ``wait_estimate``)."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from config.schema import Audience
from kiosk_client.i18n import Catalogs
from kiosk_client.menu import Menu
from remote_call import protocol as p
from signaling_server.testing import WireClient, call_in_progress
from staff_console.directory import Directory
from staff_console.i18n import Messages
from staff_console.view.boards import SupervisorBoard, wait_text

from ..conftest import PASSWORD
from .test_dashboard import _keep

DEPARTMENT = "kosodate"
KIOSK_LANGUAGES = ("ja", "ja-easy", "en", "zh", "ko", "vi")


async def get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return await response.json()


async def surfaces(server, console_board: SupervisorBoard) -> tuple[dict, dict[str, str], dict[str, str]]:
    """What each surface shows for the department now: the board's row, the kiosk tile's line (every
    kiosk language) and the console's figure (ja: the supervisor board's cell as drawn; en: its text)."""
    board = await get_json(server.http_url + "/api/board")
    row = next(d for d in board["departments"] if d["id"] == DEPARTMENT)
    infos = [p.DepartmentInfo.model_validate(d) for d in await get_json(server.http_url + "/api/departments")]
    tile = Menu(server.config, Audience.RESIDENTS, {i.id: i for i in infos}).department(DEPARTMENT)
    key, values = tile.open_status()
    catalogs = Catalogs()
    kiosk = {lang: catalogs.text(lang, key, **values) for lang in KIOSK_LANGUAGES}
    stats = server.switchboard.directory.stats()["departments"][DEPARTMENT]  # what consoles are pushed
    console = {"en": wait_text(Messages("en", strict=True), stats)}
    console_board.refresh({"at": 0, "departments": {DEPARTMENT: stats}})
    column = SupervisorBoard.DEPARTMENT_COLUMNS.index("ewt")
    console["ja"] = console_board.departments.item(0, column).text()
    assert (stats["wait_state"], stats["wait_minutes"]) == (row["wait_state"], row["wait_minutes"])
    assert (tile.wait_state, tile.estimate_minutes) == (row["wait_state"], row["wait_minutes"])
    return row, kiosk, console


def numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\d+", text)}


def assert_agree(row: dict, kiosk: dict[str, str], console: dict[str, str], state: str) -> None:
    assert row["wait_state"] == state, row
    minutes = row["wait_minutes"]
    for text in [*kiosk.values(), *console.values()]:
        if minutes:  # the same figure on every surface
            assert minutes in numbers(text), (text, minutes)
        else:  # no figure where there is nothing to wait for, or nobody to wait for
            assert numbers(text) <= {row["waiting"]}, text
        assert "待ちなし" not in text or state == "no_wait"


async def test_the_board_the_kiosk_tile_and_the_console_agree_in_every_state(monitored, qtbot, tmp_path):
    async with monitored() as server:
        console_board = SupervisorBoard(Messages("ja", strict=True), Directory(server.config))
        qtbot.addWidget(console_board)
        console_board.resize(1100, 300)
        # Nobody serves the department: no estimate anywhere.
        row, kiosk, console = await surfaces(server, console_board)
        assert_agree(row, kiosk, console, "no_officer")
        assert row["wait_minutes"] is None and kiosk["ja"] == "受付中・ただいま担当者がいません"
        assert console["ja"] == "担当者不在"

        # An officer signs in and is free: connects at once.
        officer = await WireClient.officer(server.url, "jiro", PASSWORD)
        await server_settled(officer)
        row, kiosk, console = await surfaces(server, console_board)
        assert_agree(row, kiosk, console, "no_wait")
        assert (row["wait_minutes"], kiosk["ja"], console["en"]) == (
            0,
            "受付中・すぐにつながります",
            "Connects now",
        )
        await officer.send(p.SetStatus(status="away", reason="meeting"))  # off the estimate
        await server_settled(officer)

        # hanako serves a resident; nobody waits, but nobody is free: a wait, not 「待ちなし」.
        k1, o1, _ = await call_in_progress(
            server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"], "hanako", PASSWORD
        )
        await server_settled(o1)
        row, kiosk, console = await surfaces(server, console_board)
        assert_agree(row, kiosk, console, "nobody_waiting_officers_busy")
        assert row["waiting"] == 0 and row["wait_minutes"] >= 1
        assert kiosk["ja"] == f"受付中・担当者が対応中・約{row['wait_minutes']}分"
        assert console["ja"] == f"全員対応中・約{row['wait_minutes']}分"
        console_board.show()
        console_board.grab().save(str(tmp_path / "console-board-busy.png"))
        _keep(tmp_path / "console-board-busy.png")

        # A second resident joins the queue behind the call.
        k2 = await WireClient.kiosk(server.url, "kiosk-tonan", server.fleet.kiosk_tokens["kiosk-tonan"])
        await k2.send(p.RequestCall(department=DEPARTMENT))
        queued = await k2.expect(p.Queued)
        row, kiosk, console = await surfaces(server, console_board)
        assert_agree(row, kiosk, console, "wait")
        assert row["waiting"] == 1
        assert kiosk["ja"] == f"受付中・1人待ち・約{row['wait_minutes']}分"
        # The joining resident's own estimate is the board's figure for the next one in line: no more.
        assert queued.ewt_s is not None and row["wait_minutes"] >= round(queued.ewt_s / 60)
        for client in (k1, o1, k2, officer):
            await client.close()


async def server_settled(client: WireClient) -> None:
    """Everything the client sent before is handled once its ping is answered."""
    await client.send(p.Ping(nonce=7))
    await client.expect(p.Pong, nonce=7)
