"""The nodes' bus on Redis pub/sub: frames to the leader, to one node, or to every node.

A frame is a short tab-separated text whose last field is free text (a client's message as it came, or a
message for a client as the wire encodes it): ``kind \\t epoch \\t node \\t connection \\t text``.
Frames for one channel are gathered while the event loop is busy and published together, NUL-separated
(a JSON text never holds a raw NUL), in one pipelined round trip: under load, one Redis command carries
many frames instead of one round trip each (bench/bench_cluster_relay.py measures the whole path), and
the next batch goes without waiting for the replies of the one before (``Publisher``).

One text for many connections (a ``supervisor_stats`` every 2 s for every officer with the same skills: at
5,000 officers most of what the leader published) crosses Redis once per batch: a later ``send`` frame of the
batch with the same text goes as a ``same`` frame naming the first one's place (``encode_batch``), and the
subscriber gives it that text back before anyone sees it (``BatchReader``).

A long payload crosses compressed (``pack`` / ``unpack``): a new leader's welcomes to the 4,500 clients a
follower took over from a dead node were one 7.2 MB payload of nearly the same text, 64 KB in zlib (7 ms
each way), that the follower took in at a few hundred KB per turn of its busy loop for 3-5 s.

Pub/sub delivers at most once and only to whoever listens now: the bus tells its owner when a batch
reached nobody (``on_unheard``) or could not be published (``on_error``), and the node closes the
connections concerned so that they reconnect and resume, instead of losing their messages silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError, ResponseError

from remote_call.tasks import cancel_and_wait

log = logging.getLogger(__name__)

SEPARATOR = "\x00"
# A repeated text shorter than this goes again as it is: a reference saves little (an officer_state is ~60).
SAME_MIN_CHARS = 200
# A payload this long is published compressed; a shorter one as it is (most batches: a few frames).
COMPRESS_AT = 64 * 1024
COMPRESSED = b"\x00zlib\x00"  # cannot begin a plain payload: that begins with a frame's kind


def pack(payload: str) -> str | bytes:
    """What a PUBLISH carries for ``payload``: itself, or compressed when long (level 1: 7 ms for 7 MB)."""
    if len(payload) < COMPRESS_AT:
        return payload
    return COMPRESSED + zlib.compress(payload.encode(), 1)


def unpack(data: str | bytes) -> str:
    """A payload as published; ValueError when it cannot be read."""
    if isinstance(data, str):
        return data
    try:
        if data.startswith(COMPRESSED):
            return zlib.decompress(data[len(COMPRESSED) :]).decode()
        return data.decode()
    except (zlib.error, UnicodeDecodeError) as exc:
        raise ValueError(f"an unreadable payload: {exc}") from exc


@dataclass(frozen=True)
class Frame:
    kind: str  # to the leader: attach, message, detach; to a node: send, close; to all: leader
    epoch: int  # the leader's term the frame belongs to (fencing)
    node: str  # the node holding the connection
    conn: str  # the connection's id on that node
    text: str = ""

    def encode(self) -> str:
        return f"{self.kind}\t{self.epoch}\t{self.node}\t{self.conn}\t{self.text}"

    @staticmethod
    def decode(raw: str) -> Frame:
        kind, epoch, node, conn, text = raw.split("\t", 4)
        return Frame(kind, int(epoch), node, conn, text)


def encode_batch(frames: list[Frame]) -> str:
    """One PUBLISH's payload: the frames NUL-separated, a ``send`` whose (long) text an earlier ``send`` of
    the batch carried as a ``same`` frame whose text is that frame's place in the batch."""
    first: dict[str, int] = {}
    parts: list[str] = []
    for place, frame in enumerate(frames):
        if frame.kind == "send" and len(frame.text) >= SAME_MIN_CHARS:
            earlier = first.setdefault(frame.text, place)
            if earlier != place:
                parts.append(Frame("same", frame.epoch, frame.node, frame.conn, str(earlier)).encode())
                continue
        parts.append(frame.encode())
    return SEPARATOR.join(parts)


