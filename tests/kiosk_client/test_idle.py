"""The privacy timer: a visible countdown first, then everything of the resident is cleared."""

from __future__ import annotations

import asyncio

import pytest

from kiosk_client.controller import Screen
from kiosk_client.idle import IdleTimer

from .conftest import TIMEOUT, assert_nothing_of_the_resident, click, expect, settle


async def test_idle_timer_counts_down_then_expires_and_a_touch_cancels():
    events: list[tuple[str, int | None]] = []
    expired = asyncio.get_running_loop().create_future()
    timer = IdleTimer(
        0.5,
        0.3,
        on_tick=lambda s: events.append(("tick", s)),
        on_expire=lambda: expired.set_result(True),
        on_cancel=lambda: events.append(("cancel", None)),
    )
    timer.arm()
    await asyncio.wait_for(expired, TIMEOUT)
    assert events and events[0] == ("tick", 1) and all(kind == "tick" for kind, _ in events)
    assert not timer.armed and not timer.warning

    events.clear()
    ticked = asyncio.get_running_loop().create_future()
    timer2 = IdleTimer(
        0.4,
        0.3,
        on_tick=lambda s: ticked.done() or ticked.set_result(s),
        on_expire=lambda: events.append(("expired", None)),
        on_cancel=lambda: events.append(("cancel", None)),
    )
    timer2.arm()
    await asyncio.wait_for(ticked, TIMEOUT)
    timer2.touch()  # the resident is back: countdown cancelled, full time again
    assert events == [("cancel", None)] and timer2.armed and not timer2.warning
    timer2.disarm()


def test_idle_timer_refuses_bad_times():
    with pytest.raises(ValueError, match="positive"):
        IdleTimer(0, 1, on_tick=print, on_expire=print, on_cancel=print)
    with pytest.raises(ValueError, match="longer than the reset"):
        IdleTimer(5, 10, on_tick=print, on_expire=print, on_cancel=print)


async def test_idle_reset_warns_visibly_then_clears_controller_and_widgets(demo, qtbot):
    controller, window = demo
    controller.idle.disarm()
    controller._idle_overrides = (2.5, 2.0)  # restyling for larger text takes a while on 2 cores
    controller.idle = controller._make_idle()
    click(qtbot, window, "lang-en")
    controller.set_search("my pension 1234")  # the resident typed something
    controller.toggle_large_text()
    await settle()
    assert controller.screen is Screen.CHOOSE and window.screens["choose"].search.text() == "my pension 1234"
    warning = expect(controller.events, "idle_warning")
    reset = expect(controller.events, "reset")
    seconds = (await warning)["seconds"]
    assert seconds >= 1 and window.idle_bar.isVisible()
    assert (
        f"in {seconds} s" in window.idle_text.text()
    )  # the countdown is on screen before anything is cleared
    assert controller.resident.search == "my pension 1234"
    await reset
    await settle()
    assert controller.screen is Screen.WELCOME and not window.idle_bar.isVisible()
    assert_nothing_of_the_resident(controller, window, ["my pension 1234"])
    assert controller.cues.played.count("warning") == 1


async def test_a_touch_during_the_countdown_keeps_the_session(demo, qtbot):
    controller, window = demo
    controller._idle_overrides = (0.5, 0.4)
    controller.idle = controller._make_idle()
    click(qtbot, window, "lang-ja")
    warning = expect(controller.events, "idle_warning")
    await warning
    cancelled = expect(controller.events, "idle_cancel")
    click(qtbot, window, "idle-continue")
    await cancelled
    assert controller.screen is Screen.CHOOSE and controller.resident.language_chosen
    assert not window.idle_bar.isVisible()


async def test_no_idle_reset_during_a_call_or_on_an_untouched_welcome(demo):
    from devtools.kiosk_demo import stage

    controller, _window = demo
    await stage(controller, "in_call_chat")
    assert not controller.idle.armed
    await stage(controller, "waiting")
    assert not controller.idle.armed
    await stage(controller, "welcome")
    assert not controller.idle.armed
    await stage(controller, "consent")
    assert controller.idle.armed
