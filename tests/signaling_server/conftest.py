"""Fakes for the switchboard's unit tests: a clock that moves only when told, clients without sockets."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from remote_call import protocol as p
from remote_call.protocol import Role
from signaling_server.auth import Principal
from signaling_server.routing import CheckInDesk
from signaling_server.store import Store
from signaling_server.switchboard import Client, Listener, Switchboard
from signaling_server.testing import test_config

# Wednesday 2026-11-25 10:00 in Tokyo: an ordinary working day.
WORKDAY_10AM = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()


class FakeClock:
    """Time moves only when a test moves it."""

    def __init__(self, start: float = WORKDAY_10AM) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class Inbox:
    """What the switchboard sent one client, in order, as the client would parse it."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.closed = False
        self.arrived = asyncio.Event()  # set at every message, for tests with a running loop

    def send_raw(self, text: str) -> None:
        self.texts.append(text)
        self.arrived.set()

    def close(self) -> None:
        self.closed = True

    @property
    def messages(self) -> list[p.Wire]:
        return [p.parse_message(t, max_bytes=1 << 22) for t in self.texts]

    def types(self) -> list[str]:
        """The messages' types, leaving out the periodic statistics."""
        return [t for m in self.messages if (t := getattr(m, "type", "?")) != "supervisor_stats"]

    def take(self) -> list[p.Wire]:
        """Everything so far; the inbox is empty afterwards."""
        messages = self.messages
        self.texts.clear()
        return messages

    def only(self, kind: type[Any]) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]


class RecordingMonitor:
    """The health registry's side of the switchboard, recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def heartbeat(self, kiosk_id: str, msg: p.Heartbeat, now: float) -> None:
        self.calls.append(("heartbeat", (kiosk_id, now)))

    def call_quality(self, identity: str, role: str, msg: p.CallQuality, now: float) -> None:
        self.calls.append(("call_quality", (identity, role, now)))

    def action_result(self, kiosk_id: str, msg: p.ActionResult) -> None:
        self.calls.append(("action_result", (kiosk_id, msg.action_id)))

    def client_attached(self, role: str, identity: str, now: float) -> None:
        self.calls.append(("attached", (role, identity, now)))

    def client_detached(self, role: str, identity: str, now: float) -> None:
        self.calls.append(("detached", (role, identity, now)))


def kiosk(identity: str = "kiosk-ueda") -> Principal:
    return Principal(role=Role.KIOSK, identity=identity, display_name=identity, skills={})


def officer(
    identity: str = "hanako", skills: dict[str, str] | None = None, token: str | None = None
) -> Principal:
    skills = {"kosodate": "primary"} if skills is None else skills
    return Principal(Role.OFFICER, identity, identity, skills, token or f"session-of-{identity}")


def supervisor(identity: str = "sato", token: str | None = None) -> Principal:
    return Principal(Role.SUPERVISOR, identity, identity, {}, token or f"session-of-{identity}")


class Harness:
    """A switchboard on a fake clock with an in-memory store, a recording monitor and event list."""

    def __init__(
        self, clock: Callable[[], float], *, listeners: Iterable[Listener] = (), **server: Any
    ) -> None:
        self.clock = clock
        self.listeners = (lambda event, data: self.events.append((event, data)), *listeners)
        self.config = test_config(**server)
        self.store = Store(":memory:")
        self.monitor = RecordingMonitor()
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.expired: set[str] = set()  # session tokens no longer valid
        self.appointments: CheckInDesk | None = None  # a booking desk: set it, then rebuild (``_build``)
        # Times the queue's saves (Switchboard.cost_clock): standing still, every save is cheap and goes out
        # at the tick after the change, however loaded the machine; set it, then rebuild, to test costly ones.
        self.cost_clock: Callable[[], float] = lambda: 0.0
        self.board = self._build()

    def _build(self) -> Switchboard:
        return Switchboard(
            self.config,
            self.store,
            clock=self.clock,
            monitor=self.monitor,
            listeners=self.listeners,
            session_valid=lambda token: token not in self.expired,
            appointments=self.appointments,
            cost_clock=self.cost_clock,
        )

    def restart(self) -> Switchboard:
        """A new switchboard over the same store, restored, as after kill -9 (the old one never shut down)."""
        self.board = self._build()
        self.board.restore()
        return self.board

    def connect(self, principal: Principal) -> tuple[Client, Inbox]:
        """As the app does: attach, queue the welcome, then resume."""
        inbox = Inbox()
        client = Client(principal=principal, send_raw=inbox.send_raw, close=inbox.close)
        welcome = self.board.attach(client)
        assert inbox.texts == []  # attach sends nothing: the welcome goes first
        inbox.send_raw(p.encode(welcome))
        self.board.resume(client)
        return client, inbox

    def send(self, client: Client, message: p.Wire) -> None:
        self.board.handle(client, message, p.encode(message))

    def advance(self, seconds: float) -> None:
        assert isinstance(self.clock, FakeClock)
        self.clock.advance(seconds)
        self.board.tick()

    def event_names(self) -> list[str]:
        return [event for event, _ in self.events]

    def call_in_progress(self, department: str = "kosodate") -> tuple[Client, Inbox, Client, Inbox, str]:
        """A kiosk and an officer in a call, media up on both sides: (kiosk, inbox, officer, inbox, id)."""
        k, k_inbox = self.connect(kiosk())
        o, o_inbox = self.connect(officer())
        self.send(k, p.RequestCall(department=department))
        call_id = o_inbox.only(p.CallOffer)[-1].call_id
        self.send(o, p.AcceptCall(call_id=call_id))
        for client in (k, o):
            self.send(client, p.MediaConnected(call_id=call_id))
        assert self.board.calls[call_id].state is p.CallState.IN_CALL
        k_inbox.take()
        o_inbox.take()
        return k, k_inbox, o, o_inbox, call_id


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_harness(clock: FakeClock) -> Iterator[Callable[..., Harness]]:
    """``make_harness(**server_overrides)``, on the fake clock unless given ``clock=``."""
    made: list[Harness] = []

    def factory(*, clock: Callable[[], float] = clock, **server: Any) -> Harness:
        harness = Harness(clock, **server)  # listeners=[...] too
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.store.close()


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()
