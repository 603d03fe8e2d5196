"""The kiosk's transition tables (kiosk_client.flow): the moves the flows make are the ones the tables list,
and a move they do not list raises IllegalTransition naming both ends, without moving."""

from __future__ import annotations

from typing import Any

import pytest

from config.loader import load_config
from devtools.kiosk_demo import STAGES, demo_departments, stage
from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from kiosk_client.flow import (
    SCREEN_TRANSITIONS,
    STATE_TRANSITIONS,
    IllegalTransition,
    KioskState,
    Screen,
    check_screen_move,
    check_state_move,
)
from remote_call import protocol as p

S, W = KioskState, Screen


def headless_kiosk() -> KioskController:
    """A controller with departments but no server: server messages and call events are fed to it."""
    config = load_config()
    media = SimulatedMedia("k", 64, 48, 5, 440.0)
    kiosk = KioskController(
        "ws://127.0.0.1:9/ws", "kiosk-ueda", "t" * 20, media, config=config, telemetry=False
    )
    kiosk.departments = demo_departments(config)
    return kiosk


def record_moves(kiosk: KioskController) -> list[tuple[str, str]]:
    """Every state and screen the controller announces, in order ("state:waiting", "screen:waiting")."""
    moves: list[tuple[str, str]] = []

    def listen(event: str, data: dict[str, Any]) -> None:
        if event in ("state", "screen"):
            moves.append((event, data[event]))

    kiosk.events.subscribe(listen)
    return moves


def test_every_state_and_screen_has_a_row_and_every_move_stays_in_the_table():
    assert set(STATE_TRANSITIONS) == set(KioskState) and set(SCREEN_TRANSITIONS) == set(Screen)
    for table in (STATE_TRANSITIONS, SCREEN_TRANSITIONS):
        for old, allowed in table.items():
            assert old not in allowed  # staying put is not a move
            assert allowed <= set(table)
    # The privacy reset reaches the welcome and idle from everywhere.
    assert all(
        W.WELCOME in allowed for screen, allowed in SCREEN_TRANSITIONS.items() if screen is not W.WELCOME
    )
    assert all(S.IDLE in allowed for state, allowed in STATE_TRANSITIONS.items() if state is not S.IDLE)


@pytest.mark.parametrize(
    ("check", "old", "new", "message"),
    [
        (check_screen_move, W.WELCOME, W.IN_CALL, "kiosk screen: cannot go from welcome to in_call"),
        (check_screen_move, W.CONSENT, W.AFTER_CALL, "kiosk screen: cannot go from consent to after_call"),
        (check_screen_move, W.SERVICE, W.CHOOSE, "kiosk screen: cannot go from service to choose"),
        (check_state_move, S.IDLE, S.IN_CALL, "kiosk state: cannot go from idle to in_call"),
        (check_state_move, S.FINISHED, S.WAITING, "kiosk state: cannot go from finished to waiting"),
    ],
)
def test_a_move_the_table_does_not_list_names_both_ends(check, old, new, message):
    with pytest.raises(IllegalTransition, match=f"^{message}$"):
        check(old, new)
    check(old, old)  # staying put is always allowed


async def test_an_illegal_touch_raises_and_leaves_the_kiosk_where_it_was():
    kiosk = headless_kiosk()
    try:
        with pytest.raises(IllegalTransition, match="cannot go from welcome to preflight"):
            kiosk.accept_consent()  # "agree" is only on the consent screen
        assert kiosk.screen is W.WELCOME and kiosk.media._preview_task is None
        kiosk.choose_language("ja")
        with pytest.raises(IllegalTransition, match="cannot go from idle to finished"):
            kiosk.flow.set_state(S.FINISHED)
        assert kiosk.state is S.IDLE and kiosk.screen is W.CHOOSE
    finally:
        await kiosk.stop()