class BatchReader:
    """The frames of one payload in order, each ``same`` given back as the ``send`` it stands for."""

    def __init__(self) -> None:
        self._texts: list[str] = []  # each frame's text so far, by its place in the batch

    def read(self, raw: str) -> Frame:
        """The next frame; ValueError for one that cannot be read (its place still counts)."""
        try:
            frame = Frame.decode(raw)
            if frame.kind == "same":
                frame = Frame("send", frame.epoch, frame.node, frame.conn, self._texts[int(frame.text)])
        except (ValueError, IndexError) as exc:
            self._texts.append("")
            raise ValueError(f"an unreadable frame: {exc}") from exc
        self._texts.append(frame.text)
        return frame


class Channels:
    """The channel names, under one key prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.control = f"{prefix}:control"

    def leader(self, epoch: int) -> str:
        """The leader of term ``epoch`` listens here: frames meant for an older term reach nobody."""
        return f"{self.prefix}:to-leader:{epoch}"

    def is_leader(self, channel: str) -> bool:
        return channel.startswith(f"{self.prefix}:to-leader:")

    def node(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}"


class Publisher:
    """Frames queued without blocking, published by one writer task, a batch at a time, on one connection
    (order kept per channel). A batch is written without waiting for the previous one's replies, which a
    reader task takes in order: waiting for them, a new leader at 20,000 kiosks held each batch of welcomes
    1.5-4.8 s (two turns of its loop in the herd) before it went out."""

    def __init__(
        self,
        redis: Redis,
        *,
        on_unheard: Callable[[str, list[Frame]], None],
        on_error: Callable[[Exception], None],
        on_failed: Callable[[str, list[Frame]], None] = lambda channel, frames: None,
        on_nobody: Callable[[str, list[Frame]], None] | None = None,
    ) -> None:
        self.redis = redis
        self.on_unheard = on_unheard  # nobody listened, or the PUBLISH failed
        # Redis answered that nobody listened: none of the batch was delivered (a failed PUBLISH may have
        # delivered some of it). Given, it hears those batches instead of ``on_unheard``.
        self.on_nobody = on_nobody
        self.on_error = on_error
        self.on_failed = on_failed  # the PUBLISH failed: some of the batch may have been delivered
        self._pending: dict[str, list[Frame]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.published = 0  # frames
        self._conn: AbstractConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closing: asyncio.Future[None] | None = None  # a broken connection's disconnect
        self._writing = asyncio.Lock()
        self.in_flight: deque[tuple[dict[str, list[Frame]], asyncio.Future[None]]] = deque()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cluster-publisher")

    async def stop(self) -> None:
        self._stopping = True  # the loops end on the flag too: see Node._keep
        self._wake.set()
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        if self._reader is not None:
            await cancel_and_wait(self._reader)
            self._reader = None
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._discard(conn)
        for _batch, done in self.in_flight:  # nobody reads their replies any more
            if not done.done():
                done.set_result(None)
        self.in_flight.clear()

    def publish(self, channel: str, frame: Frame) -> None:
        self._pending.setdefault(channel, []).append(frame)
        self._wake.set()

    async def flush(self) -> None:
        """Publish everything queued now and wait for Redis to have taken it, and what went before."""
        written = await self.write()
        if written is None and self.in_flight:
            written = self.in_flight[-1][1]  # the replies come in order: the last one's come last
        if written is not None:
            await written

    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            await self.write()

    async def write(self) -> asyncio.Future[None] | None:
        """Write the queued batch; a future done once its replies are read (None: nothing was queued)."""
        async with self._writing:  # one batch at a time, in order (the writer task's, or a flush's)
            batch, self._pending = self._pending, {}
            if not batch:
                return None
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            try:
                if not self.in_flight:  # nothing waits on it: the pool checks it, as it did each pipeline's
                    await self._fresh_connection()
                conn = self._conn
                assert conn is not None
                self.in_flight.append((batch, done))
                commands = [("PUBLISH", ch, pack(encode_batch(frames))) for ch, frames in batch.items()]
                await conn.send_packed_command(conn.pack_commands(commands), check_health=False)
            except (RedisError, OSError) as exc:
                if not any(d is done for _b, d in self.in_flight):
                    self.in_flight.append((batch, done))  # failed before it was written: reported as well
                self._broken(self._conn, exc)
                return done
            if self._reader is None:
                self._reader = asyncio.create_task(self._read_replies(conn), name="cluster-publisher-replies")
            return done

    async def _discard(self, conn: AbstractConnection) -> None:
        with contextlib.suppress(RedisError, OSError):
            await conn.disconnect(nowait=True)
        await self.redis.connection_pool.release(conn)  # closed: the pool opens it again when it lends it

    async def _fresh_connection(self) -> None:
        """Give the idle connection back to the pool and take one it has checked: one that Redis closed
        meanwhile (a restart) is opened again, instead of failing the next batch."""
        pool = self.redis.connection_pool
        old, self._conn = self._conn, None
        if old is not None:
            await pool.release(old)
        self._conn = await pool.get_connection()

    async def _read_replies(self, conn: AbstractConnection) -> None:
        """Each batch's replies, in the order the batches went (one listener count per channel)."""
        try:
            while self.in_flight and self._conn is conn:
                batch, done = self.in_flight[0]
                heard: list[int | Exception] = []
                for _channel in batch:
                    try:
                        heard.append(int(await conn.read_response()))
                    except ResponseError as exc:  # refused (an ACL): the connection reads on
                        heard.append(exc)
                self.in_flight.popleft()
                self._heard(batch, heard)
                done.set_result(None)
        except (RedisError, OSError) as exc:
            self._broken(conn, exc)
        finally:
            if self._reader is asyncio.current_task():
                self._reader = None

    def _heard(self, batch: dict[str, list[Frame]], heard: list[int | Exception]) -> None:
        errors = [h for h in heard if isinstance(h, Exception)]
        if errors:
            self.on_error(errors[0])
        for (channel, frames), listeners in zip(batch.items(), heard, strict=True):
            if isinstance(listeners, Exception):
                self.on_unheard(channel, frames)
                self.on_failed(channel, frames)
                continue
            self.published += len(frames)
            if not listeners:
                (self.on_nobody or self.on_unheard)(channel, frames)

    def _broken(self, conn: AbstractConnection | None, exc: Exception) -> None:
        """The connection failed: every batch still waiting for its replies failed with it (some of it may
        have been delivered); the next batch goes on a new connection."""
        if conn is not self._conn:
            return  # an older connection's reader: its batches were failed when it broke
        self._conn = None
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()  # it reads a dead connection: the next one gets its own reader
        if conn is not None:  # (redis-py has usually closed it already)
            self._closing = asyncio.ensure_future(self._discard(conn))
        self.on_error(exc)
        failed, self.in_flight = self.in_flight, deque()
        for batch, done in failed:
            for channel, frames in batch.items():
                self.on_unheard(channel, frames)
                self.on_failed(channel, frames)
            if not done.done():
                done.set_result(None)


