"""The interpreter pool (通訳者プール): requests for a language, offered to interpreters who speak it.

Pure logic like the router: every event (a request, an accept, the clock passing a ring timeout) returns
frozen decisions (``interpreters_decisions``); the switchboard's conference layer applies them. Time comes
from the injected clock only, so tests drive it with a fake clock and ``tick()``.

- Requests wait FIFO per language; one request is offered to one interpreter at a time, and an interpreter
  is offered one request at a time (the longest idle interpreter of the language first).
- Decline or no answer within ``ring_timeout_s`` offers the request to the next interpreter not yet tried.
  An interpreter who lets an offer ring out goes ``away`` (reason ``no_answer``), as officers do.
- A request for a language nobody on duty speaks is closed ``unavailable`` at once; one that every
  interpreter on duty has declined or let ring out is closed ``no_answer``. The call goes on either way.
- Leaving a call puts the interpreter in wrap-up for ``wrap_up_s``, then available again.

The estimate and the statistics are described in docs/routing.md ("Interpreter pool").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from signaling_server.routing.estimate import HandleTimes
from signaling_server.routing.interpreters_decisions import (
    INTERPRETER_TRANSITIONS,
    ON_DUTY,
    IllegalInterpreterTransition,
    InterpretationClosed,
    InterpretationRinging,
    InterpretationWaiting,
    InterpreterState,
    InterpreterStateChanged,
    JoinInterpreter,
    OfferInterpretation,
    PoolDecision,
    PoolError,
    WithdrawInterpretation,
)
from signaling_server.routing.interpreters_snapshot import WaitingRequest

S = InterpreterState
NO_ANSWER = "no_answer"
OUTCOMES = ("joined", "unavailable", "no_answer", "cancelled")


@dataclass
class _Interpreter:
    interpreter_id: str
    languages: frozenset[str]
    state: InterpreterState = S.OFFLINE
    reason: str | None = None
    idle_since: float = 0.0  # longest idle is offered first
    call_id: str | None = None  # ringing for or in this call
    wrap_until: float | None = None


@dataclass
class _Request:
    call_id: str
    language: str
    requested_at: float
    tried: set[str] = field(default_factory=set)
    offered_to: str | None = None
    ring_until: float | None = None
    told: tuple[int, float | None] | None = None  # the last place and estimate the parties were told
    held_until: float | None = None  # restored after a restart: not closed for want of interpreters before


@dataclass
class _Session:
    interpreter_id: str
    language: str
    joined_at: float


@dataclass
class _LanguageStats:
    requested: int = 0
    joined: int = 0
    unavailable: int = 0
    no_answer: int = 0
    cancelled: int = 0
    seconds: float = 0.0  # interpretation time of finished sessions
    wait_s: list[float] = field(default_factory=list)  # request → accept, of joined requests


class InterpreterPool:
    def __init__(
        self,
        *,
        clock: Callable[[], float],
        ring_timeout_s: float = 20.0,
        wrap_up_s: float = 30.0,
        default_session_s: float = 600.0,
    ) -> None:
        if ring_timeout_s <= 0 or wrap_up_s < 0 or default_session_s <= 0:
            raise ValueError("ring timeout and session length must be positive, wrap-up not negative")
        self._clock = clock
        self.ring_timeout_s = ring_timeout_s
        self.wrap_up_s = wrap_up_s
        self._default_session_s = default_session_s
        self._interpreters: dict[str, _Interpreter] = {}
        self._requests: dict[str, _Request] = {}  # insertion order is FIFO order
        self._sessions: dict[str, _Session] = {}
        self._stats: dict[str, _LanguageStats] = {}
        self._handle: dict[str, HandleTimes] = {}

    # ------------------------------------------------------------------ views

    def state(self, interpreter_id: str) -> InterpreterState:
        found = self._interpreters.get(interpreter_id)
        return found.state if found is not None else S.OFFLINE

    def reason(self, interpreter_id: str) -> str | None:
        found = self._interpreters.get(interpreter_id)
        return found.reason if found is not None else None

    def request_of(self, call_id: str) -> tuple[str, str | None] | None:
        """A live request's language and the interpreter it is ringing (if any)."""
        request = self._requests.get(call_id)
        return None if request is None else (request.language, request.offered_to)

    def session_of(self, call_id: str) -> tuple[str, str] | None:
        """The interpreter in the call and the language, while they are in it."""
        session = self._sessions.get(call_id)
        return None if session is None else (session.interpreter_id, session.language)

    def ringing(self, interpreter_id: str) -> str | None:
        found = self._interpreters.get(interpreter_id)
        return found.call_id if found is not None and found.state is S.RINGING else None

    def next_deadline(self) -> float | None:
        due = [r.ring_until for r in self._requests.values() if r.ring_until is not None]
        due += [i.wrap_until for i in self._interpreters.values() if i.wrap_until is not None]
        due += [r.held_until for r in self._requests.values() if r.held_until is not None]
        return min(due, default=None)

    def waiting(self) -> tuple[WaitingRequest, ...]:
        """Every live request, in FIFO order, as the snapshot keeps it (a ringing one waits again)."""
        return tuple(
            WaitingRequest(r.call_id, r.language, r.requested_at, tuple(sorted(r.tried)))
            for r in self._requests.values()
        )

    def status_of(self, call_id: str) -> tuple[str, str, int | None, float | None] | None:
        """A live request's language, ``waiting`` or ``ringing``, and its place and estimate (waiting)."""
        request = self._requests.get(call_id)
        if request is None:
            return None
        if request.offered_to is not None:
            return request.language, "ringing", None, None
        place = 0
        for other in self._requests.values():  # insertion order is FIFO order, as in ``_places``
            place += other.language == request.language and other.offered_to is None
            if other is request:
                break
        return request.language, "waiting", place, self._estimate(request.language, place)

    # ------------------------------------------------------------------ interpreters

    def online(self, interpreter_id: str, languages: Iterable[str]) -> list[PoolDecision]:
        """Signed in (or back): available for the given languages."""
        found = self._interpreters.get(interpreter_id)
        if found is not None and found.state is not S.OFFLINE:
            raise PoolError(f"interpreter {interpreter_id} is already signed in")
        interpreter = _Interpreter(interpreter_id, frozenset(languages))
        self._interpreters[interpreter_id] = interpreter
        out: list[PoolDecision] = []
        self._move(interpreter, S.AVAILABLE, None, out)
        return self._step(out)

    def restore_session(
        self, call_id: str, interpreter_id: str, languages: Iterable[str], language: str, joined_at: float
    ) -> list[PoolDecision]:
        """After a restart: the interpreter was in ``call_id`` since ``joined_at`` and is held in it."""
        if self.state(interpreter_id) is not S.OFFLINE or call_id in self._sessions:
            raise PoolError(f"interpreter {interpreter_id} or call {call_id} is in use already")
        interpreter = _Interpreter(interpreter_id, frozenset(languages), call_id=call_id)
        self._interpreters[interpreter_id] = interpreter
        self._sessions[call_id] = _Session(interpreter_id, language, joined_at)
        out: list[PoolDecision] = []
        self._move(interpreter, S.IN_CALL, None, out)
        return self._step(out)

    def offline(self, interpreter_id: str) -> list[PoolDecision]:
        """Gone (signed out, or its connection did not come back): a ring goes to the next interpreter; a
        session ends (the server tells the call's parties)."""
        interpreter = self._get(interpreter_id)
        out: list[PoolDecision] = []
        if interpreter.state is S.OFFLINE:
            return out
        if interpreter.state is S.RINGING:
            self._unring(interpreter, "timeout", out, tried=True)
        if interpreter.state is S.IN_CALL and interpreter.call_id is not None:
            self._end_session(interpreter.call_id)
        interpreter.call_id = None
        interpreter.wrap_until = None
        self._move(interpreter, S.OFFLINE, None, out)
        return self._step(out)

    def set_available(self, interpreter_id: str) -> list[PoolDecision]:
        interpreter = self._get(interpreter_id)
        if interpreter.state in (S.RINGING, S.IN_CALL, S.OFFLINE):
            raise PoolError(f"interpreter {interpreter_id} is {interpreter.state.value}: cannot be available")
        out: list[PoolDecision] = []
        if interpreter.state is not S.AVAILABLE:
            interpreter.wrap_until = None
            self._move(interpreter, S.AVAILABLE, None, out)
        return self._step(out)

    def set_away(self, interpreter_id: str, reason: str) -> list[PoolDecision]:
        """Away (a break); while ringing it counts as declining the offer."""
        interpreter = self._get(interpreter_id)
        if interpreter.state in (S.IN_CALL, S.OFFLINE):
            raise PoolError(f"interpreter {interpreter_id} is {interpreter.state.value}: cannot go away")
        out: list[PoolDecision] = []
        if interpreter.state is S.RINGING:
            self._unring(interpreter, "declined", out, tried=True)
        interpreter.wrap_until = None
        self._move(interpreter, S.AWAY, reason, out)
        return self._step(out)

    # ------------------------------------------------------------------ requests

    def request(self, call_id: str, language: str) -> list[PoolDecision]:
        """The officer asks for an interpreter of ``language`` for ``call_id``."""
        if call_id in self._requests:
            raise PoolError(f"call {call_id} is already waiting for an interpreter")
        if call_id in self._sessions:
            raise PoolError(f"call {call_id} already has an interpreter")
        self._stats_of(language).requested += 1
        self._requests[call_id] = _Request(call_id, language, self._clock())
        return self._step([])

    def restore_requests(self, requests: Iterable[WaitingRequest], hold_s: float) -> list[PoolDecision]:
        """After a restart: the saved requests wait again in their order, with their first request time
        and who already declined. For ``hold_s`` (the reconnect grace) a request is not closed for want of
        interpreters: they are signing in again. Calls already waiting or served are skipped."""
        hold_until = self._clock() + hold_s
        for saved in sorted(requests, key=lambda r: r.requested_at):
            if saved.call_id in self._requests or saved.call_id in self._sessions:
                continue
            self._stats_of(saved.language).requested += 1
            self._requests[saved.call_id] = _Request(
                saved.call_id, saved.language, saved.requested_at, set(saved.tried), held_until=hold_until
            )
        return self._step([])

    def cancel(self, call_id: str) -> list[PoolDecision]:
        """The request is withdrawn (the officer cancelled it, or the call ended or moved on)."""
        request = self._requests.get(call_id)
        if request is None:
            raise PoolError(f"call {call_id} has no interpreter request")
        out: list[PoolDecision] = []
        if request.offered_to is not None:
            interpreter = self._interpreters[request.offered_to]
            self._unring(interpreter, "caller_left", out, tried=False)
            self._move(interpreter, S.AVAILABLE, None, out)
        self._close(request, "cancelled", out)
        return self._step(out)

    def accept(self, interpreter_id: str, call_id: str) -> list[PoolDecision]:
        interpreter = self._get(interpreter_id)
        request = self._requests.get(call_id)
        if request is None or request.offered_to != interpreter_id or interpreter.state is not S.RINGING:
            raise PoolError(f"call {call_id} is not ringing for interpreter {interpreter_id}")
        now = self._clock()
        del self._requests[call_id]
        stats = self._stats_of(request.language)
        stats.joined += 1
        stats.wait_s.append(now - request.requested_at)
        del stats.wait_s[:-200]
        self._sessions[call_id] = _Session(interpreter_id, request.language, now)
        out: list[PoolDecision] = []
        self._move(interpreter, S.IN_CALL, None, out)
        out.append(JoinInterpreter(call_id, interpreter_id, request.language, now - request.requested_at))
        return self._step(out)

    def decline(self, interpreter_id: str, call_id: str) -> list[PoolDecision]:
        interpreter = self._get(interpreter_id)
        if interpreter.state is not S.RINGING or interpreter.call_id != call_id:
            raise PoolError(f"call {call_id} is not ringing for interpreter {interpreter_id}")
        out: list[PoolDecision] = []
        self._unring(interpreter, "declined", out, tried=True)
        self._move(interpreter, S.AVAILABLE, None, out)
        return self._step(out)

    def leave(self, call_id: str) -> list[PoolDecision]:
        """The interpreter left the call (or was removed, or the call ended): wrap-up, then available."""
        session = self._sessions.get(call_id)
        if session is None:
            raise PoolError(f"call {call_id} has no interpreter")
        self._end_session(call_id)
        interpreter = self._interpreters[session.interpreter_id]
        interpreter.call_id = None
        out: list[PoolDecision] = []
        self._move(interpreter, S.WRAP_UP, None, out)
        interpreter.wrap_until = self._clock() + self.wrap_up_s
        return self._step(out)

    def call_gone(self, call_id: str) -> list[PoolDecision]:
        """The call ended: its request is cancelled and its interpreter leaves, whichever there is."""
        if call_id in self._requests:
            return self.cancel(call_id)
        if call_id in self._sessions:
            return self.leave(call_id)
        return []

    def tick(self) -> list[PoolDecision]:
        """Ring timeouts and wrap-ups that are due by now."""
        now = self._clock()
        out: list[PoolDecision] = []
        for request in list(self._requests.values()):
            if request.ring_until is not None and request.ring_until <= now and request.offered_to:
                interpreter = self._interpreters[request.offered_to]
                self._unring(interpreter, "timeout", out, tried=True)
                self._move(interpreter, S.AWAY, NO_ANSWER, out)
        for interpreter in self._interpreters.values():
            if interpreter.wrap_until is not None and interpreter.wrap_until <= now:
                interpreter.wrap_until = None
                self._move(interpreter, S.AVAILABLE, None, out)
        return self._step(out)

    # ------------------------------------------------------------------ statistics

    def stats(self) -> dict[str, Any]:
        """Per language: requests by outcome, live ones, interpretation minutes and the wait to join; per
        interpreter: state and languages. ``requested`` = the outcomes + ``waiting`` + ``ringing``."""
        languages: dict[str, Any] = {}
        for language, s in sorted(self._stats.items()):
            live = [r for r in self._requests.values() if r.language == language]
            ringing = sum(1 for r in live if r.offered_to is not None)
            minutes = (s.seconds + self._live_seconds(language)) / 60
            waits = sorted(s.wait_s)
            languages[language] = {
                "requested": s.requested,
                **{o: getattr(s, o) for o in OUTCOMES},
                "waiting": len(live) - ringing,
                "ringing": ringing,
                "in_call": sum(1 for x in self._sessions.values() if x.language == language),
                "minutes": round(minutes, 2),
                "wait_p50_s": round(waits[len(waits) // 2], 1) if waits else None,
            }
        interpreters = {
            i.interpreter_id: {"state": i.state.value, "languages": sorted(i.languages)}
            for i in self._interpreters.values()
            if i.state is not S.OFFLINE
        }
        return {"languages": languages, "interpreters": interpreters}

    # ------------------------------------------------------------------ inside

    def _get(self, interpreter_id: str) -> _Interpreter:
        found = self._interpreters.get(interpreter_id)
        if found is None:
            raise PoolError(f"interpreter {interpreter_id} is not signed in")
        return found

    def _stats_of(self, language: str) -> _LanguageStats:
        return self._stats.setdefault(language, _LanguageStats())

    def _live_seconds(self, language: str) -> float:
        now = self._clock()
        return sum(now - s.joined_at for s in self._sessions.values() if s.language == language)

    def _move(self, interpreter: _Interpreter, new: InterpreterState, reason: str | None, out: list) -> None:
        old = interpreter.state
        if new not in INTERPRETER_TRANSITIONS[old]:
            raise IllegalInterpreterTransition(interpreter.interpreter_id, old, new)
        interpreter.state = new
        interpreter.reason = reason
        if new is S.AVAILABLE:
            interpreter.idle_since = self._clock()
        out.append(InterpreterStateChanged(interpreter.interpreter_id, new, reason))

    def _unring(self, interpreter: _Interpreter, reason: str, out: list, *, tried: bool) -> None:
        """The interpreter's offer goes away (the caller decides its next state); the request waits again."""
        call_id = interpreter.call_id
        interpreter.call_id = None
        request = self._requests.get(call_id or "")
        if request is not None and request.offered_to == interpreter.interpreter_id:
            request.offered_to = None
            request.ring_until = None
            request.told = None
            if tried:
                request.tried.add(interpreter.interpreter_id)
        if call_id is not None:
            out.append(WithdrawInterpretation(interpreter.interpreter_id, call_id, reason))

    def _end_session(self, call_id: str) -> None:
        session = self._sessions.pop(call_id)
        seconds = self._clock() - session.joined_at
        self._stats_of(session.language).seconds += seconds
        self._handle.setdefault(session.language, HandleTimes(default_s=self._default_session_s)).add(seconds)

    def _close(self, request: _Request, outcome: str, out: list) -> None:
        del self._requests[request.call_id]
        stats = self._stats_of(request.language)
        setattr(stats, outcome, getattr(stats, outcome) + 1)
        out.append(InterpretationClosed(request.call_id, request.language, outcome))

    def _on_duty(self, language: str) -> set[str]:
        return {
            i.interpreter_id
            for i in self._interpreters.values()
            if i.state in ON_DUTY and language in i.languages
        }

    def _step(self, out: list[PoolDecision]) -> list[PoolDecision]:
        """After every event: close what can no longer be served, offer what can, tell new places."""
        now = self._clock()
        for request in list(self._requests.values()):
            if request.offered_to is not None:
                continue
            if request.held_until is not None:
                if now < request.held_until:
                    continue  # restored: its interpreters may still be signing in again
                request.held_until = None
            on_duty = self._on_duty(request.language)
            if not on_duty:
                self._close(request, "no_answer" if request.tried else "unavailable", out)
            elif on_duty <= request.tried:
                self._close(request, "no_answer", out)
        for request in list(self._requests.values()):
            if request.offered_to is None:
                self._offer(request, out)
        self._places(out)
        return out

    def _offer(self, request: _Request, out: list[PoolDecision]) -> None:
        free = [
            i
            for i in self._interpreters.values()
            if i.state is S.AVAILABLE
            and request.language in i.languages
            and i.interpreter_id not in request.tried
        ]
        if not free:
            return
        interpreter = min(free, key=lambda i: (i.idle_since, i.interpreter_id))
        now = self._clock()
        request.offered_to = interpreter.interpreter_id
        request.ring_until = now + self.ring_timeout_s
        request.told = None
        interpreter.call_id = request.call_id
        self._move(interpreter, S.RINGING, None, out)
        out.append(
            OfferInterpretation(
                interpreter.interpreter_id,
                request.call_id,
                request.language,
                self.ring_timeout_s,
                now - request.requested_at,
            )
        )
        out.append(InterpretationRinging(request.call_id, request.language))

    def _places(self, out: list[PoolDecision]) -> None:
        """Each waiting request's place among its language's waiting requests, when it changed."""
        places: dict[str, int] = {}
        for request in self._requests.values():
            if request.offered_to is not None:
                continue
            place = places[request.language] = places.get(request.language, 0) + 1
            estimate = self._estimate(request.language, place)
            if request.told != (place, estimate):
                request.told = (place, estimate)
                out.append(InterpretationWaiting(request.call_id, request.language, place, estimate))

    def _estimate(self, language: str, place: int) -> float | None:
        """Rounds of sessions ahead × the mean session of the language; None with nobody on duty."""
        on_duty = len(self._on_duty(language))
        if on_duty == 0:
            return None
        handle = self._handle.get(language)
        mean = handle.mean() if handle is not None else self._default_session_s
        return float(math.ceil(place / on_duty) * round(mean))
