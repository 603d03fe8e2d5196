"""The privacy timer: after ``reset_s`` without a touch the resident's session is cleared, but never silently.

For the last ``warning_s`` seconds a countdown is shown (``on_tick(seconds_left)`` once per second); a touch
during the countdown cancels it (``on_cancel``) and starts over. Free of Qt. Time comes from ``timers``: by
default the running asyncio loop's clock and timers (``LoopTimers``); tests and the demo give a clock that
moves only when they move it (``devtools.manual_clock.ManualTimers``), so every tick is exact and on demand.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Protocol


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Timers(Protocol):
    """What the timer needs of an event loop: a monotonic clock and a callback after a delay."""

    def time(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable: ...


class LoopTimers:
    """Real time: the running asyncio loop's (looked up at each call: a timer may be built before it runs)."""

    def time(self) -> float:
        return asyncio.get_running_loop().time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        return asyncio.get_running_loop().call_later(delay, callback)


class IdleTimer:
    def __init__(
        self,
        reset_s: float,
        warning_s: float,
        *,
        on_tick: Callable[[int], None],
        on_expire: Callable[[], None],
        on_cancel: Callable[[], None],
        timers: Timers | None = None,
    ):
        if reset_s <= 0 or warning_s <= 0:
            raise ValueError(f"idle times must be positive, got reset {reset_s} s and warning {warning_s} s")
        if warning_s > reset_s:
            raise ValueError(
                f"the idle warning ({warning_s} s) cannot be longer than the reset ({reset_s} s)"
            )
        self.reset_s = reset_s
        self.warning_s = warning_s
        self.timers: Timers = timers if timers is not None else LoopTimers()
        self._on_tick = on_tick
        self._on_expire = on_expire
        self._on_cancel = on_cancel
        self._handle: Cancellable | None = None
        self._deadline: float | None = None
        self.warning = False
        self.seconds_left: int | None = None

    @property
    def armed(self) -> bool:
        return self._deadline is not None

    def arm(self, total_s: float | None = None) -> None:
        """(Re)start: expire ``total_s`` (default ``reset_s``) from now, counting down in the last part."""
        self._clear(cancelled=True)
        total = self.reset_s if total_s is None else total_s
        self._deadline = self.timers.time() + total
        warn_in = max(0.0, total - self.warning_s)
        self._handle = self.timers.call_later(warn_in, self._tick)

    def touch(self) -> None:
        """A touch anywhere: start over (cancelling a visible countdown)."""
        if self.armed:
            self.arm()

    def disarm(self) -> None:
        self._clear(cancelled=True)
        self._deadline = None

    def _clear(self, *, cancelled: bool) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.warning and cancelled:
            self.warning = False
            self.seconds_left = None
            self._on_cancel()
        self.warning = False
        self.seconds_left = None

    def _tick(self) -> None:
        assert self._deadline is not None
        left = self._deadline - self.timers.time()
        if left <= 0.001:
            self._handle = None
            self._deadline = None
            self.warning = False
            self.seconds_left = None
            self._on_expire()
            return
        self.warning = True
        self.seconds_left = math.ceil(left - 1e-6)
        self._on_tick(self.seconds_left)
        # Next tick when the displayed number changes (or at the deadline).
        delay = left - (self.seconds_left - 1)
        self._handle = self.timers.call_later(max(0.0, min(delay, left)), self._tick)
