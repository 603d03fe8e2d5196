"""Who hears from the switchboard besides the clients: the health registry and event listeners."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from remote_call import protocol as p

Listener = Callable[[str, dict[str, Any]], None]


class Monitor(Protocol):
    """What the health registry (signaling_server.health) receives from the switchboard."""

    def heartbeat(self, kiosk_id: str, msg: p.Heartbeat, now: float) -> None: ...
    def call_quality(self, identity: str, role: str, msg: p.CallQuality, now: float) -> None: ...
    def action_result(self, kiosk_id: str, msg: p.ActionResult) -> None: ...
    def client_attached(self, role: str, identity: str, now: float) -> None: ...
    def client_detached(self, role: str, identity: str, now: float) -> None: ...


class Events:
    """Tells the listeners given at start-up (the monitor, tests) what happened: ``(event, data)``."""

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self.listeners: tuple[Listener, ...] = tuple(listeners)

    def emit(self, event: str, data: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(event, data)