async def test_the_residents_path_and_a_whole_call_move_along_the_tables():
    kiosk = headless_kiosk()
    moves = record_moves(kiosk)
    try:
        kiosk.choose_language("en")
        kiosk.select_procedure("juminhyo")
        kiosk.back()
        kiosk.select_department("shimin-toroku")
        kiosk.accept_consent()
        kiosk.back()
        kiosk.accept_consent()
        kiosk.online = True
        await kiosk.call_officer()  # not connected: back to the choice with the offline notice
        kiosk.select_procedure("juminhyo")
        kiosk.accept_consent()
        await kiosk._on_message(p.Queued(call_id="c1", department="shimin-toroku", position=2, ewt_s=60.0))
        kiosk.events.emit("call_connecting", call_id="c1", peer_name="盛岡 花子")
        kiosk.events.emit("call_started", call_id="c1")
        kiosk.events.emit(
            "call_connecting", call_id="c1", peer_name="盛岡 花子", restart=True
        )  # media restart
        kiosk.events.emit("call_started", call_id="c1")
        kiosk.events.emit("call_requeued", call_id="c1")  # the officer's connection dropped
        kiosk.events.emit("call_connecting", call_id="c1", peer_name="盛岡 次郎")
        kiosk.events.emit("call_started", call_id="c1")
        kiosk.events.emit("call_ended", call_id="c1", reason="completed")
        kiosk.exit_gesture.on_gesture()  # the IT corner, from the thank-you screen
        await kiosk.reset()
    finally:
        await kiosk.stop()
    screens = [value for kind, value in moves if kind == "screen"]
    states = [value for kind, value in moves if kind == "state"]
    assert screens == [
        "choose", "consent", "choose", "consent", "preflight", "consent", "preflight", "waiting", "choose",
        "consent", "preflight", "waiting", "connecting", "in_call", "waiting",  # a media restart: stays
        "connecting", "in_call", "after_call", "service", "welcome",
    ]  # fmt: skip
    assert states == [
        "waiting", "connecting", "in_call", "connecting", "in_call", "waiting", "connecting", "in_call",
        "finished", "idle",
    ]  # fmt: skip


async def test_the_server_may_queue_a_kiosk_that_skipped_the_menu_and_end_a_call_still_waiting():
    kiosk = headless_kiosk()
    moves = record_moves(kiosk)
    try:
        await kiosk._on_message(p.Queued(call_id="c2", department="shimin-toroku", position=1, ewt_s=None))
        kiosk.events.emit("call_ended", call_id="c2", reason="cancelled")
        await kiosk.reset()
        await kiosk._on_message(p.Queued(call_id="c3", department="shimin-toroku", position=1, ewt_s=None))
        await kiosk._on_message(p.CallRefused(department="shimin-toroku", reason="queue_full"))
    finally:
        await kiosk.stop()
    assert moves == [
        ("state", "waiting"), ("screen", "waiting"), ("state", "finished"), ("screen", "after_call"),
        ("state", "idle"), ("screen", "welcome"), ("state", "waiting"), ("screen", "waiting"),
        ("screen", "choose"),
    ]  # fmt: skip


def stage_screen(name: str) -> Screen:
    """The screen a demo stage shows, from its name."""
    special = {"offline": W.WELCOME, "help": W.WELCOME, "idle_warning": W.CONSENT}
    if name in special:
        return special[name]
    return next(screen for screen in sorted(Screen, key=len, reverse=True) if name.startswith(screen.value))


async def test_every_demo_stage_is_reached_along_the_tables():
    from devtools.kiosk_demo import demo_controller

    kiosk = demo_controller(load_config())
    moves = record_moves(kiosk)
    try:
        for name in STAGES:
            moves.clear()
            await stage(kiosk, name)  # would raise IllegalTransition on a move the tables do not list
            # A media restart changes the state only: the call stays on screen, saying 再接続中.
            last = (
                ("state", "connecting") if name == "in_call_reconnecting" else ("screen", stage_screen(name))
            )
            assert kiosk.screen is stage_screen(name) and moves[-1] == last, moves
            countdown = {"after_call": 14, "after_call_no_paper": 14, "idle_warning": 12}.get(name)
            assert kiosk.idle.seconds_left == countdown, name  # counted down by the timer on its own clock
    finally:
        await kiosk.stop()
