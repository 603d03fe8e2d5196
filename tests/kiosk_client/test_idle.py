"""The privacy timer: a visible countdown first, then everything of the resident is cleared.

Every test here runs the timer on a manual clock (``devtools.manual_clock``): time moves only when the test
moves it, so each tick is asserted at its exact time with its exact number, however loaded the machine.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.manual_clock import ManualTimers
from kiosk_client.controller import Screen
from kiosk_client.idle import IdleTimer

from .conftest import assert_nothing_of_the_resident, click, expect, settle

Event = tuple[float, str, int | None]  # (seconds since the start, kind, number shown)


def recorded_timer(clock: ManualTimers, reset_s: float, warning_s: float) -> tuple[list[Event], IdleTimer]:
    start = clock.time()
    events: list[Event] = []

    def note(kind: str, seconds: int | None = None) -> None:
        events.append((clock.time() - start, kind, seconds))

    timer = IdleTimer(
        reset_s,
        warning_s,
        on_tick=lambda s: note("tick", s),
        on_expire=lambda: note("expire"),
        on_cancel=lambda: note("cancel"),
        timers=clock,
    )
    return events, timer


@pytest.mark.parametrize(
    ("reset_s", "warning_s", "expected"),
    [
        # whole seconds: the countdown starts at the warning and shows every second down to 1
        (5, 3, [(2.0, "tick", 3), (3.0, "tick", 2), (4.0, "tick", 1), (5.0, "expire", None)]),
        # a fractional warning shows its number rounded up, then changes on the whole seconds before the end
        (4, 2.5, [(1.5, "tick", 3), (2.0, "tick", 2), (3.0, "tick", 1), (4.0, "expire", None)]),
        # the warning as long as the reset: the countdown starts at once
        (2, 2, [(0.0, "tick", 2), (1.0, "tick", 1), (2.0, "expire", None)]),
    ],
)
def test_the_countdown_shows_each_number_at_its_second_then_expires(reset_s, warning_s, expected):
    clock = ManualTimers()
    events, timer = recorded_timer(clock, reset_s, warning_s)
    timer.arm()
    first_tick = expected[0][0]
    if first_tick > 0:
        clock.advance(first_tick - 0.25)
        assert events == [] and not timer.warning and timer.armed
    clock.advance(100)
    assert events == expected
    assert not timer.armed and not timer.warning and timer.seconds_left is None and clock.pending == 0


def test_a_touch_cancels_a_visible_countdown_and_gives_the_full_time_again():
    clock = ManualTimers()
    events, timer = recorded_timer(clock, 5, 3)
    timer.arm()
    clock.advance(1)
    timer.touch()  # before the countdown: no cancel to show, the deadline moves to 6
    assert events == []
    clock.advance(2.5)  # 3.5: the countdown of the moved deadline shows 3 since 3.0
    assert events == [(3.0, "tick", 3)] and timer.warning and timer.seconds_left == 3
    timer.touch()  # the resident is back: countdown cancelled, full time again
    assert events[-1] == (3.5, "cancel", None) and timer.armed and not timer.warning
    clock.advance(1.75)
    assert len(events) == 2  # the next countdown starts 2 s after the touch, not before
    clock.advance(0.25)
    assert events[2:] == [(5.5, "tick", 3)]
    timer.disarm()  # leaving for a call: cancelled, and nothing fires any more
    clock.advance(3600)
    assert events[3:] == [(5.5, "cancel", None)] and clock.pending == 0


@settings(max_examples=300, deadline=None, database=None)
@given(
    reset_q=st.integers(1, 400),
    warning_q=st.integers(1, 400),
    touches_q=st.lists(st.integers(1, 1600), max_size=6),
)
def test_any_times_and_touches_count_down_whole_seconds_to_an_expiry_at_the_deadline(
    reset_q, warning_q, touches_q
):
    """Times in quarter seconds (exact in binary): whatever the times and the touches, the last countdown
    shows ceil(warning) .. 1 at the right instants and the session expires exactly reset_s after the last
    touch."""
    reset_s, warning_s = reset_q / 4, min(warning_q, reset_q) / 4
    clock = ManualTimers(0.0)
    events, timer = recorded_timer(clock, reset_s, warning_s)
    timer.arm()
    last, cancels = 0.0, 0
    for when in sorted({t / 4 for t in touches_q}):
        if when >= last + reset_s:
            break  # the session expired before this touch
        clock.advance(when - clock.time())
        cancels += when >= last + reset_s - warning_s  # a countdown was showing
        events.append((when, "touch", None))
        timer.touch()
        last = when
    clock.advance(last + reset_s + 10 - clock.time())
    deadline = last + reset_s
    assert [e for e in events if e[1] == "expire"] == [(deadline, "expire", None)]
    assert sum(e[1] == "cancel" for e in events) == cancels
    first = math.ceil(warning_s)
    touches = [i for i, e in enumerate(events) if e[1] == "touch"]
    after_last_touch = events[touches[-1] + 1 :] if touches else events
    final = [(t, s) for t, kind, s in after_last_touch if kind == "tick"]
    assert [s for _, s in final] == list(range(first, 0, -1))
    assert [t for t, _ in final] == [deadline - warning_s] + [deadline - s for s in range(first - 1, 0, -1)]


def test_idle_timer_refuses_bad_times():
    with pytest.raises(ValueError, match="positive"):
        IdleTimer(0, 1, on_tick=print, on_expire=print, on_cancel=print)
    with pytest.raises(ValueError, match="longer than the reset"):
        IdleTimer(5, 10, on_tick=print, on_expire=print, on_cancel=print)


async def test_idle_reset_warns_visibly_then_clears_controller_and_widgets(demo, qtbot, clock):
    controller, window = demo
    idle = controller.idle
    click(qtbot, window, "lang-en")  # arms the idle time (60 s, 15 of them counted down) at this instant
    controller.set_search("my pension 1234")  # the resident typed something
    controller.toggle_large_text()
    await settle(window)
    assert controller.screen is Screen.CHOOSE and window.screens["choose"].search.text() == "my pension 1234"
    clock.advance(idle.reset_s - idle.warning_s - 0.5)
    assert not window.idle_bar.isVisible() and "warning" not in controller.cues.played
    clock.advance(0.5)
    first = math.ceil(idle.warning_s)
    assert window.idle_bar.isVisible() and f"in {first} s" in window.idle_text.text()
    for seconds in range(first - 1, 0, -1):  # one number a second, each on screen in turn
        clock.advance(1)
        assert f"in {seconds} s" in window.idle_text.text() and window.idle_bar.isVisible()
    assert controller.resident.search == "my pension 1234"  # the countdown comes before anything is cleared
    reset = expect(controller.events, "reset")
    clock.advance(1)
    await reset
    await settle(window)
    assert controller.screen is Screen.WELCOME and not window.idle_bar.isVisible()
    assert_nothing_of_the_resident(controller, window, ["my pension 1234"])
    assert controller.cues.played.count("warning") == 1  # one cue when the countdown appears


async def test_a_touch_during_the_countdown_keeps_the_session(demo, qtbot, clock):
    controller, window = demo
    idle = controller.idle
    click(qtbot, window, "lang-ja")
    clock.advance(idle.reset_s - idle.warning_s + 3)
    assert window.idle_bar.isVisible() and idle.seconds_left == math.ceil(idle.warning_s) - 3
    cancelled = expect(controller.events, "idle_cancel")
    click(qtbot, window, "idle-continue")
    await cancelled
    assert controller.screen is Screen.CHOOSE and controller.resident.language_chosen
    assert not window.idle_bar.isVisible()
    clock.advance(idle.reset_s - idle.warning_s - 0.5)  # the full time again, from the touch
    assert not window.idle_bar.isVisible()
    clock.advance(0.5)
    assert window.idle_bar.isVisible() and idle.seconds_left == math.ceil(idle.warning_s)
    assert controller.cues.played.count("warning") == 2  # a cue for each countdown


async def test_the_after_call_countdown_shows_every_second_and_a_touch_gives_the_full_time(
    demo, qtbot, clock
):
    from devtools.kiosk_demo import stage

    controller, window = demo
    idle = controller.idle
    await stage(controller, "after_call")  # the countdown starts at once; the stage runs it down to 14
    await settle(window)
    assert controller.screen is Screen.AFTER_CALL and not window.idle_continue.isVisible()
    for seconds in (14, 13, 12):
        assert window.idle_bar.isVisible()
        assert f"{seconds}秒後に最初の画面に戻ります" in window.idle_text.text()
        clock.advance(1)
    click(qtbot, window, "rating-good")  # a touch: the full idle time again, the countdown hidden
    assert controller.ratings["good"] == 1 and not window.idle_bar.isVisible()
    clock.advance(idle.reset_s - idle.warning_s - 0.5)
    assert not window.idle_bar.isVisible()
    clock.advance(0.5)
    assert f"{math.ceil(idle.warning_s)}秒後に最初の画面に戻ります" in window.idle_text.text()
    reset = expect(controller.events, "reset")
    clock.advance(idle.warning_s)
    await reset
    assert controller.screen is Screen.WELCOME and not window.idle_bar.isVisible()


async def test_no_idle_reset_during_a_call_or_on_an_untouched_welcome(demo, clock):
    from devtools.kiosk_demo import stage

    controller, window = demo
    for name, screen in (
        ("in_call_chat", Screen.IN_CALL),
        ("waiting", Screen.WAITING),
        ("welcome", Screen.WELCOME),
    ):
        await stage(controller, name)
        assert not controller.idle.armed
        clock.advance(3600)  # an hour later: still there, no countdown
        assert controller.screen is screen and not window.idle_bar.isVisible()
    await stage(controller, "consent")
    assert controller.idle.armed
