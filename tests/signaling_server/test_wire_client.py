"""The tests' own wire client (signaling_server.testing.WireClient): a task reading with ``receive`` stops
when it is cancelled, even in the loop turn a message arrives. With ``asyncio.wait_for`` (Python 3.11) that
cancel was lost: the message was returned and the reader waited again, for ever (a kiosk-suite hang)."""

from __future__ import annotations

import asyncio
import contextlib

from signaling_server.testing import WireClient


async def test_a_reader_cancelled_as_a_message_arrives_stops(server):
    client = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
    try:
        reading = asyncio.Event()
        received = []

        async def reader() -> None:
            while True:
                reading.set()
                received.append(await client.receive(timeout=60))

        task = asyncio.ensure_future(reader())
        await asyncio.wait_for(reading.wait(), 5)
        client.inbox.put_nowait(client.seen[0])  # a message arrives ...
        task.cancel()  # ... in the very turn the reader is told to stop
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), 5)
        assert task.cancelled()
    finally:
        await client.close()
