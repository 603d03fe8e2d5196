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
from remote_call.link_watch import LINK_DEAD_S, LINK_PING_S, LinkWatch
from remote_call.session import CallSession

log = logging.getLogger(__name__)


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
        self._link_watch: LinkWatch | None = None  # the current session's link pings
        self._rtt_ms: float | None = None  # the last call's, once it is over
        self.link_ping_s = LINK_PING_S  # a link ping a second over the control channel, and a media path
        self.link_dead_s = LINK_DEAD_S  # with no pong for 5 s is rebuilt (aiortc alone: ~32 s)
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
        watch = LinkWatch(
            session, lambda: self._link_lost(session), ping_s=self.link_ping_s, dead_s=self.link_dead_s
        )
        self._link_watch = watch
        self.events.emit(
            "call_connecting",
            call_id=message.call_id,
            peer_name=message.peer_name,
            department=message.department,
            restart=message.restart,
        )
        self._watch = asyncio.create_task(self._report_media(session), name=f"media-up {message.call_id}")
        self._link = asyncio.create_task(watch.run(), name=f"link {message.call_id}")
        await session.start()

    async def _report_media(self, session: CallSession) -> None:
        await session.connected.wait()
        with contextlib.suppress(ConnectionError):
            await self._send(p.MediaConnected(call_id=session.call_id))
        self.events.emit("media_connected", call_id=session.call_id)

    @property
    def link_rtt_ms(self) -> float | None:
        """The round trip of the last link pong (docs/protocol.md "Link pings")."""
        watch = self._link_watch
        return watch.rtt_ms if watch is not None and watch.rtt_ms is not None else self._rtt_ms

    async def _link_lost(self, session: CallSession) -> None:
        """No link pong for ``link_dead_s``: ask for the media to be rebuilt (both parties get a fresh
        ``call_connecting`` for the same call)."""
        if session is not self.session:
            return
        log.warning("call %s: no link pong; asking for a media restart", session.call_id)
        self.events.emit("media_lost", call_id=session.call_id)
        with contextlib.suppress(ConnectionError):
            await self._send(p.RestartMedia(call_id=session.call_id))

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
        self._rtt_ms, watch, self._link_watch = self.link_rtt_ms, self._link_watch, None
        if watch is not None:
            watch.stop()
        for task in (self._watch, self._link):
            if task is not None:
                task.cancel()
        self._watch = self._link = None
        if session is not None:
            await session.close()
