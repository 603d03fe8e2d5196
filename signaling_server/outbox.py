"""The sending side of one websocket: a bounded queue drained by its own writer task.

``send`` never blocks: a client that cannot keep up fills its queue and is cut off instead of slowing
others. Most messages are sent while a reader handles a message from the other party (a relayed SDP or ICE
candidate, a ring, a call's state): such a message, to a connection whose queue is empty and whose writer
is idle, is written by that reader right after it has handled the message (``write_held``, then
``release``) instead of waking the writer task. One task switch fewer per relayed message: 7% of the
relay's instructions (bench/bench_signaling_relay.py under callgrind: 202k → 189k a message).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import ClassVar, Protocol

from remote_call.tasks import cancel_and_wait

# At most this much written into an empty transport buffer cannot fill it to asyncio's high-water mark
# (64 KiB), so a reader writing through never waits for a slow peer to drain.
WRITE_THROUGH_MAX_CHARS = 16 * 1024


class Socket(Protocol):
    """What an outbox needs of a websocket (aiohttp's ``WebSocketResponse``)."""

    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str, compress: int | None = None) -> None: ...


class Transport(Protocol):
    def get_write_buffer_size(self) -> int: ...


class Outbox:
    # While a reader handles one message: the outboxes it writes through afterwards. Set and cleared by
    # that reader around a synchronous call (one loop, one thread: nobody else runs in between); a plain
    # class attribute because a context variable and a context manager cost 3 µs a message.
    collecting: ClassVar[list[Outbox] | None] = None

    def __init__(
        self,
        ws: Socket,
        transport: Transport | None,
        *,
        limit: int,
        name: str,
        on_full: Callable[[], None],
    ) -> None:
        self._ws = ws
        self._transport = transport
        self._items: deque[str | None] = deque()  # None: the writer stops there
        self._limit = limit
        self._on_full = on_full
        self._waiter: asyncio.Future[None] | None = None  # set while the writer waits for work
        self._held = False  # a reader writes this queue through; the writer keeps out
        self.writer = asyncio.create_task(self._run(), name=name)

    def send(self, text: str) -> None:
        """Queue ``text``; a full queue calls ``on_full`` (which cuts the client off)."""
        items = self._items
        if len(items) >= self._limit:
            self._on_full()
            return
        items.append(text)
        if self._held:
            return
        collecting = Outbox.collecting
        if (
            collecting is not None
            and self._waiter is not None  # the writer is idle...
            and len(items) == 1  # ...with nothing before this message
            and len(text) <= WRITE_THROUGH_MAX_CHARS
            and self._transport is not None
            and self._transport.get_write_buffer_size() == 0  # and the peer keeps up
        ):
            self._held = True
            collecting.append(self)
        else:
            self._wake()

    def stop(self) -> None:
        """The writer stops after what is queued (when the queue is full: once the socket is closed)."""
        if len(self._items) < self._limit:
            self._items.append(None)
            if not self._held:
                self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def _run(self) -> None:
        items, ws = self._items, self._ws
        loop = asyncio.get_running_loop()
        while True:
            while not items or self._held:
                self._waiter = loop.create_future()
                await self._waiter
            text = items.popleft()
            if text is None or ws.closed:
                return
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def write_held(self) -> None:
        """Write what was queued while held, in the caller's task; then hand the queue back to the writer.
        A caller interrupted before it reached a held outbox must ``release`` it."""
        items, ws = self._items, self._ws
        try:
            # Each message is taken and written with no await in between (aiohttp writes an uncompressed
            # frame before its first await), so the order is kept whoever writes.
            while items and not ws.closed:
                text = items[0]
                if text is None:
                    break  # the writer stops there
                items.popleft()
                await ws.send_str(text)
        except (ConnectionError, RuntimeError):
            pass  # the writer finds the socket closed and stops, as after its own failed write
        finally:
            self.release()

    def release(self) -> None:
        """Hand the queue back to the writer (what is left, if anything, is its to write)."""
        if self._held:
            self._held = False
            if self._items:
                self._wake()

    async def finish(self) -> None:
        await cancel_and_wait(self.writer)
