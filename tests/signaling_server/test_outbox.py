"""A connection's outbox: the writer task, writing through from a reader, order, a full queue, stopping."""

from __future__ import annotations

import asyncio

import pytest

from signaling_server.outbox import WRITE_THROUGH_MAX_CHARS, Outbox


class FakeSocket:
    """Records what is sent and by which task; ``gate`` holds every send until it is set."""

    def __init__(self) -> None:
        self.closed = False
        self.sent: list[str] = []
        self.senders: list[asyncio.Task | None] = []
        self.arrived = asyncio.Event()
        self.gate: asyncio.Event | None = None

    async def send_str(self, data: str, compress: int | None = None) -> None:
        if self.closed:
            raise ConnectionResetError("Cannot write to closing transport")
        self.sent.append(data)
        self.senders.append(asyncio.current_task())
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.sent) < count:
                self.arrived.clear()
                await self.arrived.wait()


class FakeTransport:
    def __init__(self) -> None:
        self.buffered = 0

    def get_write_buffer_size(self) -> int:
        return self.buffered


@pytest.fixture
async def rig():
    ws, transport, full = FakeSocket(), FakeTransport(), []
    outbox = Outbox(ws, transport, limit=4, name="test writer", on_full=lambda: full.append(True))
    outbox.send("hello")  # through the writer: afterwards it is idle, waiting for work
    await ws.wait_for(1)
    yield outbox, ws, transport, full
    await outbox.finish()


def handling(outbox: Outbox, *texts: str) -> list[Outbox]:
    """As a reader does around handling one message."""
    held: list[Outbox] = []
    Outbox.collecting = held
    try:
        for text in texts:
            outbox.send(text)
    finally:
        Outbox.collecting = None
    return held


async def test_a_message_sent_while_handling_is_written_by_the_reader(rig) -> None:
    outbox, ws, _, _ = rig
    assert handling(outbox, "offer", "candidate") == [outbox]
    assert ws.sent == ["hello"]  # nothing yet: the reader writes once it has handled the message
    await outbox.write_held()
    assert ws.sent == ["hello", "offer", "candidate"]
    assert ws.senders[1:] == [asyncio.current_task()] * 2 and ws.senders[0] is outbox.writer
    outbox.send("later")  # outside a handler: the writer again
    await ws.wait_for(4)
    assert ws.senders[3] is outbox.writer


async def test_order_is_kept_when_others_send_while_held(rig) -> None:
    outbox, ws, _, _ = rig
    handling(outbox, "a")
    outbox.send("b")  # e.g. a timer's message before the reader writes: queued behind, writer not woken
    await outbox.write_held()
    outbox.send("c")
    await ws.wait_for(4)
    assert ws.sent == ["hello", "a", "b", "c"]


async def test_no_writing_through_to_a_slow_peer_or_past_queued_messages(rig) -> None:
    outbox, ws, transport, _ = rig
    transport.buffered = 1  # the peer has not taken everything yet
    assert handling(outbox, "x") == []
    await ws.wait_for(2)
    transport.buffered = 0
    assert handling(outbox, "y" * (WRITE_THROUGH_MAX_CHARS + 1)) == []  # could fill the buffer
    await ws.wait_for(3)
    ws.gate = asyncio.Event()  # the writer is busy with the next one...
    outbox.send("z")
    await ws.wait_for(4)
    outbox.send("queued")
    assert handling(outbox, "behind") == []  # ...so this one waits its turn
    ws.gate.set()
    await ws.wait_for(6)
    assert ws.sent[-3:] == ["z", "queued", "behind"] and all(s is outbox.writer for s in ws.senders)


async def test_a_full_outbox_cuts_the_client_off(rig) -> None:
    outbox, ws, _, full = rig
    ws.gate = asyncio.Event()
    outbox.send("stuck")
    await ws.wait_for(2)  # the writer waits in send_str, the queue fills up behind it
    for n in range(4):
        outbox.send(f"m{n}")
    assert full == []
    outbox.send("one too many")
    assert full == [True]
    ws.gate.set()
    await ws.wait_for(6)
    assert "one too many" not in ws.sent


async def test_stop_ends_the_writer_after_what_is_queued(rig) -> None:
    outbox, ws, _, _ = rig
    outbox.send("a")
    outbox.send("b")
    outbox.stop()
    await asyncio.wait_for(outbox.writer, 5)
    assert ws.sent == ["hello", "a", "b"]


async def test_a_write_through_to_a_closed_socket_is_dropped_and_the_writer_stops(rig) -> None:
    outbox, ws, _, _ = rig
    handling(outbox, "a")
    ws.closed = True
    await outbox.write_held()
    outbox.send("b")
    await asyncio.wait_for(outbox.writer, 5)  # it found the socket closed
    assert ws.sent == ["hello"]


async def test_released_unwritten_messages_go_to_the_writer(rig) -> None:
    """A reader cancelled before writing what it held hands it back: the connection does not stall."""
    outbox, ws, _, _ = rig
    handling(outbox, "a", "b")
    outbox.release()
    await ws.wait_for(3)
    assert ws.sent == ["hello", "a", "b"] and all(s is outbox.writer for s in ws.senders)
