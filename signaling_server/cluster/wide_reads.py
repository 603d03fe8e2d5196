"""Subscriptions that take a large batch in a few turns of a busy loop.

A batch of frames crosses Redis as one message: a follower moving 7,000 connections to a new leader sends
some 2 MB at once, the leader's welcomes to that follower's clients some 6 MB. asyncio reads a socket once
per turn of the loop, at most ``max_size`` (256 KiB) at a time, and a stream stops reading while it holds
twice its ``limit`` (64 KiB by default) unread. Measured (``bench/bench_wide_reads.py``): a 5 MiB message
took 44 turns of a loop that spent 50 ms a turn elsewhere (2.2 s), 6 with wider reads (0.3 s). At 20,000
kiosks the new leader handled a follower's first resume frame 6 s after it was sent, and that follower
forwarded the welcomes 3-4 s after the leader wrote them: the dead node's clients on it waited 18 s.

Only the reading side is widened, and only for subscriptions (``Subscriber``): commands answer in a few
bytes. ``max_size`` is asyncio's selector transport's read size, set per transport (another event loop's
transport without it is left as it is).
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

READ_BYTES = 8 << 20  # a turn reads up to this much: above the largest batch seen (6 MB)


def widen_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Let one turn read up to ``READ_BYTES`` from this connection, and keep reading until as much waits."""
    reader._limit = READ_BYTES  # type: ignore[attr-defined]  # the stream pauses its transport at twice this
    transport: Any = writer.transport
    if hasattr(transport, "max_size"):
        transport.max_size = READ_BYTES


def with_wide_reads(client: Redis) -> Redis:
    """``client`` with every connection it opens from now on widened (``widen_reads``)."""
    pool = client.connection_pool
    base: type[AbstractConnection] = pool.connection_class

    class WideReads(base):  # type: ignore[valid-type,misc]  # over whichever class the URL chose
        async def _connect(self) -> None:
            await super()._connect()
            widen_reads(self._reader, self._writer)

    pool.connection_class = WideReads
    return client
