"""The closing screen's satisfaction rating: anonymous tallies on the kiosk, and one ``rate_call`` to the
server for the call that has just ended (its 1..5 scale; the server takes the first rating of a call only,
within ``RATING_WINDOW_S`` of its end; docs/protocol.md)."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from remote_call import protocol as p
from remote_call.events import EventHub

RATINGS = ("good", "ok", "bad")
RATING_SCORES = {"good": 5, "ok": 3, "bad": 1}  # the three faces on the wire's 1..5 scale


class CallRating:
    def __init__(
        self, send: Callable[[p.Wire], Awaitable[None]], spawn: Callable[[Any, str], None], events: EventHub
    ) -> None:
        self._send = send
        self._spawn = spawn
        events.subscribe(self.on_event)
        self.tallies: collections.Counter[str] = collections.Counter()  # anonymous: no call, no time
        self.ended_call: str | None = None  # the call the closing screen asks about

    def on_event(self, event: str, data: dict[str, Any]) -> None:
        """A party event: a call that ended completed is the one to rate."""
        if event == "call_ended" and data.get("reason") == p.EndReason.COMPLETED.value:
            self.ended_call = data.get("call_id")

    def rate(self, rating: str, *, first: bool) -> None:
        """The resident touched a face; the first touch is counted and sent, a change of mind is not."""
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {RATINGS}, got {rating!r}")
        if not first:
            return
        self.tallies[rating] += 1
        if self.ended_call is not None:
            self._spawn(self._send_rating(self.ended_call, RATING_SCORES[rating]), "rate-call")

    def forget(self) -> None:
        """The privacy reset: the next resident rates nothing of this one's."""
        self.ended_call = None

    async def _send_rating(self, call_id: str, score: int) -> None:
        with contextlib.suppress(ConnectionError):
            await self._send(p.RateCall(call_id=call_id, rating=score))
