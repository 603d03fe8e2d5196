"""The extra peer connections of a call (a third or fourth party: an interpreter, later a guest), by party.

A call between the caller and the officer is one ``CallSession`` held by the ``CallParty`` (messages with no
``peer``). When a third party joins, the server sends every party a ``call_connecting`` naming the other end
of each new peer connection in ``peer``; the joining party is the offerer of each of its connections. This
module keeps one ``CallSession`` per such peer (a mesh: every party sends its camera and microphone on every
one of its connections, one sender per connection, as aiortc wants):

- SDP and ICE carrying ``peer`` go to that peer's session; what a session signals goes out with ``peer`` set
  to the party it is meant for (the server rewrites it to ours on the way);
- ``party_left`` closes that one peer's session; the other sessions, and the caller↔officer pair, are not
  touched. A peer's connection that fails (ICE), or whose link pings go unanswered for 5 s
  (``remote_call.link_watch``, as on the caller↔officer pair), asks the server for *that* peer's media
  restart (``restart_media`` with ``peer``); a fresh ``call_connecting`` for the same peer rebuilds it alone;
- the in-call messages on these connections (chat, shown documents and scans shared with the interpreter)
  are the ``PeerDesk``'s (``remote_call.conference_desk``), told of every session by ``link_listeners``;
- ``call_ended`` closes every peer session (the ``CallParty`` closes its own).

Media sources are the party's ``MediaSources``: a fresh camera and microphone track per connection (the
simulated sources make a new test pattern per call; see docs/performance.md for the kiosk's cost).
Qt-free: the kiosk, the console, the interpreter's console and the simulator use it alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from remote_call import protocol as p
from remote_call.conference_desk import PeerDesk
from remote_call.desk import CallDesk
from remote_call.events import EventHub
from remote_call.link_watch import LINK_DEAD_S, LINK_PING_S, LinkWatch
from remote_call.party import CallParty, MediaSources
from remote_call.session import CallSession
from remote_call.tasks import BackgroundTasks

log = logging.getLogger(__name__)

Send = Callable[[p.Wire], Awaitable[None]]
PEER_MESSAGES = (p.CallConnecting, p.SessionDescription, p.IceCandidate, p.RestartMedia, p.MediaConnected)


@dataclass
class PeerLink:
    """One extra peer connection of the call: the session and the instructions it was built from."""

    peer: p.PartyId
    session: CallSession
    connecting: p.CallConnecting
    watch: LinkWatch
    restarts: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class Conference:
    """A party's peer connections to the call's extra parties, keyed by the other party's id."""

    def __init__(self, send: Send, media: MediaSources, events: EventHub) -> None:
        self._send = send
        self.media = media
        self.events = events
        self.call_id: str | None = None
        self.links: dict[p.PartyId, PeerLink] = {}
        self.interpreter: p.InterpreterStatus | None = None  # the call's interpreter request, as last told
        self._tasks = BackgroundTasks(log, "conference")
        self.link_ping_s = LINK_PING_S
        self.link_dead_s = LINK_DEAD_S
        # Told of every peer session built (peer, session) and let go of (peer, None): the PeerDesk.
        self.link_listeners: list[Callable[[p.PartyId, CallSession | None], None]] = []

    # ------------------------------------------------------------------ routing

    def owns(self, message: p.Wire) -> bool:
        """True for a message about one of the extra peer connections (it names a ``peer``)."""
        return isinstance(message, PEER_MESSAGES) and getattr(message, "peer", None) is not None

    async def handle(self, message: p.Wire) -> bool:
        """Handle a message about the extra peers; False when the message is (also) the CallParty's.

        ``call_ended`` and ``call_requeued`` close every extra peer and return False: the caller↔officer
        pair's party must see them too."""
        if isinstance(message, p.PartyLeft):
            await self.close_peer(message.party, reason=message.reason)
            return True
        if isinstance(message, p.InterpreterStatus):
            self.interpreter = message
            self.events.emit("interpreter_status", **message.model_dump(exclude={"type"}))
            return True
        if isinstance(message, p.CallEnded | p.CallRequeued):
            await self.close_all()
            return False
        if not self.owns(message):
            return False
        peer = getattr(message, "peer", None)
        assert peer is not None
        if isinstance(message, p.CallConnecting):
            await self.connect(message)
        elif isinstance(message, p.SessionDescription | p.IceCandidate):
            await self._signal_in(peer, message)
        return True

    async def _signal_in(self, peer: p.PartyId, message: p.SessionDescription | p.IceCandidate) -> None:
        link = self.links.get(peer)
        if link is None or message.call_id != self.call_id:
            return
        if (
            isinstance(message, p.SessionDescription)
            and message.sdp_type == "offer"
            and link.session.pc.remoteDescription is not None
        ):
            # A fresh offer on an established connection: that peer rebuilt its side; so do we.
            link = await self.connect(link.connecting)
        await link.session.handle_signal(message)

    # ------------------------------------------------------------------ one peer

    async def connect(self, message: p.CallConnecting) -> PeerLink:
        """Build (or rebuild) the connection to ``message.peer``; the others are not touched."""
        peer = message.peer
        if peer is None:
            raise ValueError("call_connecting without a peer belongs to the CallParty")
        if self.call_id is not None and self.call_id != message.call_id:
            await self.close_all()  # a new call: nothing of the last one stays
        self.call_id = message.call_id
        old = self.links.pop(peer, None)
        restarts = 0
        if old is not None:
            restarts = old.restarts + 1
            await self._close_link(old)
        session = CallSession(
            message.call_id,
            offerer=message.offerer,
            ice_servers=message.ice_servers,
            send_signal=self._sender_to(peer),
            video=self.media.camera_track(),
            audio=self.media.microphone_track(),
            audio_consumer=self.media.play_remote_audio,
            ice_transport_policy=message.ice_transport_policy,
        )
        watch = LinkWatch(
            session, lambda: self._link_lost(peer, session), ping_s=self.link_ping_s, dead_s=self.link_dead_s
        )
        link = PeerLink(peer, session, message, watch, restarts)
        self.links[peer] = link
        self._tell_listeners(peer, session)
        self.events.emit(
            "peer_connecting",
            call_id=message.call_id,
            peer=peer,
            peer_name=message.peer_name,
            restart=message.restart or old is not None,
        )
        link.tasks.append(self._tasks.spawn(self._report_media(link), f"peer-up {peer}"))
        link.tasks.append(self._tasks.spawn(self._watch_failure(link), f"peer-watch {peer}"))
        link.tasks.append(self._tasks.spawn(watch.run(), f"peer-link {peer}"))
        await session.start()
        return link

    def _tell_listeners(self, peer: p.PartyId, session: CallSession | None) -> None:
        for listener in self.link_listeners:
            try:
                listener(peer, session)
            except Exception:  # logged; a listener never breaks the media path
                log.exception("conference: a link listener failed for %s", peer)

    async def _link_lost(self, peer: p.PartyId, session: CallSession) -> None:
        """No link pong from ``peer`` for ``link_dead_s``: ask for that pair's media restart alone."""
        link = self.links.get(peer)
        if link is None or link.session is not session:
            return
        log.warning("call %s: the link to %s is dead; asking for its restart", self.call_id, peer)
        self.events.emit("peer_media_lost", call_id=session.call_id, peer=peer, reason="link_lost")
        await self._send_quietly(p.RestartMedia(call_id=session.call_id, reason="link_lost", peer=peer))

    def _sender_to(self, peer: p.PartyId) -> Callable[[p.Wire], Awaitable[None]]:
        async def send(message: p.Wire) -> None:
            await self._send_quietly(message.model_copy(update={"peer": peer}))

        return send

    async def _send_quietly(self, message: p.Wire) -> None:
        try:
            await self._send(message)
        except ConnectionError:
            log.info("conference: %s not sent, the signaling connection is down", type(message).__name__)

    async def _report_media(self, link: PeerLink) -> None:
        await link.session.connected.wait()
        await self._send_quietly(p.MediaConnected(call_id=link.session.call_id, peer=link.peer))
        self.events.emit("peer_connected", call_id=link.session.call_id, peer=link.peer)

    async def _watch_failure(self, link: PeerLink) -> None:
        """That peer's connection failed (ICE): ask for its media restart alone."""
        await link.session.failed.wait()
        if self.links.get(link.peer) is not link:
            return
        log.warning("call %s: the connection to %s failed; asking for its restart", self.call_id, link.peer)
        self.events.emit("peer_media_lost", call_id=link.session.call_id, peer=link.peer, reason="ice_failed")
        await self._send_quietly(
            p.RestartMedia(call_id=link.session.call_id, reason="ice_failed", peer=link.peer)
        )

    def restart(self, peer: p.PartyId) -> None:
        """Ask the server to rebuild the media with ``peer`` (and nothing else)."""
        link = self.links.get(peer)
        if link is not None:
            self._tasks.spawn(
                self._send_quietly(p.RestartMedia(call_id=link.session.call_id, peer=peer)),
                f"restart {peer}",
            )

    async def close_peer(self, peer: p.PartyId, *, reason: str = "left") -> None:
        """Close the connection to ``peer``, if any; the other connections go on."""
        link = self.links.pop(peer, None)
        if link is None:
            return
        await self._close_link(link)
        self.events.emit("peer_left", call_id=link.session.call_id, peer=peer, reason=reason)

    async def _close_link(self, link: PeerLink) -> None:
        link.watch.stop()
        for task in link.tasks:
            task.cancel()
        if self.links.get(link.peer) is None:
            self._tell_listeners(link.peer, None)
        await link.session.close()

    async def close_all(self) -> None:
        """Close every extra peer connection. Safe at any time, any number of times."""
        links, self.links = list(self.links.values()), {}
        self.call_id, self.interpreter = None, None  # before awaiting: a new connection may come meanwhile
        for link in links:
            with contextlib.suppress(Exception):
                await self._close_link(link)

    # ------------------------------------------------------------------ what arrived

    def session(self, peer: p.PartyId) -> CallSession | None:
        link = self.links.get(peer)
        return link.session if link is not None else None

    def frames_from(self, peer: p.PartyId) -> int:
        """Video frames received from ``peer`` on the current connection (0 with none)."""
        session = self.session(peer)
        return session.remote_video.count if session is not None else 0

    def latest_frame(self, peer: p.PartyId) -> object | None:
        session = self.session(peer)
        return session.remote_video.frame if session is not None else None


def call_parties(
    send: Send, media: MediaSources, events: EventHub, *, desk: CallDesk | None = None
) -> tuple[CallParty, Conference]:
    """A party's two halves of a call: the caller<->officer pair (``CallParty``) and the extra peers. With
    ``desk``, the party's in-call desk also shares its chat and shown documents with the extra parties and
    hears their chat (``share_desk``)."""
    conference = Conference(send, media, events)
    if desk is not None:
        share_desk(conference, desk)
    return CallParty(send, media, events), conference


def share_desk(conference: Conference, desk: CallDesk) -> PeerDesk:
    """The caller's or officer's desk shares what it says and shows with the call's interpreter."""
    peers = PeerDesk(conference, desk.me)
    desk.share_with(peers)
    return peers