class Subscriber:
    """Listens on some channels and hands every frame to ``on_frame``; resubscribes after Redis returns, then
    calls ``on_lost`` if it had been listening (frames published meanwhile are lost)."""

    RETRY_S = 0.5
    POLL_S = 1.0  # a read returns at least this often, to see a stop a cancellation did not deliver
    # Frames are handed on for this long before the loop may turn. Yielding after every frame, a loop busy
    # with 300 clients drained 423 frames/s against 86,293 for a reader that never yields (0.005x; now
    # 0.88-1.02x, bench/bench_bus_drain.py): Redis buffered the rest and, at 14,000 kiosks, dropped it.
    SLICE_S = 0.002
    # ... and, while a backlog lasts, for as long as the rest of the loop took in between, up to this: the
    # inbox of a new leader speaks for the other nodes' clients (two thirds of them with three nodes), and
    # at 2 ms a turn behind its own 7,000 websockets their attaches waited 15 s for a welcome (20,000 kiosks).
    # Capped at 0.1 s, the follower's returning clients were still the slow half once the moves waited
    # (``backlog.py``): the leader's turns in the herd last 1-3 s. At 1 s the two halves come back together
    # (p95 11.3, 11.3 and 13.1 s, against 13.3-18.5 s; docs/performance.md).
    SLICE_MAX_S = 1.0

    def __init__(
        self,
        redis: Redis,
        channels: list[str],
        on_frame: Callable[[str, Frame], None],
        *,
        on_error: Callable[[Exception], None],
        on_lost: Callable[[], None] = lambda: None,
        name: str,
    ) -> None:
        self.redis = redis
        self.channels = channels
        self.on_frame = on_frame
        self.on_error = on_error
        self.on_lost = on_lost  # listening again after a break: frames sent meanwhile are lost
        self.name = name
        self.losses = 0
        self._broken = False
        self.ready = asyncio.Event()  # subscribed (again)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @classmethod
    def share_after(cls, away_s: float) -> float:
        """How long the reader goes on after a yield that let the rest of the loop run for ``away_s``."""
        return min(max(cls.SLICE_S, away_s), cls.SLICE_MAX_S)

    async def start(self, timeout: float, *, at_once: bool = False) -> bool:
        """Listening once this returns True; False when Redis did not answer within ``timeout`` (it keeps
        trying: ``ready`` is set when it does). ``at_once``: subscribed in this step when the client has a
        connection open, no turn of the loop later (a new leader's restore holds the loop next: two turns of
        a follower's loop busy with a dead node's clients were 0.8-1.6 s at 20,000 kiosks)."""
        first = await self._subscribed() if at_once else None
        self._task = asyncio.create_task(self._run(first), name=self.name)
        if self.ready.is_set():
            return True
        ready = asyncio.ensure_future(self.ready.wait())
        done, _ = await asyncio.wait(
            {ready, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
        return self.ready.is_set()

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _subscribed(self) -> PubSub | None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(*self.channels)
        except (RedisError, OSError):  # the task tries again, and reports it
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()
            return None
        self.ready.set()
        return pubsub

    async def _run(self, first: PubSub | None = None) -> None:
        while not self._stopping:
            subscribed, first = first, None
            try:
                await self._listen(subscribed)
            except (RedisError, OSError) as exc:
                # Redis closed a listening subscription (a restart, or its output buffer limit for a reader
                # that lags: ``client-output-buffer-limit pubsub``): the frames in that buffer are gone.
                self._broken = self._broken or self.ready.is_set()
                self.ready.clear()
                self.on_error(exc)
                await asyncio.sleep(self.RETRY_S)  # a retry period while Redis is away, not synchronisation

    async def _listen(self, subscribed: PubSub | None = None) -> None:
        pubsub = subscribed or self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            if subscribed is None:
                await pubsub.subscribe(*self.channels)
            self.ready.set()
            if self._broken:  # told once listening again: what the owner does about it needs the channel
                self._broken = False
                self.losses += 1
                try:
                    self.on_lost()
                except Exception:
                    log.exception("%s: handling a broken subscription failed", self.name)
            share_s = self.SLICE_S
            while not self._stopping:
                message = await pubsub.get_message(timeout=self.POLL_S)
                if message is None:
                    continue
                channel = _text(message["channel"])
                try:
                    payload = unpack(message["data"])
                except ValueError as exc:
                    log.warning("%s: %s; ignored", channel, exc)
                    continue
                turn_ends = time.monotonic() + share_s
                batch = BatchReader()
                for raw in payload.split(SEPARATOR):
                    try:
                        frame = batch.read(raw)
                    except ValueError:
                        log.warning("%s: an unreadable frame ignored", channel)
                        continue
                    try:
                        self.on_frame(channel, frame)
                    except Exception:
                        log.exception("%s: handling a %s frame failed", channel, frame.kind)
                    paused = time.monotonic()
                    if paused >= turn_ends:  # a batch may hold thousands of frames
                        await asyncio.sleep(0)
                        resumed = time.monotonic()
                        share_s = self.share_after(resumed - paused)
                        turn_ends = resumed + share_s
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
