"""Test utilities (in the spirit of aiohttp.test_utils): a raw protocol client and an always-open config.

Used by the test suite and the load simulator; not imported by the server itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp

from config.loader import load_config
from config.schema import AppConfig, OpeningHours
from remote_call import protocol as p
from remote_call.tasks import cancel_and_wait


def always_open(config: AppConfig) -> AppConfig:
    """Every department open all day, every day: tests and simulations run at any hour."""
    all_day = ["00:00-24:00"]
    hours = OpeningHours(
        mon=all_day,
        tue=all_day,
        wed=all_day,
        thu=all_day,
        fri=all_day,
        sat=all_day,
        sun=all_day,
        closed_on_public_holidays=False,
        closed_new_year=False,
        last_join_minutes_before_close=0,
    )
    departments = [d.model_copy(update={"hours": hours}) for d in config.departments]
    return config.model_copy(update={"departments": departments})


def test_config(**server_overrides: Any) -> AppConfig:
    config = always_open(load_config())
    server = config.server.model_copy(update=server_overrides)
    return config.model_copy(update={"server": server})


test_config.__test__ = False  # type: ignore[attr-defined]  # pytest's marker: a helper named test_*, not a test


class WireClient:
    """One raw websocket speaking the protocol; messages are queued so tests can await the one they want."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self._session = session
        self.ws = ws
        self.inbox: asyncio.Queue[p.Wire | None] = asyncio.Queue()
        self.seen: list[p.Wire] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, hello: p.Hello | None = None) -> WireClient:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(url, max_msg_size=1 << 22)
        except BaseException:
            await session.close()
            raise
        client = cls(session, ws)
        if hello is not None:
            await client.send(hello)
        return client

    @classmethod
    async def kiosk(cls, url: str, kiosk_id: str, token: str) -> WireClient:
        client = await cls.connect(
            url,
            p.Hello(
                v=p.PROTOCOL_VERSION,
                role=p.Role.KIOSK,
                credentials=p.DeviceTokenCredentials(kiosk_id=kiosk_id, token=token),
            ),
        )
        await client.expect(p.Welcome)
        return client

    @classmethod
    async def officer(cls, url: str, username: str, password: str) -> WireClient:
        client = await cls.connect(
            url,
            p.Hello(
                v=p.PROTOCOL_VERSION,
                role=p.Role.OFFICER,
                credentials=p.PasswordCredentials(username=username, password=password),
            ),
        )
        await client.expect(p.Welcome)
        return client

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if frame.type is aiohttp.WSMsgType.TEXT:
                    message = p.parse_message(frame.data, max_bytes=1 << 22)
                    self.seen.append(message)
                    await self.inbox.put(message)
        finally:
            await self.inbox.put(None)

    async def send(self, message: p.Wire | str | bytes) -> None:
        if isinstance(message, bytes):
            await self.ws.send_bytes(message)
        else:
            await self.ws.send_str(message if isinstance(message, str) else p.encode(message))

    async def receive(self, timeout: float = 5.0) -> p.Wire:
        # Not asyncio.wait_for: on Python 3.11 it returns the message when a cancel of the reading task
        # comes in the turn the message arrives, and the cancel is lost; a reader looping on receive()
        # then never stopped (a kiosk-suite test hung on the guest's reader, 1 run in 10 of its files).
        async with asyncio.timeout(timeout):
            message = await self.inbox.get()
        if message is None:
            self.inbox.put_nowait(None)
            raise ConnectionError(f"connection closed (code {self.ws.close_code})")
        return message

    async def expect(self, kind: type[p.Wire], timeout: float = 5.0, **match: Any) -> Any:
        """The next message of type ``kind`` (and matching fields); others are skipped but kept in seen."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.receive(timeout)
                if isinstance(message, kind) and all(getattr(message, k) == v for k, v in match.items()):
                    return message

    async def closed(self, timeout: float = 5.0) -> int | None:
        """Wait until the server closes the connection; the close code."""
        with contextlib.suppress(ConnectionError):
            while True:
                await self.receive(timeout)
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
        await cancel_and_wait(self._reader)
        await self._session.close()


async def call_in_progress(
    url: str,
    kiosk_id: str,
    kiosk_token: str,
    officer: str,
    password: str,
    *,
    department: str = "kosodate",
    started: bool = True,
) -> tuple[WireClient, WireClient, str]:
    """A kiosk and an officer in a call through the server: (kiosk, officer, call id). With ``started``
    both report media up and the call is in_call; without, it stays connecting."""
    kiosk = await WireClient.kiosk(url, kiosk_id, kiosk_token)
    staff = await WireClient.officer(url, officer, password)
    await kiosk.send(p.RequestCall(department=department))
    offer = await staff.expect(p.CallOffer)
    await staff.send(p.AcceptCall(call_id=offer.call_id))
    for client in (kiosk, staff):
        await client.expect(p.CallConnecting)
    if started:
        for client in (kiosk, staff):
            await client.send(p.MediaConnected(call_id=offer.call_id))
        for client in (kiosk, staff):
            await client.expect(p.CallStarted)
    return kiosk, staff, offer.call_id
