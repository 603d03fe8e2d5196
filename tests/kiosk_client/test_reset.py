"""The privacy reset (KioskController.reset) on a controller without a server or a window: what it tells the
server, and that nothing of the resident is left in the controller's memory. (The widgets' side of the reset
is tested with the window in test_flow.py and test_idle.py.)"""

from __future__ import annotations

from typing import Any

from config.loader import load_config
from devtools.kiosk_demo import demo_departments
from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController, ResidentSession
from kiosk_client.flow import KioskState, Screen
from kiosk_client.resident import Notice
from remote_call import incall as ic
from remote_call import protocol as p


def headless_kiosk() -> tuple[KioskController, list[p.Wire], list[tuple[str, dict[str, Any]]]]:
    """A controller with departments and no server: (kiosk, what it sends, the events it emits)."""
    config = load_config()
    kiosk = KioskController(
        "ws://127.0.0.1:9/ws",
        "kiosk-ueda",
        "t" * 20,
        SimulatedMedia("k", 64, 48, 5, 440.0),
        config=config,
        telemetry=False,
    )
    kiosk.departments = demo_departments(config)
    sent: list[p.Wire] = []

    async def send(message: p.Wire) -> None:
        sent.append(message)

    kiosk.client.send = send  # type: ignore[method-assign]  # the server's end, recorded
    events: list[tuple[str, dict[str, Any]]] = []
    kiosk.events.subscribe(lambda event, data: events.append((event, data)))
    return kiosk, sent, events


async def queued(kiosk: KioskController, call_id: str = "c1") -> None:
    await kiosk._on_message(p.Queued(call_id=call_id, department="shimin-toroku", position=2, ewt_s=60.0))


def assert_pristine(kiosk: KioskController, events: list[tuple[str, dict[str, Any]]]) -> None:
    assert kiosk.resident == ResidentSession() and kiosk.resident.pristine()
    assert kiosk.service_message is None
    assert (kiosk.state, kiosk.screen) == (KioskState.IDLE, Screen.WELCOME)
    assert kiosk.desk.session is None and kiosk.desk.chat == [] and kiosk.desk.shown == {}
    assert kiosk.media.self_view.frame is None
    assert events[-1][0] == "reset"
    screens = [data["screen"] for name, data in events if name == "screen"]
    assert screens[-1] == "welcome"


async def test_a_reset_while_waiting_leaves_the_queue() -> None:
    kiosk, sent, events = headless_kiosk()
    try:
        await queued(kiosk)
        assert kiosk.state is KioskState.WAITING
        await kiosk.reset()
        assert sent == [p.CancelCall(call_id="c1")]
        assert_pristine(kiosk, events)
    finally:
        await kiosk.stop()


async def test_a_reset_in_a_call_ends_the_call() -> None:
    kiosk, sent, events = headless_kiosk()
    try:
        await queued(kiosk)
        kiosk.events.emit("call_connecting", call_id="c1", peer_name="盛岡 花子")
        kiosk.events.emit("call_started", call_id="c1")
        assert kiosk.state is KioskState.IN_CALL
        kiosk.resident.end_confirm = True  # the resident had asked to end the call
        await kiosk.reset()
        assert sent == [p.EndCall(call_id="c1")]
        assert_pristine(kiosk, events)
    finally:
        await kiosk.stop()


async def test_a_reset_without_a_call_tells_the_server_nothing_and_welcomes_again() -> None:
    kiosk, sent, events = headless_kiosk()
    try:
        await kiosk.reset()  # already on the welcome: the screen is announced again all the same
        kiosk.choose_language("en")
        kiosk.select_department("shimin-toroku")
        kiosk.resident.large_text = True
        await kiosk.reset()
        assert sent == []
        assert [data["screen"] for name, data in events if name == "screen"].count("welcome") == 2
        assert_pristine(kiosk, events)
    finally:
        await kiosk.stop()


async def test_a_reset_completes_when_the_server_is_unreachable() -> None:
    kiosk, _, events = headless_kiosk()

    async def unreachable(message: p.Wire) -> None:
        raise ConnectionError("not connected")

    try:
        await queued(kiosk)
        kiosk.client.send = unreachable  # type: ignore[method-assign]
        await kiosk.reset()
        assert_pristine(kiosk, events)
    finally:
        await kiosk.stop()


async def test_a_reset_forgets_what_the_call_left_on_the_desk() -> None:
    kiosk, _, events = headless_kiosk()
    try:
        await queued(kiosk)
        kiosk.desk.chat.append(ic.Chat(id="1", text="住所をお願いします", sender="officer"))  # type: ignore[arg-type]
        kiosk.resident.notice = Notice("trouble.offline")
        kiosk.service_message = "service.locked"
        await kiosk.reset()
        assert_pristine(kiosk, events)
    finally:
        await kiosk.stop()


def test_a_session_is_pristine_only_when_nothing_of_a_resident_is_in_it() -> None:
    assert ResidentSession().pristine()
    assert not ResidentSession(department="shimin-toroku").pristine()
    assert not ResidentSession(search="じゅうみん").pristine()
    session = ResidentSession()
    session.chat.append(ic.Chat(id="1", text="x", sender="officer"))  # type: ignore[arg-type]
    assert not session.pristine()
