"""The kiosk's two state machines as tables: the call's state and the screen the resident sees.

The call state follows the server (idle → waiting → connecting → in_call → finished → idle); the screen
follows the resident's touches and the call. Every move goes through ``check_state_move`` /
``check_screen_move``: a move the tables do not list raises ``IllegalTransition`` naming both ends, as the
server's call and officer state machines do (``signaling_server/calls.py``,
``signaling_server/routing/states.py``). Staying put is always allowed.

Moves the server causes come from more places than the resident's path, and the tables say so:

- ``queued`` moves to the waiting screen: from preflight on the resident's path, from the welcome when a call
  is requested through the API (the simulator's kiosks never pass the menu), from the choice when a request
  that failed here reached the server after all.
- ``call_connecting`` may come on any screen: after a media restart (in_call → connecting) and after the app
  restarted mid-call, when the server rebuilds the media of the call the kiosk had (the fresh app is wherever
  the resident touched meanwhile).
- ``call_requeued`` (the officer's connection dropped) sends a call back to waiting.
- The privacy reset returns to idle and the welcome from anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TypeVar

from remote_call.events import EventHub


class KioskState(StrEnum):
    IDLE = "idle"
    WAITING = "waiting"
    CONNECTING = "connecting"
    IN_CALL = "in_call"
    FINISHED = "finished"


class Screen(StrEnum):
    WELCOME = "welcome"
    CHOOSE = "choose"
    CONSENT = "consent"
    PREFLIGHT = "preflight"
    WAITING = "waiting"
    CONNECTING = "connecting"
    IN_CALL = "in_call"
    AFTER_CALL = "after_call"
    SERVICE = "service"
    APPOINTMENT = "appointment"  # 予約のある方: the PIN pad and the QR reader


CALL_SCREENS = (Screen.WAITING, Screen.CONNECTING, Screen.IN_CALL)
# The resident's way to a call, where "back" goes one step back.
PATH_SCREENS = (Screen.WELCOME, Screen.CHOOSE, Screen.CONSENT, Screen.PREFLIGHT)

_S = KioskState
# IDLE -> CONNECTING: the server rebuilds the media of a call the kiosk had before the app restarted.
# IN_CALL -> CONNECTING: a media restart. CONNECTING/IN_CALL -> WAITING: requeued, or a blind transfer.
STATE_TRANSITIONS: dict[KioskState, frozenset[KioskState]] = {
    _S.IDLE: frozenset({_S.WAITING, _S.CONNECTING}),
    _S.WAITING: frozenset({_S.CONNECTING, _S.FINISHED, _S.IDLE}),
    _S.CONNECTING: frozenset({_S.IN_CALL, _S.WAITING, _S.FINISHED, _S.IDLE}),
    _S.IN_CALL: frozenset({_S.CONNECTING, _S.WAITING, _S.FINISHED, _S.IDLE}),
    _S.FINISHED: frozenset({_S.IDLE}),
}

_W = Screen
SCREEN_TRANSITIONS: dict[Screen, frozenset[Screen]] = {
    # a language; the IT corner; queued through the API; media of a call from before an app restart; 予約
    _W.WELCOME: frozenset({_W.CHOOSE, _W.SERVICE, _W.WAITING, _W.CONNECTING, _W.APPOINTMENT}),
    # back or start over; a tile; the IT corner; queued after all; media after an app restart
    _W.CHOOSE: frozenset({_W.WELCOME, _W.CONSENT, _W.SERVICE, _W.WAITING, _W.CONNECTING}),
    _W.CONSENT: frozenset({_W.WELCOME, _W.CHOOSE, _W.PREFLIGHT, _W.SERVICE, _W.CONNECTING}),
    _W.PREFLIGHT: frozenset({_W.WELCOME, _W.CONSENT, _W.WAITING, _W.SERVICE, _W.CONNECTING}),
    # cancelled (reset); refused or the request failed; an officer answered; the call ended while waiting
    _W.WAITING: frozenset({_W.WELCOME, _W.CHOOSE, _W.CONNECTING, _W.AFTER_CALL}),
    _W.CONNECTING: frozenset({_W.WELCOME, _W.IN_CALL, _W.WAITING, _W.AFTER_CALL}),
    # a media restart; requeued or transferred; ended
    _W.IN_CALL: frozenset({_W.WELCOME, _W.CONNECTING, _W.WAITING, _W.AFTER_CALL}),
    _W.AFTER_CALL: frozenset({_W.WELCOME, _W.SERVICE, _W.CONNECTING}),
    _W.SERVICE: frozenset({_W.WELCOME, _W.CONNECTING}),
    # back or reset; checked in (waiting for the slot or queued); media after an app restart; the IT corner
    _W.APPOINTMENT: frozenset({_W.WELCOME, _W.WAITING, _W.CONNECTING, _W.SERVICE}),
}


class IllegalTransition(RuntimeError):
    """A move the kiosk's tables do not allow; the message names both ends."""


_T = TypeVar("_T", KioskState, Screen)


def _check(table: Mapping[_T, frozenset[_T]], what: str, old: _T, new: _T) -> None:
    if new is not old and new not in table[old]:
        raise IllegalTransition(f"kiosk {what}: cannot go from {old.value} to {new.value}")


def check_state_move(old: KioskState, new: KioskState) -> None:
    _check(STATE_TRANSITIONS, "state", old, new)


def check_screen_move(old: Screen, new: Screen) -> None:
    _check(SCREEN_TRANSITIONS, "screen", old, new)


class KioskFlow:
    """Where the kiosk is: its call state and the resident's screen, moved only along the tables.

    Emits "state" and "screen" on the event hub when they change; ``on_screen(previous, screen)`` runs after
    every screen move, also one that stays put (the privacy timer re-arms on touches that change nothing)."""

    def __init__(self, events: EventHub, on_screen: Callable[[Screen, Screen], None]) -> None:
        self.events = events
        self.state = KioskState.IDLE
        self.screen = Screen.WELCOME
        self._on_screen = on_screen

    def set_state(self, state: KioskState) -> None:
        if state is not self.state:
            check_state_move(self.state, state)
            self.state = state
            self.events.emit("state", state=state.value)

    def set_screen(self, screen: Screen, *, announce: bool = False) -> None:
        """Move to ``screen`` (``announce``: emit "screen" even when already there)."""
        previous = self.screen
        if screen is not previous:
            check_screen_move(previous, screen)
            self.screen = screen
        if screen is not previous or announce:
            self.events.emit("screen", screen=screen.value)
        self._on_screen(previous, screen)

    async def wait_for_state(self, state: KioskState, timeout: float) -> None:
        if self.state is not state:
            await self.events.wait("state", timeout, state=state.value)
