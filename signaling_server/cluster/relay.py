"""The leader's side of the relay: clients connected to other nodes, as ``Client``s of its switchboard.

A remote client's ``send_raw`` and ``close`` publish to the node holding its connection, stamped with this
leader's epoch: a node drops what an older term sends, so a deposed leader is not heard any more. A
``resume`` frame attaches a connection that an older term already welcomed (``cluster/gateway.py``); a
``mark`` frame is answered with ``marked`` to its node, after everything the node sent before it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from remote_call import protocol as p
from remote_call.protocol import BusinessInfo, ErrorCode, ProtocolError, Role
from signaling_server.auth import Principal
from signaling_server.cluster.backlog import Backlog
from signaling_server.cluster.bus import Channels, Frame, Publisher
from signaling_server.limits import parse_guarded
from signaling_server.switchboard import Client, Switchboard

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (node, connection)
# A close for a connection that may have missed frames goes out this long after the failed PUBLISH, and as
# often while that fails too: no tighter loop while Redis is away (a retry that did not wait once grew a
# test process to 24 GB).
CLOSE_AGAIN_S = 0.5


def principal_json(principal: Principal) -> str:
    """A principal as an attach frame carries it (the node that authenticated it to the leader)."""
    data = {f.name: getattr(principal, f.name) for f in fields(principal)}
    data["role"] = principal.role.value
    data["business"] = principal.business.model_dump(mode="json") if principal.business else None
    return json.dumps(data, ensure_ascii=False)


def principal_from_json(text: str) -> Principal:
    data: dict[str, Any] = json.loads(text)
    business = data.pop("business", None)
    return Principal(
        role=Role(data.pop("role")),
        business=BusinessInfo.model_validate(business) if business is not None else None,
        **data,
    )


class LeaderDesk:
    """While this node leads (term ``epoch``): attach, message and detach frames from the other nodes."""

    def __init__(
        self,
        board: Switchboard,
        publisher: Publisher,
        channels: Channels,
        *,
        epoch: int,
        parse: Callable[[str], p.AnyMessage],
        holds: Callable[[], bool],
        on_attach: Callable[[Client], None] = lambda client: None,
    ) -> None:
        self.board = board
        self.on_attach = on_attach  # revocations: which kiosk token the connection holds
        self.publisher = publisher
        self.channels = channels
        self.epoch = epoch
        self.parse = parse
        self.holds = holds  # the fence: checked before every decision
        self.remote: dict[Key, Client] = {}
        self.relayed = 0  # client messages handled for other nodes
        # Subscribed before the restore, so that the other nodes move their connections meanwhile: their
        # frames wait here, in order, until the switchboard is restored (``open``).
        self.waiting: list[Frame] | None = []
        # Connections moved from an older term wait here while the returning clients' attaches go first.
        self.moves = Backlog(f"cluster-moves term {epoch}")
        self._handlers: dict[str, Callable[[Frame], None]] = {
            "attach": self._attach,
            "resume": self._resume,
            "mark": self._mark,
            "message": self._message,
            "detach": self._detach,
        }

    def open(self) -> int:
        """The switchboard is restored: handle the frames that came meanwhile, then each as it comes."""
        waiting, self.waiting = self.waiting or [], None
        for frame in waiting:
            self.on_frame("", frame)
        return len(waiting)

    def on_frame(self, _channel: str, frame: Frame) -> None:
        if self.waiting is not None:
            self.waiting.append(frame)
            return
        if frame.epoch != self.epoch or not self.holds():
            return  # meant for another term, or this node may not decide any more
        handler = self._handlers.get(frame.kind)
        if handler is None:
            log.warning("unknown frame %r from node %s", frame.kind, frame.node)
            return
        if frame.conn:  # its resume first, if it waits: what the connection hears keeps its order
            self.moves.promote((frame.node, frame.conn))
        handler(frame)

    def close(self) -> None:
        """The term ended: the resumes still waiting are the next leader's."""
        self.moves.clear()

    def nodes(self) -> set[str]:
        """The nodes whose connections this leader serves."""
        return {node for node, _ in self.remote}

    def node_gone(self, node: str) -> int:
        """A node stopped (its heartbeat ran out): its connections are gone as if each had dropped."""
        self.moves.drop_where(lambda key: isinstance(key, tuple) and key[0] == node)  # never registered
        gone = [key for key in self.remote if key[0] == node]
        for key in gone:
            self.board.detach(self.remote.pop(key))
        if gone:
            log.warning("node %s is gone: %d of its connections detached", node, len(gone))
        return len(gone)

    def missed(self, frames: list[Frame]) -> None:
        """Frames to other nodes' clients in a PUBLISH that failed (one that timed out under load may still
        have delivered part of its batch). Those connections may have missed anything, a call's end
        included: each is closed, so that it reconnects, resumes and asks what became of its call. The close
        goes out after ``CLOSE_AGAIN_S``, and again while its PUBLISH fails, until this term ends or the
        connection is gone (its node reaped, or it detached)."""
        missed = {(f.node, f.conn) for f in frames if f.kind in ("send", "close") and f.epoch == self.epoch}
        if missed:
            asyncio.get_running_loop().call_later(CLOSE_AGAIN_S, self._close, missed)

    def _close(self, keys: set[Key]) -> None:
        if not self.holds():
            return  # a deposed leader's clients are closed by their nodes
        for node, conn in keys:
            if (node, conn) in self.remote:
                self.publisher.publish(self.channels.node(node), Frame("close", self.epoch, node, conn))

    # ------------------------------------------------------------------ frames

    def _attach(self, frame: Frame) -> None:
        client = self._register(frame)
        client.send(self.board.attach(client))
        self.board.resume(client)

    def _resume(self, frame: Frame) -> None:
        """A connection of an older term, moved here without reconnecting: it has its welcome; it hears
        where its calls and its place stand, as a client that reconnected does, after the clients that
        wait for a welcome (``Backlog``)."""
        self.moves.add((frame.node, frame.conn), lambda: self._resume_now(frame))

    def _resume_now(self, frame: Frame) -> None:
        if not self.holds():
            return  # deposed meanwhile: the next leader resumes it
        principal = principal_from_json(frame.text)
        if self.board.superseded(principal.role, principal.identity):
            self._close_unknown(frame)  # the party came back on another connection meanwhile
            return
        client = self._register(frame, principal)
        self.board.reattach(client)
        self.board.resume(client)

    def _mark(self, frame: Frame) -> None:
        channel = self.channels.node(frame.node)
        self.publisher.publish(channel, Frame("marked", self.epoch, frame.node, "", frame.text))

    def _register(self, frame: Frame, principal: Principal | None = None) -> Client:
        key = (frame.node, frame.conn)
        principal = principal or principal_from_json(frame.text)
        channel = self.channels.node(frame.node)

        def send_raw(text: str) -> None:
            self.publisher.publish(channel, Frame("send", self.epoch, frame.node, frame.conn, text))

        def close() -> None:
            self.publisher.publish(channel, Frame("close", self.epoch, frame.node, frame.conn))

        client = Client(principal=principal, send_raw=send_raw, close=close)
        previous = self.remote.pop(key, None)
        if previous is not None:
            self.board.detach(previous)
        self.remote[key] = client
        self.on_attach(client)
        return client

    def _message(self, frame: Frame) -> None:
        client = self.remote.get((frame.node, frame.conn))
        if client is None:  # detached meanwhile (its node was taken for gone: a heartbeat late under load)
            self._close_unknown(frame)  # reconnects and attaches again, instead of talking to nobody
            return
        self.relayed += 1
        try:
            message = parse_guarded(lambda: self.parse(frame.text))
            self.board.handle(client, message, frame.text)
        except ProtocolError as exc:
            client.send(exc.to_message())
        except Exception:
            log.exception("%s: handling a relayed message failed", client.identity)
            client.send(p.Error(code=ErrorCode.INTERNAL, detail="the server could not handle that message"))

    def _close_unknown(self, frame: Frame) -> None:
        channel = self.channels.node(frame.node)
        self.publisher.publish(channel, Frame("close", self.epoch, frame.node, frame.conn))

    def _detach(self, frame: Frame) -> None:
        client = self.remote.pop((frame.node, frame.conn), None)
        if client is not None:
            self.board.detach(client)
