"""Kiosk mode's only way out: an IT gesture (hold a corner for 5 s) followed by the PIN from the config.

Both parts are Qt-free: the view forwards presses and releases with their position; the gesture arms a
timer on the asyncio loop and calls ``on_gesture`` if the press is still held when it fires. PIN attempts
are compared in constant time and locked out for a while after repeated failures.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable


class ExitGesture:
    def __init__(self, on_gesture: Callable[[], None], *, hold_s: float = 5.0, corner_px: int = 120):
        self.on_gesture = on_gesture
        self.hold_s = hold_s
        self.corner_px = corner_px
        self._timer: asyncio.TimerHandle | None = None

    def in_corner(self, x: float, y: float, width: int, height: int) -> bool:
        """The top-right corner (away from where residents touch, out of reach of a casual lean)."""
        return x >= width - self.corner_px and y <= self.corner_px

    def press(self, x: float, y: float, width: int, height: int) -> None:
        self.release()
        if self.in_corner(x, y, width, height):
            self._timer = asyncio.get_running_loop().call_later(self.hold_s, self._fire)

    def release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def pending(self) -> bool:
        return self._timer is not None

    def _fire(self) -> None:
        self._timer = None
        self.on_gesture()


class PinCheck:
    """The exit PIN, set at provisioning (``kiosk_app.exit_pin``; nothing is shipped). Without one (None),
    nobody leaves kiosk mode by the PIN, and ``madoguchi-kiosk`` refuses to start in kiosk mode at all.
    After ``max_failures`` wrong PINs in a row the check locks for ``lockout_s``; each further lockout
    doubles (60 s, 2 min, 4 min, ... up to ``max_lockout_s``) until the right PIN is entered."""

    def __init__(
        self,
        pin: str | None,
        *,
        max_failures: int = 5,
        lockout_s: float = 60.0,
        max_lockout_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if pin is not None and (not pin.isdigit() or not 4 <= len(pin) <= 12):
            raise ValueError("the exit PIN must be 4 to 12 digits")
        self._pin = pin.encode() if pin is not None else None
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.max_lockout_s = max_lockout_s
        self._clock = clock
        self.failures = 0
        self.lockouts = 0  # in a row, without the right PIN in between
        self._locked_until = 0.0

    @property
    def configured(self) -> bool:
        return self._pin is not None

    @property
    def locked(self) -> bool:
        return self._clock() < self._locked_until

    def check(self, entered: str) -> bool:
        if self.locked or self._pin is None:
            return False
        ok = hmac.compare_digest(entered.encode(), self._pin)
        if ok:
            self.failures = self.lockouts = 0
            return True
        self.failures += 1
        if self.failures >= self.max_failures:
            self.failures = 0
            lockout = min(self.lockout_s * 2 ** min(self.lockouts, 30), self.max_lockout_s)
            self.lockouts += 1
            self._locked_until = self._clock() + lockout
        return False
