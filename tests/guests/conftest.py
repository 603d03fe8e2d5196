"""A real SMTP server on 127.0.0.1 for the guest-link mail (aiosmtpd), as tests/business uses one."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


class LoopbackController(Controller):
    """aiosmtpd's controller on port 0: it learns its real port before checking that it answers."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class Inbox:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.queue: asyncio.Queue[EmailMessage] = asyncio.Queue()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._loop.call_soon_threadsafe(self.queue.put_nowait, message)
        return "250 OK"


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[Inbox, int]]:
    inbox = Inbox(asyncio.get_running_loop())
    controller = LoopbackController(inbox, hostname="127.0.0.1", port=0)
    await asyncio.to_thread(controller.start)
    try:
        yield inbox, controller.port
    finally:
        await asyncio.to_thread(controller.stop)
