"""Call sessions as an explicit state machine: queued → ringing → connecting → in_call → ended.

A call may also step back (ringing → queued when an officer declines or does not answer; connecting or
in_call → queued when the officer drops and the resident goes back to the head of the queue). Every
transition is checked; an illegal one raises ``IllegalTransition`` naming both states.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from remote_call.protocol import CallerInfo, CallState, EndReason
from signaling_server.store import CallRecord

ALLOWED: dict[CallState, frozenset[CallState]] = {
    CallState.QUEUED: frozenset({CallState.RINGING, CallState.ENDED}),
    CallState.RINGING: frozenset({CallState.QUEUED, CallState.CONNECTING, CallState.ENDED}),
    CallState.CONNECTING: frozenset({CallState.IN_CALL, CallState.QUEUED, CallState.ENDED}),
    # in_call → connecting: a warm transfer, the next officer accepted and media is set up afresh.
    CallState.IN_CALL: frozenset({CallState.QUEUED, CallState.CONNECTING, CallState.ENDED}),
    CallState.ENDED: frozenset(),
}


class IllegalTransition(Exception):
    pass


@dataclass
class Call:
    record: CallRecord
    caller: CallerInfo = field(default_factory=CallerInfo)  # what the officer is told before answering
    media_up: set[str] = field(default_factory=set)  # parties that reported media_connected
    restarted_at: float = float("-inf")  # last media restart, to serve both parties' requests with one
    position_sent: bool = False  # the kiosk has been told its place at least once
    # Media restarted because a party came back (a reconnect, a failover), not because it failed: the first
    # set-up time-out after that restarts it once more instead of ending the call (Effects.setup_expired).
    settling: bool = False
    guest: str | None = None  # the identity of a family member in the call by link (switchboard.guests)

    @property
    def call_id(self) -> str:
        return self.record.call_id

    @property
    def state(self) -> CallState:
        return CallState(self.record.state)

    def move(self, new: CallState, now: float, *, reason: EndReason | None = None) -> None:
        old = self.state
        if new not in ALLOWED[old]:
            raise IllegalTransition(f"call {self.call_id}: {old.value} → {new.value} is not allowed")
        if (new is CallState.ENDED) != (reason is not None):
            raise IllegalTransition(f"call {self.call_id}: an end reason goes with 'ended' and only with it")
        self.record.state = new.value
        if new is CallState.CONNECTING:
            self.record.answered_at = now
        elif new is CallState.IN_CALL:
            self.record.started_at = now
        elif new is CallState.QUEUED:
            self.record.officer = None
            self.media_up.clear()
        elif reason is not None:  # ended: checked above, the one state with a reason
            self.record.ended_at = now
            self.record.end_reason = reason.value
