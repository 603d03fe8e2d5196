"""Delayed SACK for a call's SCTP association (RFC 9260 §6.2), on aiortc's ``RTCSctpTransport``.

aiortc answers every packet that carries DATA with a SACK of its own: in a 20 MiB upload from Chromium to
the console, 29,442 SACKs for 29,456 packets, each one a DTLS record and a ``sendto`` — 26 % of the console's
event loop during the upload (``cProfile``, docs/performance.md, "Business counter in Chromium"). Here a
SACK goes for every fourth packet of data that arrives in order, at once when there is a gap or a
duplicate to report, and within ``ACK_DELAY_S`` otherwise. Data reaches the channel as before: only the
acknowledgement waits, for the fourth packet or the delay.

It replaces one private method of aiortc's transport on the instance (``_send_sack``, the only place aiortc
sends a SACK, called once at the end of each packet that needs one). With an aiortc that lacks the state it
reads, ``delay_acknowledgements`` leaves the transport as it was and says so in the log;
tests/remote_call/test_sctp_ack.py checks that the installed aiortc has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

# RFC 9260 §6.2 recommends (SHOULD) a SACK for at least every second packet; RFC 6458's SCTP_DELAYED_SACK
# lets an application raise that count (``sack_freq``, Linux's default 2). Four, because the receiver's CPU
# sets an upload's pace here, and each SACK is a DTLS record and a ``sendto`` on its loop (~100 us a
# ``sendto`` on this VM): measured in one call, alternating, a 20 MiB upload from Chromium took 5.43 -> 4.10
# s (medians of 6), aiortc -> aiortc 9.14 -> 7.48 s (medians of 5) with four instead of two. The cost is a
# sender's slow start, which grows its window by at most one packet per SACK: from 4 packets to a 100-packet
# window (50 Mbit/s at 20 ms) in ~14 round trips instead of ~8, ~0.1 s of a transfer of seconds. Gaps and
# duplicates are still reported at once, so loss recovery is as fast as before.
ACK_EVERY_PACKETS = 4
# How long a lone packet's SACK waits (the RFC allows 200 ms). Far below the sender's retransmission
# timeout (aiortc 1 s at least; Chromium's dcSCTP some hundred ms), and only the odd last packet of a burst
# waits: a chat line or a link ping is delivered at once, its acknowledgement follows within this.
ACK_DELAY_S = 0.02
_AIORTC_STATE = ("_send_sack", "_sack_needed", "_sack_misordered", "_sack_duplicates")


class DelayedAcknowledgement:
    """Stands in for ``sctp._send_sack``: sends aiortc's SACK on every ``ACK_EVERY_PACKETS``-th call, at
    once when the association has a gap or a duplicate to report, else after ``ACK_DELAY_S``."""

    def __init__(self, sctp: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._sctp = sctp
        self._loop = loop
        self._send_sack: Callable[[], Awaitable[None]] = sctp._send_sack  # aiortc's own, bound
        self._packets_unacknowledged = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_tasks: set[asyncio.Task[None]] = set()
        self.sacks_sent = 0  # for tests and diagnostics

    async def __call__(self) -> None:
        """aiortc: a packet that needs a SACK has been handled."""
        self._packets_unacknowledged += 1
        if self._packets_unacknowledged >= ACK_EVERY_PACKETS or self._has_news():
            await self._send()
        elif self._timer is None:
            self._timer = self._loop.call_later(ACK_DELAY_S, self._on_timer)

    def _has_news(self) -> bool:
        """A gap (the sender should retransmit fast) or a duplicate (its SACK got lost): tell it now."""
        return bool(self._sctp._sack_misordered or self._sctp._sack_duplicates)

    async def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._packets_unacknowledged = 0
        if self._sctp._sack_needed:
            self.sacks_sent += 1
            await self._send_sack()

    def _on_timer(self) -> None:
        self._timer = None
        task = self._loop.create_task(self._send_late())
        self._timer_tasks.add(task)
        task.add_done_callback(self._timer_tasks.discard)

    async def _send_late(self) -> None:
        if self._sctp.state != "connected":
            return  # closed meanwhile: nothing left to acknowledge to
        # The DTLS transport may close between the check and the write (a hang-up): the peer is gone.
        with contextlib.suppress(ConnectionError):
            await self._send()


def delay_acknowledgements(sctp: Any) -> DelayedAcknowledgement | None:
    """Install a ``DelayedAcknowledgement`` on aiortc's SCTP transport (once); ``None`` when this aiortc
    does not have the state it needs (its own per-packet SACK then stays)."""
    current = getattr(sctp, "_send_sack", None)
    if isinstance(current, DelayedAcknowledgement):
        return current
    if not all(hasattr(sctp, name) for name in _AIORTC_STATE):
        log.warning("aiortc's SCTP transport has changed: SACKs stay one per packet")
        return None
    delayed = DelayedAcknowledgement(sctp, asyncio.get_running_loop())
    sctp._send_sack = delayed
    return delayed
