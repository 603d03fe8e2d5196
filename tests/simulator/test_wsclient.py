"""The load clients' own websocket client (simulator/load/wsclient.py) against aiohttp's server, which
checks what a client must do (masked frames, the upgrade's headers), and against a raw server for what
aiohttp does not send (fragments, a close before the upgrade)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from simulator.load.clients import failure_reason
from simulator.load.wsclient import GUID, HandshakeRefused, accept_key, connect, mask

Handler = Callable[[web.WebSocketResponse], Awaitable[None]]
SIZES = (0, 5, 125, 126, 3_000, 65_535, 65_536, 200_000)  # each length encoding, both edges


@pytest.fixture
async def served() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """A real aiohttp server whose websocket at /ws runs the test's handler; /busy answers 503."""
    servers: list[TestServer] = []
    seen: list[BaseException] = []

    async def start(handler: Handler) -> str:
        async def websocket(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
            await ws.prepare(request)
            try:
                await handler(ws)
            except BaseException as exc:  # shown by the test, not lost in the server's log
                seen.append(exc)
                raise
            return ws

        async def busy(_request: web.Request) -> web.Response:
            return web.Response(status=503, text="draining")

        app = web.Application()
        app.router.add_get("/ws", websocket)
        app.router.add_get("/busy", busy)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        return f"ws://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        await server.close()
    assert not seen, seen


async def _echo(ws: web.WebSocketResponse) -> None:
    async for message in ws:
        if message.type is WSMsgType.TEXT:
            await ws.send_str(message.data)


async def test_text_of_every_length_encoding_goes_masked_and_comes_back(served) -> None:
    base = await served(_echo)
    ws = await connect(f"{base}/ws")
    for size in SIZES:
        text = ("窓口" * size)[:size]
        await ws.send_str(text)
        back = await ws.receive(timeout=10)
        assert (back.type, back.data) == (WSMsgType.TEXT, text), size
    await ws.close()
    assert ws.closed


async def test_a_servers_ping_is_answered_with_its_payload(served) -> None:
    pongs: asyncio.Queue[bytes] = asyncio.Queue()

    async def ping(ws: web.WebSocketResponse) -> None:
        await ws.ping(b"are you there")
        message = await ws.receive(timeout=10)
        await pongs.put(message.data if message.type is WSMsgType.PONG else b"not a pong")
        await ws.send_str("done")
        await ws.receive(timeout=10)

    base = await served(ping)
    ws = await connect(f"{base}/ws")
    assert (await ws.receive(timeout=10)).data == "done"  # the ping was read before it
    assert await asyncio.wait_for(pongs.get(), 10) == b"are you there"
    await ws.close()


async def test_the_servers_close_ends_the_iteration_with_its_code(served) -> None:
    async def close(ws: web.WebSocketResponse) -> None:
        await ws.send_str("bye")
        await ws.close(code=1008, message=b"closed by server")

    base = await served(close)
    ws = await connect(f"{base}/ws")
    received = [message.data async for message in ws]
    assert received == ["bye"]
    assert ws.close_code == 1008
    assert (await ws.receive(timeout=10)).type is WSMsgType.CLOSED  # and stays closed
    with pytest.raises(ConnectionResetError):
        await ws.send_str("too late")


async def test_the_clients_close_reaches_the_server_with_its_code(served) -> None:
    codes: asyncio.Queue[int | None] = asyncio.Queue()

    async def listen(ws: web.WebSocketResponse) -> None:
        message = await ws.receive(timeout=10)
        await codes.put(message.data if message.type is WSMsgType.CLOSE else None)

    base = await served(listen)
    ws = await connect(f"{base}/ws")
    await ws.close(code=1001)
    assert await asyncio.wait_for(codes.get(), 10) == 1001


async def test_no_message_in_time_is_a_timeout(served) -> None:
    async def silent(ws: web.WebSocketResponse) -> None:
        await ws.receive()

    base = await served(silent)
    ws = await connect(f"{base}/ws")
    with pytest.raises(TimeoutError):
        await ws.receive(timeout=0.05)
    await ws.close()


async def test_a_refused_upgrade_and_a_dead_port_are_named_by_failure_reason(served) -> None:
    base = await served(_echo)
    with pytest.raises(HandshakeRefused) as refused:
        await connect(f"{base}/busy")
    assert refused.value.status == 503
    assert failure_reason(refused.value) == "websocket upgrade refused: HTTP 503"
    with pytest.raises(ValueError, match="ws://host:port/path"):
        await connect("http://127.0.0.1:1/ws")


class _RawServer:
    """A websocket server written out byte by byte: what aiohttp's server never sends."""

    def __init__(self, after_upgrade: Callable[[asyncio.StreamWriter], None], *, upgrade: bool = True):
        self.after_upgrade = after_upgrade
        self.upgrade = upgrade
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/ws"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        if not self.upgrade:
            writer.close()
            return
        key = next(line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.startswith("Sec-"))
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        self.after_upgrade(writer)
        await writer.drain()
        await reader.read()  # until the client goes

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def test_a_fragmented_and_a_masked_message_from_the_server_are_put_together() -> None:
    def send(writer: asyncio.StreamWriter) -> None:
        writer.write(struct.pack("!BB", 0x01, 3) + b"ab\xe7")  # text, not final, "ab" + half of "窓"
        writer.write(struct.pack("!BB", 0x80, 2) + b"\xaa\x93")  # continuation, final
        key = b"\x01\x02\x03\x04"
        writer.write(struct.pack("!BB", 0x81, 0x80 | 4) + key + mask(b"next", key))

    server = _RawServer(send)
    ws = await connect(await server.start())
    try:
        assert (await ws.receive(timeout=10)).data == "ab窓"
        assert (await ws.receive(timeout=10)).data == "next"
    finally:
        await ws.close()
        await server.close()


async def test_a_connection_closed_before_its_upgrade_is_a_connection_error() -> None:
    server = _RawServer(lambda _writer: None, upgrade=False)
    url = await server.start()
    try:
        with pytest.raises(ConnectionResetError, match="before the upgrade"):
            await connect(url)
    finally:
        await server.close()


def test_the_accept_key_is_rfc_6455s_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 1.3


def test_masking_twice_gives_the_payload_back() -> None:
    payload = bytes(range(256)) * 3 + b"x"
    key = b"\xde\xad\xbe\xef"
    assert mask(payload, key) != payload
    assert mask(mask(payload, key), key) == payload
    assert mask(b"", key) == b""
