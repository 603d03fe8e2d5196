"""Fixtures for the business counter's server tests: a real local SMTP server (aiosmtpd) on loopback, and
an embedded server whose mail goes to it."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator, Callable, Iterator
from email.message import EmailMessage
from typing import Any

import aiohttp
import pytest
from aiosmtpd.controller import Controller

from config.schema import AppConfig, SmtpConfig
from signaling_server.embedded import EmbeddedServer
from signaling_server.testing import test_config


class LoopbackController(Controller):
    """aiosmtpd's controller on port 0: it learns its real port before checking that it answers."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class MailInbox:
    """What the SMTP server received, handed to the test's loop as it arrives. ``refuse`` makes the
    server answer every message with a permanent failure (a mail server that says no)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.queue: asyncio.Queue[EmailMessage] = asyncio.Queue()
        self.received: list[EmailMessage] = []
        self.refuse = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "554 5.7.1 refused by the test"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._loop.call_soon_threadsafe(self._arrived, message)
        return "250 OK"

    def _arrived(self, message: EmailMessage) -> None:
        self.received.append(message)
        self.queue.put_nowait(message)

    async def next(self, timeout: float = 10.0) -> EmailMessage:
        return await asyncio.wait_for(self.queue.get(), timeout)


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[MailInbox, int]]:
    """A real SMTP server on 127.0.0.1 (any free port): (inbox, port)."""
    inbox = MailInbox(asyncio.get_running_loop())
    controller = LoopbackController(inbox, hostname="127.0.0.1", port=0)
    await asyncio.to_thread(controller.start)
    try:
        yield inbox, controller.port
    finally:
        await asyncio.to_thread(controller.stop)


def mail_config(port: int, **business: Any) -> AppConfig:
    config = test_config()
    smtp = SmtpConfig(host="127.0.0.1", port=port, starttls=False, from_address="madoguchi@city.example.jp")
    return config.model_copy(update={"smtp": smtp, "business": config.business.model_copy(update=business)})


@pytest.fixture
def make_business_server(
    make_server: Callable[..., EmbeddedServer], smtp: tuple[MailInbox, int]
) -> Iterator[Callable[..., EmbeddedServer]]:
    """``async with make_business_server(**business_overrides) as srv``: mail goes to the ``smtp`` fixture."""

    def factory(**business: Any) -> EmbeddedServer:
        return make_server(mail_config(smtp[1], **business))

    yield factory


async def sign_in(server: EmbeddedServer, username: str = "hanako") -> str:
    """A staff session token over the websocket, as the console gets it."""
    from signaling_server.testing import WireClient

    client = await WireClient.officer(server.url, username, "correct horse battery")
    welcome = next(m for m in client.seen if getattr(m, "type", "") == "welcome")
    await client.close()
    assert welcome.session_token
    return welcome.session_token


async def post_json(
    http: aiohttp.ClientSession, url: str, body: Any, token: str | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post(url, json=body, headers=headers) as response:
        return response.status, await response.json()
