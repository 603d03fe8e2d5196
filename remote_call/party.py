"""One party of a call (kiosk or console): builds the CallSession when the server says so, relays SDP and
ICE, reports when media is up, and tears everything down on every ending path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiortc import MediaStreamTrack

from remote_call import protocol as p
from remote_call.events import EventHub
from remote_call.incall import InCallError, LinkPing, LinkPong, incall_dict, parse_incall
from remote_call.session import CallSession

log = logging.getLogger(__name__)

LINK_PING_S = 1.0  # a link ping a second over the control channel...
LINK_DEAD_S = 5.0  # ...and a media path with no pong for this long is rebuilt (aiortc alone: ~32 s)


class MediaSources(Protocol):
    """What a party sends and how it plays what it receives; real devices or simulated ones."""

    def camera_track(self) -> MediaStreamTrack | None: ...

    def microphone_track(self) -> MediaStreamTrack | None: ...

    async def play_remote_audio(self, track: MediaStreamTrack) -> None: ...


class CallParty:
    def __init__(self, send: Callable[[p.Wire], Awaitable[None]], media: MediaSources, events: EventHub):
        self._send = send
        self.media = media
        self.events = events
        self.session: CallSession | None = None
        self.call_id: str | None = None
        self._watch: asyncio.Task | None = None
        self._link: asyncio.Task | None = None
        self.link_rtt_ms: float | None = None
        self._last_pong = 0.0
        self._last_answered: tuple[int, float] | None = None  # the last link ping answered (seq, sent_ms)
        self.link_ping_s = LINK_PING_S
        self.link_dead_s = LINK_DEAD_S
        self._sync: asyncio.Task | None = None
        self._connecting: p.CallConnecting | None = None  # the last set-up instructions, for a rebuild
        events.subscribe(self._on_event)

    def _on_event(self, event: str, data: dict) -> None:
        if event == "online" and self.call_id is not None:
            # After a reconnection: a call_ended may have died with the old connection. Ask.
            self._sync = asyncio.ensure_future(self._ask(p.SyncCall(call_id=self.call_id)))

    async def _ask(self, message: p.Wire) -> None:
        with contextlib.suppress(ConnectionError):
            await self._send(message)

    async def handle(self, message: p.Wire) -> bool:
        """Handle a call-related message; False if it is not one."""
        if isinstance(message, p.CallConnecting):
            await self._connect(message)
        elif isinstance(message, p.SessionDescription | p.IceCandidate):
            if self.session is not None and message.call_id == self.call_id:
                if (
                    isinstance(message, p.SessionDescription)
                    and message.sdp_type == "offer"
                    and self.session.pc.remoteDescription is not None
                    and self._connecting is not None
                ):
                    # A fresh offer on an established session: the other side rebuilt its media (a
                    # restart whose call_connecting we missed). Answer it with a fresh session too.
                    await self._connect(self._connecting)
                await self.session.handle_signal(message)
        elif isinstance(message, p.CallStarted):
            if self.session is None or self.call_id != message.call_id:
                # We lost our side of this call (app restart): ask for the media to be rebuilt.
                self.call_id = message.call_id
                with contextlib.suppress(ConnectionError):
                    await self._send(p.RestartMedia(call_id=message.call_id))
                self.events.emit("media_lost", call_id=message.call_id)
                return True
            self.events.emit("call_started", call_id=message.call_id)
        elif isinstance(message, p.CallEnded):
            stats = self.media_stats() if message.call_id == self.call_id else {}
            if message.call_id == self.call_id:
                await self.hang_up()
            self.events.emit("call_ended", call_id=message.call_id, reason=message.reason.value, **stats)
        elif isinstance(message, p.CallRequeued):
            await self.hang_up()
            self.events.emit("call_requeued", call_id=message.call_id)
        elif isinstance(message, p.CallTransferred):
            if not message.warm:
                await self.hang_up()  # blind: media with this officer ends; the next one connects afresh
            self.events.emit(
                "call_transferred",
                call_id=message.call_id,
                to_department=message.to_department,
                note=message.note,
                warm=message.warm,
            )
        else:
            return False
        return True

    async def _connect(self, message: p.CallConnecting) -> None:
        await self.hang_up()
        self._connecting = message
        self.call_id = message.call_id
        session = CallSession(
            message.call_id,
            offerer=message.offerer,
            ice_servers=message.ice_servers,
            send_signal=self._send,
            video=self.media.camera_track(),
            audio=self.media.microphone_track(),
            audio_consumer=self.media.play_remote_audio,
            ice_transport_policy=message.ice_transport_policy,
        )
        self.session = session
        self._last_answered = None
        session.control_handlers.append(lambda message: self._on_control(session, message))
        self.events.emit(
            "call_connecting",
            call_id=message.call_id,
            peer_name=message.peer_name,
            department=message.department,
            restart=message.restart,
        )
        self._watch = asyncio.create_task(self._report_media(session), name=f"media-up {message.call_id}")
        self._link = asyncio.create_task(self._watch_link(session), name=f"link {message.call_id}")
        await session.start()

    async def _report_media(self, session: CallSession) -> None:
        await session.connected.wait()
        with contextlib.suppress(ConnectionError):
            await self._send(p.MediaConnected(call_id=session.call_id))
        self.events.emit("media_connected", call_id=session.call_id)

    def _on_control(self, session: CallSession, message: dict) -> None:
        """Link pings and pongs of ``session``: each ping is answered once, on the session it came on."""
        kind = message.get("type")
        if kind not in ("link_ping", "link_pong") or session is not self.session:
            return  # a late message on a session this party has let go of (a rebuild): not ours to answer
        try:
            parsed = parse_incall(message)
        except InCallError:
            return
        if isinstance(parsed, LinkPing):
            key = (parsed.seq, parsed.sent_ms)
            if key == self._last_answered:
                return  # the same ping delivered twice (a second listener on the channel): answered already
            self._last_answered = key
            with contextlib.suppress(RuntimeError):
                session.send_control(incall_dict(LinkPong(seq=parsed.seq, sent_ms=parsed.sent_ms)))
        elif isinstance(parsed, LinkPong):
            self._last_pong = asyncio.get_running_loop().time()
            self.link_rtt_ms = max(0.0, self._last_pong * 1000 - parsed.sent_ms)

    async def _watch_link(self, session: CallSession) -> None:
        """Ping the peer every second over the data channel; no pong for link_dead_s → rebuild the media."""
        loop = asyncio.get_running_loop()
        await session.channel_open.wait()
        self._last_pong = loop.time()
        seq = 0
        while not session.closed.is_set():
            seq += 1
            with contextlib.suppress(RuntimeError):  # the channel may be closing
                session.send_control(incall_dict(LinkPing(seq=seq, sent_ms=loop.time() * 1000)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.closed.wait(), self.link_ping_s)
            if loop.time() - self._last_pong > self.link_dead_s and not session.closed.is_set():
                log.warning(
                    "call %s: no link pong for %.0f s; asking for a media restart",
                    session.call_id,
                    self.link_dead_s,
                )
                self.events.emit("media_lost", call_id=session.call_id)
                with contextlib.suppress(ConnectionError):
                    await self._send(p.RestartMedia(call_id=session.call_id))
                self._last_pong = loop.time()  # one request per dead period

    def media_stats(self) -> dict[str, float | int | None]:
        """What arrived from the other party during the current call."""
        if self.session is None:
            return {}
        return {
            "video_frames_in": self.session.remote_video.count,
            "audio_frames_in": self.session.remote_audio.count,
            "first_video_at": self.session.remote_video.first_at,
        }

    async def hang_up(self) -> None:
        """Close the current session, if any. Safe to call at any time, any number of times."""
        session, self.session, self.call_id = self.session, None, None
        for task in (self._watch, self._link):
            if task is not None:
                task.cancel()
        self._watch = self._link = None
        if session is not None:
            await session.close()
