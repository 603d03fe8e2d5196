"""A node's side of the relay: where the websocket connections on this node take their clients' messages.

While the node leads, to its own switchboard; while another node leads, over the bus to that leader.
Each connection remembers the term it was attached under: when the term changes (a leader died, lost its
lease, or resigned) the node closes it, the client reconnects like after a server restart and resumes its
place in the queue or its call with the new leader. No connection ever talks to two terms.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from remote_call import protocol as p
from remote_call.protocol import ErrorCode
from signaling_server.cluster.bus import Channels, Frame, Publisher
from signaling_server.cluster.lease import Holder
from signaling_server.cluster.relay import principal_json
from signaling_server.switchboard import Client, Switchboard

log = logging.getLogger(__name__)

NO_LEADER = "no switchboard is leading right now (cluster failover or Redis unreachable); reconnecting"


@dataclass(frozen=True)
class Route:
    epoch: int  # the term the connection was attached under
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
            self._to_leader(route, "attach", principal_json(client.principal))

    def handle(self, client: Client, message: p.AnyMessage, text: str) -> None:
        route = self.routes.get(client)
        if route is None:
            return  # being closed: its term ended
        if not route.local:
            self._to_leader(route, "message", text)
        elif self.holds():
            self.board.handle(client, message, text)
        else:  # deposed between two checks of the node: decide nothing, let it reconnect
            self._drop(client)

    def detach(self, client: Client) -> None:
        route = self.routes.pop(client, None)
        if route is None:
            return
        del self.by_conn[route.conn]
        leader = self.leader
        if leader is None or leader.epoch != route.epoch:
            return  # the new leader never knew this connection
        if not route.local:
            self._to_leader(route, "detach")
        elif self.holds():
            self.board.detach(client)

    # ------------------------------------------------------------------ from the bus and the node

    def on_frame(self, _channel: str, frame: Frame) -> None:
        """What a leader sends to a connection on this node; an older term's frames are dropped."""
        client = self.by_conn.get(frame.conn)
        route = self.routes.get(client) if client is not None else None
        if client is None or route is None or route.epoch != frame.epoch:
            return
        if frame.kind == "send":
            client.send_raw(frame.text)
        elif frame.kind == "close":
            client.close()

    def unheard(self, frames: list[Frame]) -> None:
        """Frames for a leader that no longer listens: their connections reconnect (nothing lost silently)."""
        for conn in {f.conn for f in frames}:
            client = self.by_conn.get(conn)
            if client is not None:
                self._drop(client)

    def close_other_terms(self) -> int:
        """Close every connection attached under another term than the current leader's; how many."""
        epoch = self.leader.epoch if self.leader is not None else None
        stale = [c for c, r in self.routes.items() if r.epoch != epoch]
        for client in stale:
            self._drop(client)
        return len(stale)

    def _drop(self, client: Client) -> None:
        route = self.routes.pop(client, None)
        if route is not None:
            del self.by_conn[route.conn]
        client.close()  # the client reconnects and resumes with whoever leads then

    def _to_leader(self, route: Route, kind: str, text: str = "") -> None:
        frame = Frame(kind, route.epoch, self.node_id, route.conn, text)
        self.publisher.publish(self.channels.leader(route.epoch), frame)
