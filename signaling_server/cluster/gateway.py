"""A node's side of the relay: where the websocket connections on this node take their clients' messages.

While the node leads, to its own switchboard; while another node leads, over the bus to that leader.
Each connection remembers the term it was attached under, and no connection ever talks to two terms at
once. When the term changes (a leader died, lost its lease, or resigned) a connection is *re-pointed*:
attached to the new leader without a second welcome (a ``resume`` frame; ``Switchboard.resume`` tells it
where its calls and its place in the queue stand, as after a reconnect), so that only the dead node's
clients reconnect. A connection is closed instead, to reconnect and resume as after a server restart, when
the old term may have lost something it asked: a request whose handling the old leader did not confirm
(``mark`` below), or any connection of a switchboard this node ran itself (it forgot them when deposed).

Confirmation: every frame to a leader has a sequence number; after a request (a message that changes
state: ``request_call``, ``accept_call``, ``end_call``...) the node sends a ``mark`` frame, and the leader
answers ``marked`` once it has handled every frame before it, in order, and queued its answers to this
node before the ``marked`` (one channel each way, order kept). A connection whose last request was marked
lost nothing with the old leader that the new one's resume does not tell again. Media set-up messages,
pings, heartbeats and call statistics need no mark: a new leader starts a call's half-made media afresh.

A connection whose requests provably reached nobody is moved too, and asks them again of the new leader
after its resume (``replays``): Redis answered its PUBLISH with no listener, so the dead leader never saw
them, nor anything this node sent it later (one channel, in order: nobody subscribes to a dead term's
channel again, and a leader that subscribes again after Redis broke its subscription resigns before it
reads a frame). Only when the first of its unconfirmed requests is such a one: a request the old leader
may have heard still closes the connection. At 20,000 kiosks and 300 calls a second, 2,000-3,000 officers
on the surviving nodes had asked something in the second after the kill: all were closed, reconnected
beside the dead node's 8,300 clients, and made the slowest tenth of the run's resume times. Likewise a
client whose attach the old leader never answered (no welcome came back, nothing asked) is attached to the
new leader like a held one, not closed (``_unanswered_attach``).

A connection whose attach reached nobody (the leader died, the next one is still restoring) is *held*,
not closed: nobody welcomed it, and it is attached again once a leader listens, for at most ``hold_s``
(clients wait 15 s for their welcome). Before, each such client was closed, backed off and tried again,
several times during a failover: that backoff was most of the dead node's clients' resume time.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from remote_call import protocol as p
from remote_call.protocol import ErrorCode, ProtocolError
from signaling_server.cluster.backlog import Backlog
from signaling_server.cluster.bus import Channels, Frame, Publisher
from signaling_server.cluster.lease import Holder
from signaling_server.cluster.relay import principal_json
from signaling_server.switchboard import Client, Switchboard

log = logging.getLogger(__name__)

NO_LEADER = "no switchboard is leading right now (cluster failover or Redis unreachable); reconnecting"

# What a lost copy of costs nothing after a term change: the new leader restarts a call's half-made media
# (``Presence.resume``), and pings, heartbeats and call statistics come again within seconds.
REPAIRED = frozenset(
    {p.SessionDescription, p.IceCandidate, p.MediaConnected, p.Ping, p.Heartbeat, p.CallQuality}
)


# Requests kept for the next leader, per connection: a console asks a few things a second at most, and a
# failover lasts seconds; more is a client that asks on without waiting for answers (it reconnects).
REPLAYS_MAX = 32


@dataclass(frozen=True)
class Route:
    epoch: int  # the term the connection is attached under
    conn: str  # its id on this node, as frames name it
    local: bool  # attached to this node's own switchboard (this node led)


class Gateway:
    """attach / handle / detach for the connections of one node (``app._Connection`` calls these)."""

    def __init__(
        self,
        node_id: str,
        board: Switchboard,
        publisher: Publisher,
        channels: Channels,
        *,
        holds: Callable[[], bool],
        hold_s: float = 9.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node_id = node_id
        self.board = board
        self.publisher = publisher
        self.channels = channels
        self.holds = holds  # this node's lease: checked before every local decision
        self.leader: Holder | None = None  # the term connections attach under now (set by the node)
        self.routes: dict[Client, Route] = {}
        self.by_conn: dict[str, Client] = {}
        self._ids = itertools.count(1)
        self._seq = 0  # frames sent to a leader, numbered
        self.asked: dict[Client, int] = {}  # each connection's last attach or request, by number
        self.confirmed: dict[int, int] = {}  # by term: every frame up to this number was handled
        self.shifts: dict[Client, tuple[p.SetShift, str]] = {}  # an officer's shift, for a new leader
        self._mark_due = False
        self.repointed = 0  # connections moved to a new term without reconnecting
        self.hold_s = hold_s
        self.clock = clock
        self.held: dict[Client, float] = {}  # signed in, attach unheard: attached when a leader listens
        # Each connection's requests under its route not yet confirmed, in order: (number, frame, message).
        self.pending: dict[Client, deque[tuple[int, Frame, p.AnyMessage]]] = {}
        # Requests that provably reached nobody: asked again of the next leader after the move.
        self.replays: dict[Client, list[tuple[p.AnyMessage, str]]] = {}
        self.replayed = 0  # connections moved with their requests asked again, instead of closed
        self.unwelcomed: set[Client] = set()  # relayed attaches whose welcome has not come back yet
        # Connections moved onto this node's own switchboard wait here while the returning clients go first.
        self.moves = Backlog(f"cluster-moves {node_id}")

    @property
    def local(self) -> bool:
        leader = self.leader
        return leader is not None and leader.node == self.node_id

    def counts(self) -> dict[str, int]:
        local = sum(1 for r in self.routes.values() if r.local)
        return {"local": local, "relayed": len(self.routes) - local}

    # ------------------------------------------------------------------ the connection's calls

    def attach(self, client: Client) -> None:
        """Register a signed-in client with the leader, which sends its welcome; or refuse it for now."""
        leader = self.leader
        if leader is None or (self.local and not self.holds()):
            client.send(p.Error(code=ErrorCode.INTERNAL, detail=NO_LEADER, about="hello"))
            client.close()
            return
        conn = f"{next(self._ids):x}"
        route = Route(leader.epoch, conn, self.local)
        self.routes[client] = route
        self.by_conn[conn] = client
        if route.local:
            client.send(self.board.attach(client))
            self.board.resume(client)
        else:
            self.asked[client] = self._to_leader(route, "attach", principal_json(client.principal))
            self.unwelcomed.add(client)
            self._mark()

    def handle(self, client: Client, message: p.AnyMessage, text: str) -> None:
        route = self.routes.get(client)
        if route is None:
            if self.held.pop(client, None) is not None:
                client.close()  # nothing may be asked before the welcome: reconnect, as before
            return  # being closed: its term ended
        if isinstance(message, p.SetShift):
            self.shifts[client] = (message, text)
        if not route.local:
            replays = self.replays.get(client)
            if replays is not None:  # its leader is gone: what it asks waits for the next one, in order
                if type(message) in REPAIRED:
                    return
                if len(replays) >= REPLAYS_MAX:
                    self._drop(client)  # asks on and on with nobody to answer: reconnects instead
                    return
                replays.append((message, text))
                return
            self._request(client, route, message, text)
        elif self.holds():
            self.moves.promote(client)  # its resume first, if it waits: what it hears keeps its order
            self.board.handle(client, message, text)
        else:  # deposed between two checks of the node: decide nothing, let it reconnect
            self._drop(client)

    def detach(self, client: Client) -> None:
        self.held.pop(client, None)
        route = self._forget(client)
        if route is None:
            return
        leader = self.leader
        if leader is None or leader.epoch != route.epoch:
            return  # the new leader never knew this connection
        if not route.local:
            self._to_leader(route, "detach")
        elif self.holds():
            self.moves.promote(client)
            self.board.detach(client)

    # ------------------------------------------------------------------ from the bus and the node

    def on_frame(self, _channel: str, frame: Frame) -> None:
        """What a leader sends to a connection on this node; an older term's frames are dropped."""
        if frame.kind == "marked":
            if frame.epoch in self.confirmed:
                self.confirmed[frame.epoch] = max(self.confirmed[frame.epoch], int(frame.text))
            return
        client = self.by_conn.get(frame.conn)
        route = self.routes.get(client) if client is not None else None
        if client is None or route is None or route.epoch != frame.epoch:
            return
        if frame.kind == "send":
            self.unwelcomed.discard(client)  # the welcome comes first
            client.send_raw(frame.text)
        elif frame.kind == "close":
            client.close()

    def unheard(self, frames: list[Frame], *, nobody: bool = False) -> None:
        """Frames for a leader that no longer listens (``nobody``: Redis said none was delivered, rather
        than a PUBLISH that failed): a connection whose attach was among them is held for the next leader;
        one whose first unconfirmed request provably reached nobody keeps its requests to ask the next
        leader again; one that may have lost a request reconnects (nothing lost silently); one that only
        lost a repaired message waits for the next term."""
        attached = {f.conn: f.epoch for f in frames if f.kind == "attach"}
        reached_nobody = {id(f) for f in frames} if nobody else set()
        for conn in dict.fromkeys(f.conn for f in frames if f.kind != "mark"):  # in the order they came
            client = self.by_conn.get(conn)
            if client is None or client in self.replays:
                continue
            route = self.routes[client]
            if attached.get(conn) == route.epoch and self.hold_s > 0:
                self._forget(client)  # nobody welcomed it: it waits for a leader that listens
                self.held[client] = self.clock() + self.hold_s
            elif self._safe(client, route):
                continue
            elif (pending := self._pending(client, route)) and id(pending[0][1]) in reached_nobody:
                # Its first unconfirmed request reached nobody, so did every later one (same channel).
                self.replays[client] = [(message, frame.text) for _seq, frame, message in pending]
            else:
                self._drop(client)

    def expire_held(self) -> int:
        """Close the held connections that waited ``hold_s`` (they reconnect as before); how many."""
        now = self.clock()
        expired = [c for c, until in self.held.items() if until <= now]
        for client in expired:
            del self.held[client]
            client.close()
        return len(expired)

    def stale(self) -> bool:
        """Whether some connection is still attached under another term than the current leader's."""
        epoch = self.leader.epoch if self.leader is not None else None
        return any(r.epoch != epoch for r in self.routes.values())

    def close_other_terms(self) -> int:
        """Close every connection attached under another term than the current leader's, and the held
        ones; how many."""
        held, self.held = list(self.held), {}
        for client in held:
            client.close()
        epoch = self.leader.epoch if self.leader is not None else None
        stale = [c for c, r in self.routes.items() if r.epoch != epoch]
        for client in stale:
            self._drop(client)
        return len(stale)

    def close_relayed(self, epoch: int) -> int:
        """Close every connection relayed to the leader of term ``epoch`` (they reconnect and resume, and ask
        ``sync_call`` what became of their call, as after a server restart); how many. For when this node's
        subscription broke: what that leader sent them meanwhile is lost, and neither side can tell which
        frames. (Those of an older term move to the new leader instead, whose resume tells them again.)"""
        relayed = [c for c, r in self.routes.items() if not r.local and r.epoch == epoch]
        for client in relayed:
            self._drop(client)
        return len(relayed)

    def repoint(self) -> int:
        """Attach the held connections to the current leader, then the connections of older terms without a
        second welcome: on this node's switchboard when it leads now, else with a ``resume`` frame (the new
        leader must already listen: ``Node`` waits for it). Connections that may have lost something are
        closed instead, and so is an older one of a party held here (it has come back); returns how many.

        The held ones first: they are clients waiting for a welcome (the dead node's), the others have
        theirs and lose nothing by waiting. Behind some 8,000 resume frames a node's held clients were
        welcomed 20-30 s after their hello at 20,000 kiosks (the slow half of ``resume_s``)."""
        leader = self.leader
        assert leader is not None
        if not self.local:
            self.confirmed.setdefault(leader.epoch, 0)
        held, self.held = list(self.held), {}
        for client in held:
            self.attach(client)
        back = {(c.role, c.identity) for c in held}
        closed = 0
        for client, route in list(self.routes.items()):
            if route.epoch == leader.epoch:
                continue
            came_back = (client.role, client.identity) in back
            lost = not (self._safe(client, route) or client in self.replays)
            if lost and not came_back and self._unanswered_attach(client, route):
                self._forget(client)  # attached as a held one: the old leader's welcome, if any, is fenced
                self.attach(client)
            elif route.local or lost or came_back:
                self._drop(client)
                closed += 1
            else:
                self._move(client, route, leader)
        if not self.local:
            self._mark()
        for epoch in [e for e in self.confirmed if e != leader.epoch]:
            del self.confirmed[epoch]
        return closed

    def _move(self, client: Client, route: Route, leader: Holder) -> None:
        """A connection of an older term to ``leader`` without a second welcome, with what it asked of
        nobody meanwhile."""
        moved = Route(leader.epoch, route.conn, self.local)
        self.routes[client] = moved
        self.asked.pop(client, None)
        self.pending.pop(client, None)
        replays = self.replays.pop(client, [])
        self.replayed += bool(replays)
        self.repointed += 1
        shift = self.shifts.get(client)
        if moved.local:  # after the clients that wait for a welcome (``Backlog``)
            self.moves.add(client, functools.partial(self._resume_local, client, shift, replays))
            return
        self.asked[client] = self._to_leader(moved, "resume", principal_json(client.principal))
        if shift is not None:
            self._to_leader(moved, "message", shift[1])
        for message, text in replays:
            self._request(client, moved, message, text)

    def _unanswered_attach(self, client: Client, route: Route) -> bool:
        """Its attach went to the old leader, no welcome came back and it asked nothing: nothing it has
        heard or asked depends on the old term, whether that leader handled the attach or not. (Closed, such
        clients of the dead node, signed in on this node while the new leader took the lease, came back a
        second time: 3,561 in one 20,000-kiosk failover.)"""
        return not route.local and client in self.unwelcomed and not self.pending.get(client)

    def _resume_local(
        self,
        client: Client,
        shift: tuple[p.SetShift, str] | None,
        replays: list[tuple[p.AnyMessage, str]],
    ) -> None:
        """A connection moved onto this node's own switchboard: it has its welcome."""
        route = self.routes.get(client)
        if route is None or not route.local or not self.holds():
            return  # gone, or this node was deposed meanwhile (the connection is closed)
        if self.board.superseded(client.role, client.identity):
            self._drop(client)  # the party came back on another connection meanwhile
            return
        self.board.reattach(client)
        self.board.resume(client)
        if shift is not None:  # the console told the old leader; the new one must know it too
            self._replay(client, *shift)
        for message, text in replays:  # what it asked of a leader that had died: never seen
            self._replay(client, message, text)

    def _replay(self, client: Client, message: p.AnyMessage, text: str) -> None:
        try:
            self.board.handle(client, message, text)
        except ProtocolError as exc:  # as the app answers a message it refuses
            client.send(exc.to_message())

    def mark(self) -> None:
        """Ask the leader to confirm every frame sent so far (``marked``)."""
        leader = self.leader
        if leader is None or self.local:
            return
        self.confirmed.setdefault(leader.epoch, 0)
        self.publisher.publish(
            self.channels.leader(leader.epoch), Frame("mark", leader.epoch, self.node_id, "", str(self._seq))
        )

    def _mark(self) -> None:
        """A mark after this turn of the loop's requests: one for all of them."""
        if not self._mark_due:
            self._mark_due = True
            asyncio.get_running_loop().call_soon(self._send_mark)

    def _send_mark(self) -> None:
        self._mark_due = False
        self.mark()

    def _request(self, client: Client, route: Route, message: p.AnyMessage, text: str) -> None:
        """A message to the leader; a request (not a repaired one) is kept until it is confirmed."""
        seq, frame = self._frame_to_leader(route, "message", text)
        if type(message) in REPAIRED:
            return
        self.asked[client] = seq
        self._pending(client, route).append((seq, frame, message))
        self._mark()

    def _pending(self, client: Client, route: Route) -> deque[tuple[int, Frame, p.AnyMessage]]:
        """The connection's requests not yet confirmed (the confirmed ones let go here, as they come)."""
        pending = self.pending.setdefault(client, deque())
        confirmed = self.confirmed.get(route.epoch, -1)
        while pending and pending[0][0] <= confirmed:
            pending.popleft()
        return pending

    def _safe(self, client: Client, route: Route) -> bool:
        """Whether everything this connection asked of its term was handled (``marked``)."""
        asked = self.asked.get(client)
        return asked is None or asked <= self.confirmed.get(route.epoch, -1)

    def _forget(self, client: Client) -> Route | None:
        self.moves.drop(client)
        route = self.routes.pop(client, None)
        if route is not None:
            del self.by_conn[route.conn]
            self.asked.pop(client, None)
            self.shifts.pop(client, None)
            self.pending.pop(client, None)
            self.replays.pop(client, None)
            self.unwelcomed.discard(client)
        return route

    def _drop(self, client: Client) -> None:
        self._forget(client)
        client.close()  # the client reconnects and resumes with whoever leads then

    def _to_leader(self, route: Route, kind: str, text: str = "") -> int:
        return self._frame_to_leader(route, kind, text)[0]

    def _frame_to_leader(self, route: Route, kind: str, text: str) -> tuple[int, Frame]:
        self._seq += 1
        frame = Frame(kind, route.epoch, self.node_id, route.conn, text)
        self.publisher.publish(self.channels.leader(route.epoch), frame)
        return self._seq, frame
