"""Post alert events to a configurable webhook: a bounded queue, one worker, retries with backoff.

Each payload is POSTed as JSON. A 2xx answer is success; a network error, a timeout or a 5xx/429 answer is
retried with exponential backoff (``backoff_s``, doubling, capped at ``max_backoff_s``) up to ``retries``
times, then dropped and logged. Other 4xx answers are not retried (the receiver refused the payload). When
the queue is full the oldest payload is dropped: alerts never hold up the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from remote_call.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class WebhookSender:
    def __init__(
        self,
        url: str,
        *,
        retries: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        timeout_s: float = 10.0,
        queue_limit: int = 1000,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"webhook url must be an http(s) URL, got {url!r}")
        if retries < 0 or backoff_s < 0 or max_backoff_s < 0 or timeout_s <= 0 or queue_limit < 1:
            raise ValueError(
                "webhook retries, backoff and queue limit must not be negative; the timeout must be positive"
            )
        self.url = url
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._sleep = sleep
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(queue_limit)
        self._worker: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.delivered = 0
        self.dropped = 0
        self.attempts = 0

    def post(self, payload: dict[str, Any]) -> None:
        """Queue one payload for delivery; never blocks."""
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
                self._queue.task_done()
                self.dropped += 1
                log.warning("webhook queue full; dropped the oldest alert event")
        self._queue.put_nowait(payload)

    async def start(self) -> None:
        if self._worker is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
            self._worker = asyncio.create_task(self._run(), name="alert-webhook")

    async def stop(self) -> None:
        if self._worker is not None:
            await cancel_and_wait(self._worker)
            self._worker = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def drain(self) -> None:
        """Wait until everything queued so far was delivered or given up (tests, shutdown)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            payload = await self._queue.get()
            try:
                await self._deliver(payload)
            except Exception:
                log.exception("webhook delivery failed unexpectedly")
            finally:
                self._queue.task_done()

    async def _deliver(self, payload: dict[str, Any]) -> None:
        assert self._session is not None
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            self.attempts += 1
            try:
                async with self._session.post(self.url, json=payload) as response:
                    if 200 <= response.status < 300:
                        self.delivered += 1
                        return
                    if response.status < 500 and response.status != 429:
                        self.dropped += 1
                        log.error(
                            "webhook refused an alert event with HTTP %d; not retrying", response.status
                        )
                        return
                    problem = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt < self.retries:
                log.warning("webhook attempt %d failed (%s); retrying in %.1f s", attempt + 1, problem, delay)
                await self._sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
            else:
                log.error("webhook gave up after %d attempts (%s); alert event dropped", attempt + 1, problem)
        self.dropped += 1
