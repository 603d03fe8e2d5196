"""The load clients' websocket (RFC 6455, client side, text messages): a lean dialer for 25,000 clients.

aiohttp's client (``ClientSession.ws_connect``) builds a request, a connector, a happy-eyeballs attempt,
a response and a reader per connection. When a node of a 20,000-kiosk run is killed, ~10,000 clients
reconnect at once, and the simulator's two workers then took 60 % of the machine's two cores in the
10 s after the kill (per-process CPU sampled from /proc, 2026-12-04), the servers whose resume the run
measures sharing the rest. A real fleet does those handshakes on thousands of machines. This client does
the same exchange on the same loopback TCP (the upgrade request, the server's 101 with its checked
``Sec-WebSocket-Accept``, masked frames out, pings answered) with one ``asyncio.Protocol`` and no more.

It speaks what the load clients need and no more: text messages (a binary one is passed up as such),
pings answered with pongs, the close handshake, unfragmented frames out, fragmented ones in.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import os
import struct
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
MAX_MESSAGE = 1 << 20  # as the load clients' aiohttp ``max_msg_size`` was
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class HandshakeRefused(ConnectionError):
    """The server answered the upgrade with another status than 101 (or a wrong accept key)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"websocket upgrade refused: HTTP {status} {reason}".strip())
        self.status = status


@dataclass(frozen=True)
class Message:
    """As aiohttp's ``WSMessage``: ``data`` is the text, the bytes, or a close frame's code."""

    type: WSMsgType
    data: Any = None


CLOSED = Message(WSMsgType.CLOSED)


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR with the repeated 4-byte key, as one big-integer operation (C speed, no per-byte loop)."""
    size = len(payload)
    if not size:
        return payload
    repeated = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(size, "little")


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame (a client must mask every frame it sends: RFC 6455 5.3)."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    key = os.urandom(4)
    return head + key + mask(payload, key)


class _Protocol(asyncio.Protocol):
    """Reads the 101, then frames; queues messages for ``WebSocket.receive``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded: asyncio.Future[tuple[int, str, dict[str, str]]] = (
            asyncio.get_running_loop().create_future()
        )
        self.messages: collections.deque[Message] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None
        self.fragments: list[bytes] = []
        self.fragment_opcode = OP_TEXT
        self.close_code: int | None = None
        self.close_sent = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            self.upgraded.set_result(_response(head))
        self._read_frames()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionResetError("the connection closed before the upgrade"))
        self._put(CLOSED)

    def send(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("cannot write to a closing websocket")
        self.transport.write(frame(opcode, payload))

    def _put(self, message: Message) -> None:
        self.messages.append(message)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _read_frames(self) -> None:
        buffer, at = self.buffer, 0
        while len(buffer) - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            size, head = second & 0x7F, 2
            if size == 126:
                if len(buffer) - at < 4:
                    break
                size, head = int.from_bytes(buffer[at + 2 : at + 4], "big"), 4
            elif size == 127:
                if len(buffer) - at < 10:
                    break
                size, head = int.from_bytes(buffer[at + 2 : at + 10], "big"), 10
            key = b""
            if second & 0x80:  # a server must not mask; tolerated, as a browser does not
                key, head = bytes(buffer[at + head : at + head + 4]), head + 4
            if len(buffer) - at < head + size:
                break
            payload = bytes(buffer[at + head : at + head + size])
            at += head + size
            self._on_frame(first & 0x80 != 0, first & 0x0F, mask(payload, key) if key else payload)
        del buffer[:at]

    def _on_frame(self, final: bool, opcode: int, payload: bytes) -> None:
        if opcode == OP_PING:
            if not self.close_sent:
                self.send(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if not self.close_sent and self.transport is not None and not self.transport.is_closing():
                self.close_sent = True
                self.send(OP_CLOSE, payload[:2])
            if self.transport is not None:
                self.transport.close()
            self._put(Message(WSMsgType.CLOSE, self.close_code))
        elif opcode in (OP_TEXT, OP_BINARY, OP_CONTINUATION):
            self._on_data(final, opcode, payload)

    def _on_data(self, final: bool, opcode: int, payload: bytes) -> None:
        if opcode != OP_CONTINUATION:
            self.fragments, self.fragment_opcode = [], opcode
        self.fragments.append(payload)
        if sum(map(len, self.fragments)) > MAX_MESSAGE:
            self.fragments = []
            self._fail(1009)
            return
        if not final:
            return
        data = b"".join(self.fragments)
        self.fragments = []
        if self.fragment_opcode == OP_TEXT:
            self._put(Message(WSMsgType.TEXT, data.decode("utf-8")))
        else:
            self._put(Message(WSMsgType.BINARY, data))

    def _fail(self, code: int) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.close_sent = True
            self.send(OP_CLOSE, code.to_bytes(2, "big"))
            self.transport.close()
        self.close_code = code


def _response(head: str) -> tuple[int, str, dict[str, str]]:
    status_line, *lines = head.split("\r\n")
    parts = status_line.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, parts[2] if len(parts) > 2 else "", headers


class WebSocket:
    """What the load clients use of a client websocket: ``send_str``, ``receive``, ``async for``,
    ``close``, ``closed``, ``close_code``."""

    def __init__(self, protocol: _Protocol) -> None:
        self._protocol = protocol

    @property
    def closed(self) -> bool:
        return self._protocol.close_sent or self._protocol.lost

    @property
    def close_code(self) -> int | None:
        return self._protocol.close_code

    async def send_str(self, text: str) -> None:
        self._protocol.send(OP_TEXT, text.encode())

    async def receive(self, timeout: float | None = None) -> Message:
        protocol = self._protocol
        if not protocol.messages:
            if protocol.lost:
                return CLOSED
            protocol.waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await protocol.waiter
            finally:
                protocol.waiter = None
        return protocol.messages.popleft()

    def __aiter__(self) -> WebSocket:
        return self

    async def __anext__(self) -> Message:
        message = await self.receive()
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            raise StopAsyncIteration
        return message

    async def close(self, code: int = 1000) -> None:
        """Say goodbye (a close frame) and close the socket; the server's answer is not waited for."""
        protocol = self._protocol
        transport = protocol.transport
        if transport is None or transport.is_closing():
            return
        if not protocol.close_sent:
            protocol.close_sent = True
            protocol.send(OP_CLOSE, code.to_bytes(2, "big"))
        transport.close()


async def connect(url: str, timeout: float = 300.0) -> WebSocket:
    """Open ``ws://host:port/path``: TCP, the upgrade, its 101 checked. ``OSError`` when the connection
    is refused, ``HandshakeRefused`` when the upgrade is, ``TimeoutError`` when no answer comes in time."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or parts.hostname is None or parts.port is None:
        raise ValueError(f"the load clients dial ws://host:port/path URLs, got {url!r}")
    loop = asyncio.get_running_loop()
    key = base64.b64encode(os.urandom(16)).decode()
    async with asyncio.timeout(timeout):
        transport, protocol = await loop.create_connection(_Protocol, parts.hostname, parts.port)
        try:
            request = (
                f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            )
            transport.write(request.encode())
            status, reason, headers = await protocol.upgraded
        except BaseException:
            transport.abort()
            raise
    if status != 101 or headers.get("sec-websocket-accept") != accept_key(key):
        transport.abort()
        raise HandshakeRefused(status, reason if status != 101 else "with a wrong Sec-WebSocket-Accept")
    return WebSocket(protocol)
