"""How often the switchboard writes its queue snapshot: at the tick after a change, unless saves are costly.

The snapshot holds every waiting caller, so its cost grows with the queue: at 1,000 waiting it took 14 ms
to build and 4 ms to encode (0.4 MB), at 15,000 waiting 230 ms and 72 ms (5.1 MB) on this machine, before
the write. A tick comes at every deadline (offers, set-up time-outs, position batches), and during a
city's peak each finds the queue changed: a profile of a cluster leader at 3,000 waiting spent 3 s of 25 s
in these saves (docs/performance.md), about seven times as much per save at 15,000. So a save that cost
more than ``CHEAP_S`` holds the next one back until saves have taken at most ``SAVE_SHARE`` of the time
since; the change waits (``held``) and goes out at ``next_at``, which the switchboard counts among its
deadlines.

Nothing is lost in between: a restart reconciles the snapshot with the call records, saved at every
change, and rejoins the callers the snapshot has not seen yet by their join time
(``routing.snapshot.reconcile``). Pure: the board's clock in, the measured cost of each save in.
"""

from __future__ import annotations

from dataclasses import dataclass

SAVE_SHARE = 0.1  # of the time: the saves of a long queue may take a tenth of the event loop, no more
CHEAP_S = 0.05  # a save this fast (a queue of up to ~2,000 on this machine) goes out at every tick as before


@dataclass
class SaveCadence:
    """``may_save(now)`` before a save, ``saved(now, took_s)`` after it; ``held`` while a change waits."""

    next_at: float | None = None  # no save before this (board clock), after a costly one
    saved_at: float = float("-inf")  # when the last save ended (board clock)
    held: bool = False  # a change is waiting for ``next_at``

    def may_save(self, now: float) -> bool:
        """Whether a change may be saved at ``now``; if not, it is held for ``next_at``. The board's clock
        is the wall clock: set back (by hand, or NTP) to before the last save, it holds nothing."""
        self.held = self.next_at is not None and self.saved_at <= now < self.next_at
        return not self.held

    def saved(self, now: float, took_s: float) -> None:
        """A save that took ``took_s`` ended at ``now``: the next one waits if it was costly."""
        self.held = False
        self.saved_at = now
        self.next_at = now + took_s * (1 / SAVE_SHARE - 1) if took_s > CHEAP_S else None

    @property
    def due(self) -> float | None:
        """When a held change is to be saved (a deadline of the switchboard's), or None."""
        return self.next_at if self.held else None
