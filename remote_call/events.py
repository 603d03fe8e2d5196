"""A tiny synchronous event hub: controllers emit named events, views and tests subscribe."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Any]], None]


class EventHub:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, event: str, **data: Any) -> None:
        for listener in list(self._listeners):
            try:
                listener(event, data)
            except Exception:
                log.exception("listener failed on %s", event)

    async def wait(self, event_name: str, timeout: float, **match: Any) -> dict[str, Any]:
        """Wait for the next ``event_name`` whose data contains ``match``; TimeoutError after ``timeout``."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def check(event: str, data: dict[str, Any]) -> None:
            if event == event_name and not future.done() and all(data.get(k) == v for k, v in match.items()):
                future.set_result(data)

        unsubscribe = self.subscribe(check)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            unsubscribe()
