"""The console's wrap-up bookkeeping without Qt: which ended call still owes its outcome, and the clock
that stands still while the officer writes."""

from __future__ import annotations

import pytest

from staff_console.wrap_up import WrapUpClock


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_writing_pauses_the_clock_until_resumed() -> None:
    clock = Clock()
    wrap = WrapUpClock(clock)
    since = clock.now
    clock.now += 5
    wrap.pause()
    clock.now += 100
    assert wrap.paused and wrap.used(since) == 5
    wrap.pause()  # again while paused: still from the first moment
    wrap.resume()
    clock.now += 3
    assert not wrap.paused and wrap.used(since) == 8
    wrap.restart()  # the next wrap-up starts afresh
    assert wrap.used(clock.now) == 0


@pytest.mark.parametrize(
    ("reason", "given", "owed"),
    [
        ("completed", False, True),  # the resident hung up mid-note, or the end button
        ("kiosk_disconnected", False, True),
        ("completed", True, False),  # ended with its outcome
        ("transferred", False, False),  # the next officer has the resident
        ("requeued", False, False),
    ],
)
def test_which_ended_call_owes_its_outcome(reason: str, given: bool, owed: bool) -> None:
    wrap = WrapUpClock(Clock())
    wrap.call_ended("c1", reason, given)
    assert (wrap.owed is not None) is owed
    if owed:
        assert wrap.owed is not None and (wrap.owed.call_id, wrap.owed.reason) == ("c1", reason)
        wrap.pause()
        wrap.settled("other-call")  # another call's outcome: this one is still owed
        assert wrap.owed is not None
        wrap.settled("c1")
        assert wrap.owed is None and not wrap.paused
