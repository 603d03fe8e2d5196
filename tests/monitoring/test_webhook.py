"""The alert webhook against a real local receiver: retries with bounded exponential backoff."""

from __future__ import annotations

import asyncio
import socket

import pytest

from signaling_server.webhook import WebhookSender

from .conftest import WebhookReceiver


class RecordedSleep:
    """Backoff delays are recorded instead of slept: the test never waits for real time."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


async def test_a_failing_receiver_is_retried_with_growing_backoff_until_it_accepts():
    async with WebhookReceiver(fail_first=3) as hook:
        sleep = RecordedSleep()
        sender = WebhookSender(hook.url, retries=5, backoff_s=1.0, max_backoff_s=3.0, sleep=sleep)
        await sender.start()
        try:
            sender.post({"event": "alert_raised", "alert": {"id": 1}})
            assert (await hook.next()) == {"event": "alert_raised", "alert": {"id": 1}}
            await asyncio.wait_for(sender.drain(), 5)
        finally:
            await sender.stop()
        assert hook.attempts == 4 and sleep.delays == [1.0, 2.0, 3.0]  # doubling, capped
        assert (sender.delivered, sender.dropped) == (1, 0)


async def test_delivery_gives_up_after_the_retries_and_goes_on_with_the_next():
    async with WebhookReceiver(fail_first=3) as hook:
        sleep = RecordedSleep()
        sender = WebhookSender(hook.url, retries=2, backoff_s=0.5, sleep=sleep)
        await sender.start()
        try:
            sender.post({"n": 1})  # three attempts, all refused with 503: dropped
            sender.post({"n": 2})
            assert (await hook.next()) == {"n": 2}
            await asyncio.wait_for(sender.drain(), 5)
        finally:
            await sender.stop()
        assert (sender.delivered, sender.dropped) == (1, 1) and sleep.delays == [0.5, 1.0]


async def test_an_unreachable_receiver_is_bounded():
    # A port bound but not listening refuses connections, and nobody else can take it meanwhile.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/hook"
        sleep = RecordedSleep()
        sender = WebhookSender(url, retries=3, backoff_s=0.1, sleep=sleep, timeout_s=2)
        await sender.start()
        try:
            sender.post({"n": 1})
            await asyncio.wait_for(sender.drain(), 10)
        finally:
            await sender.stop()
    assert sender.attempts == 4 and sender.dropped == 1 and len(sleep.delays) == 3


async def test_the_queue_is_bounded_dropping_the_oldest():
    sender = WebhookSender("http://127.0.0.1:9/hook", queue_limit=2)
    for n in range(5):
        sender.post({"n": n})
    assert sender.dropped == 3


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="http"):
        WebhookSender("not a url")
    with pytest.raises(ValueError, match="negative"):
        WebhookSender("http://127.0.0.1/x", retries=-1)
