"""What the interpreter pool tells the server to do: frozen decisions, its states and its errors.

The pool (``interpreters.py``) is pure logic like the router: events in, these decisions out. Named as
instructions to the server, never like the wire messages the server then sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from signaling_server.routing.states import OfficerState

# An interpreter moves through the officers' states (the wire's ``officer_state`` carries them), along its
# own table: OFFLINE -> IN_CALL only for a stay held across a server restart (``restore_session``), and no
# IN_CALL -> AVAILABLE (leaving a call always passes through wrap-up, which may be zero seconds long).
InterpreterState = OfficerState
INTERPRETER_TRANSITIONS: dict[OfficerState, frozenset[OfficerState]] = {
    OfficerState.OFFLINE: frozenset({OfficerState.AVAILABLE, OfficerState.IN_CALL}),
    OfficerState.AVAILABLE: frozenset({OfficerState.RINGING, OfficerState.AWAY, OfficerState.OFFLINE}),
    OfficerState.RINGING: frozenset(
        {OfficerState.AVAILABLE, OfficerState.IN_CALL, OfficerState.AWAY, OfficerState.OFFLINE}
    ),
    OfficerState.IN_CALL: frozenset({OfficerState.WRAP_UP, OfficerState.OFFLINE}),
    OfficerState.WRAP_UP: frozenset({OfficerState.AVAILABLE, OfficerState.AWAY, OfficerState.OFFLINE}),
    OfficerState.AWAY: frozenset({OfficerState.AVAILABLE, OfficerState.AWAY, OfficerState.OFFLINE}),
}
# Interpreters who count as on duty for a language: a request for a language with none is "unavailable".
ON_DUTY = frozenset(
    {OfficerState.AVAILABLE, OfficerState.RINGING, OfficerState.IN_CALL, OfficerState.WRAP_UP}
)


class PoolError(Exception):
    """An event the pool refuses (the server answers ``conflict`` with this text)."""


class IllegalInterpreterTransition(PoolError):
    def __init__(self, interpreter_id: str, old: OfficerState, new: OfficerState) -> None:
        super().__init__(f"interpreter {interpreter_id}: {old.value} → {new.value} is not allowed")
        self.old = old
        self.new = new


@dataclass(frozen=True, slots=True)
class OfferInterpretation:
    """Ring `interpreter_id` for `call_id`; accept or decline within `ring_timeout_s`."""

    interpreter_id: str
    call_id: str
    language: str
    ring_timeout_s: float
    waited_s: float


@dataclass(frozen=True, slots=True)
class WithdrawInterpretation:
    """Stop ringing: reason "timeout", "declined", "caller_left" (the request was cancelled or ended)."""

    interpreter_id: str
    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class JoinInterpreter:
    """The interpreter accepted: the server connects it to the call's parties."""

    call_id: str
    interpreter_id: str
    language: str
    waited_s: float


@dataclass(frozen=True, slots=True)
class InterpretationWaiting:
    """The request waits for an interpreter of its language: its 1-based place and estimated wait."""

    call_id: str
    language: str
    position: int
    estimate_s: float | None


@dataclass(frozen=True, slots=True)
class InterpretationRinging:
    call_id: str
    language: str


@dataclass(frozen=True, slots=True)
class InterpretationClosed:
    """The request ended without an interpreter: "unavailable" (nobody of the language on duty),
    "no_answer" (every one on duty declined or let it ring out) or "cancelled"."""

    call_id: str
    language: str
    outcome: str


@dataclass(frozen=True, slots=True)
class InterpreterStateChanged:
    interpreter_id: str
    state: OfficerState
    reason: str | None


PoolDecision = (
    OfferInterpretation
    | WithdrawInterpretation
    | JoinInterpreter
    | InterpretationWaiting
    | InterpretationRinging
    | InterpretationClosed
    | InterpreterStateChanged
)
