"""The officer's wrap-up (後処理) on the console: the outcome still owed for a call that ended before the
officer gave one (the resident hung up while the officer was writing the note, or the officer pressed the
always-visible end button), and the wrap-up clock, which stands still while the officer writes.

Qt-free; the controller owns one. The server takes an outcome sent after the end (``end_call`` for an ended
call of this officer's, docs/protocol.md), so no call is left without one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Calls that end on the officer's side of things carry no outcome of their own: the resident went on to
# another officer or department, or back to the queue.
NO_OUTCOME_REASONS = frozenset({"transferred", "requeued"})


@dataclass
class OwedOutcome:
    call_id: str
    reason: str  # why the call ended: completed, kiosk_disconnected, setup_failed


class WrapUpClock:
    """Seconds of wrap-up used, less the time the officer spent writing (the clock pauses then)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.owed: OwedOutcome | None = None
        self._paused_at: float | None = None
        self._paused_s = 0.0

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def restart(self) -> None:
        """A new wrap-up starts: nothing paused yet."""
        self._paused_at = None
        self._paused_s = 0.0

    def pause(self) -> None:
        """The officer is writing the outcome's note: the clock stands still until ``resume``."""
        if self._paused_at is None:
            self._paused_at = self._clock()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_s += self._clock() - self._paused_at
            self._paused_at = None

    def used(self, since: float) -> float:
        """Wrap-up seconds used since ``since`` (when wrap-up began), not counting the writing."""
        now = self._clock()
        paused = self._paused_s + (now - self._paused_at if self._paused_at is not None else 0.0)
        return max(0.0, now - since - paused)

    def call_ended(self, call_id: str, reason: str, outcome_given: bool) -> None:
        """A call of this officer's ended: its outcome is owed unless given or not the officer's to give."""
        if outcome_given or reason in NO_OUTCOME_REASONS:
            if self.owed is not None and self.owed.call_id == call_id:
                self.owed = None
            return
        self.owed = OwedOutcome(call_id, reason)

    def settled(self, call_id: str) -> None:
        """The owed outcome was sent."""
        if self.owed is not None and self.owed.call_id == call_id:
            self.owed = None
        self.resume()
