"""Real-time pacing for locally generated media: the `next_timestamp()` pattern aiortc's own tracks use.

aiortc's `VideoStreamTrack.next_timestamp()` is fixed at 30 fps; these helpers pace at any rate and use
the monotonic clock, so a wall-clock jump (NTP) never bursts or stalls a call.
"""

from __future__ import annotations

import asyncio
import fractions
import time

VIDEO_CLOCK_RATE = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)


class Pacer:
    """Hands out timestamps in `clock_rate` units, sleeping until each one is due.

    The first call returns 0 at once; call n returns n*step and returns no earlier than start + n*step.
    If the consumer falls far behind (more than `max_lag_s`), the schedule is reset instead of bursting.
    """

    def __init__(self, clock_rate: int, step: int, max_lag_s: float = 1.0) -> None:
        if clock_rate <= 0 or step <= 0:
            raise ValueError(f"clock_rate and step must be positive, got {clock_rate} and {step}")
        self.clock_rate = clock_rate
        self.step = step
        self.max_lag_s = max_lag_s
        self._start: float | None = None
        self._timestamp = 0
        self._base = 0  # timestamp at the last schedule reset

    @property
    def time_base(self) -> fractions.Fraction:
        return fractions.Fraction(1, self.clock_rate)

    async def next(self) -> int:
        now = time.monotonic()
        if self._start is None:
            self._start = now
            self._timestamp = 0
            return 0
        self._timestamp += self.step
        due = self._start + (self._timestamp - self._base) / self.clock_rate
        wait = due - now
        if wait > 0:
            await asyncio.sleep(wait)
        elif -wait > self.max_lag_s:
            # The consumer stalled (e.g. a paused encoder): restart the schedule from now, keep pts going.
            self._start = now
            self._base = self._timestamp
        return self._timestamp


def video_pacer(fps: int) -> Pacer:
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return Pacer(VIDEO_CLOCK_RATE, round(VIDEO_CLOCK_RATE / fps))
