"""The link pings of one peer connection (docs/protocol.md "Link pings"): a ``link_ping`` a second on the
``control`` channel, each ping of the other end answered once, and a callback when no pong came for
``dead_s`` — aiortc alone notices a silently vanished peer only after ~32 s. A link whose peer's audio or
video still arrives is not dead, however late its pongs: they ride SCTP on the ordered ``control`` channel,
where one dropped datagram holds every later message for a retransmission time-out that doubles when the
resend is dropped too. Measured in a four-party call on a loaded two-core machine (kiosk, officer and
interpreter in one process, a guest in Chromium; 5,900–9,000 datagrams dropped by full receive buffers in
one call): pongs 10–22 s late while that process's loop lagged under 1 s.

Used by the conference for every extra pair (a third party's connection to the caller and to the officer),
so a dead interpreter link is found and rebuilt alone; the caller↔officer pair's ``CallParty`` runs the same
duty on its own session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from remote_call.incall import InCallError, LinkPing, LinkPong, incall_dict, parse_incall
from remote_call.session import CallSession

log = logging.getLogger(__name__)

LINK_PING_S = 1.0
LINK_DEAD_S = 5.0


class LinkWatch:
    """Pings ``session``'s peer and answers its pings; ``on_dead()`` once per dead period: neither a pong
    nor a frame of the peer's media for ``dead_s``."""

    def __init__(
        self,
        session: CallSession,
        on_dead: Callable[[], Awaitable[None]],
        *,
        ping_s: float = LINK_PING_S,
        dead_s: float = LINK_DEAD_S,
    ) -> None:
        self.session = session
        self._on_dead = on_dead
        self.ping_s = ping_s
        self.dead_s = dead_s
        self.rtt_ms: float | None = None
        self.pongs = 0
        self._last_pong = 0.0
        self._last_media = 0.0
        self._media_frames = 0
        self._last_answered: tuple[int, float] | None = None
        self.stopped = False
        session.control_handlers.append(self.on_control)

    def stop(self) -> None:
        """The party let go of this session (a rebuild, the end): a late ping on it is not answered."""
        self.stopped = True

    def on_control(self, message: dict[str, Any]) -> None:
        """A control message of this session: pings answered once each, pongs noted."""
        if self.stopped or message.get("type") not in ("link_ping", "link_pong"):
            return
        try:
            parsed = parse_incall(message)
        except InCallError:
            return
        if isinstance(parsed, LinkPing):
            key = (parsed.seq, parsed.sent_ms)
            if key == self._last_answered:
                return  # the same ping delivered twice: answered already
            self._last_answered = key
            with contextlib.suppress(RuntimeError):  # the channel may be closing
                self.session.send_control(incall_dict(LinkPong(seq=parsed.seq, sent_ms=parsed.sent_ms)))
        elif isinstance(parsed, LinkPong):
            self._last_pong = asyncio.get_running_loop().time()
            self.rtt_ms = max(0.0, self._last_pong * 1000 - parsed.sent_ms)
            self.pongs += 1

    def _heard_at(self, now: float) -> float:
        """When the peer was last heard: its last pong, or the last time its audio or video moved on."""
        frames = self.session.remote_audio.count + self.session.remote_video.count
        if frames != self._media_frames:
            self._media_frames, self._last_media = frames, now
        return max(self._last_pong, self._last_media)

    async def run(self) -> None:
        """Ping every ``ping_s`` from the moment the channel opens until the session closes."""
        session, loop = self.session, asyncio.get_running_loop()
        await session.channel_open.wait()
        self._last_pong = self._last_media = loop.time()
        self._media_frames = session.remote_audio.count + session.remote_video.count
        seq = 0
        while not session.closed.is_set() and not self.stopped:
            seq += 1
            with contextlib.suppress(RuntimeError):
                session.send_control(incall_dict(LinkPing(seq=seq, sent_ms=loop.time() * 1000)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.closed.wait(), self.ping_s)
            if self.stopped or session.closed.is_set():
                break
            if loop.time() - self._heard_at(loop.time()) > self.dead_s:
                log.warning("call %s: no link pong or media for %.0f s", session.call_id, self.dead_s)
                self._last_pong = loop.time()  # one report per dead period
                await self._on_dead()
