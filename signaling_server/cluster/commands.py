"""Actions on connections from any node: a follower's REST asks the leader over the bus and waits for its
answer.

Connections are reached through the leader's switchboard (a follower's own clients are ``Client``s of
the leader's, relayed). A remote kiosk action from the IT dashboard, ending a business session when its
invitation is revoked and a staff sign-out therefore run on the leader: on the leader (or a single node)
at once, on a follower as a *command* frame on ``<prefix>:commands`` (the leader of the frame's term
runs it) answered by a *reply* frame on ``<prefix>:replies:<node>``. No answer within
``COMMAND_TIMEOUT_S``, or no leader known: ``NoLeader``, which the REST handlers turn into 503 naming the
leader. The same subscription carries the leader's ``kiosks`` dashboard events to the followers
(``<prefix>:fleet-updates``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from signaling_server.appkeys import SWITCHBOARD
from signaling_server.cluster.bus import Frame, Subscriber
from signaling_server.monitor import MONITOR
from signaling_server.revocation import REVOCATIONS

if TYPE_CHECKING:
    from signaling_server.cluster.node import Node

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 5.0  # a leader answers in milliseconds; this is a lost leader (failover under way)

Handler = Callable[[web.Application, dict[str, Any]], dict[str, Any]]


class NoLeader(Exception):
    """The leader could not be asked, or did not answer; the message names it when one is known."""


# ---------------------------------------------------------------------- what runs on the leader


def _kiosk_action(app: web.Application, args: dict[str, Any]) -> dict[str, Any]:
    record = app[MONITOR].send_action(str(args["actor"]), str(args["kiosk_id"]), str(args["action"]))
    return {"record": record}


def _end_business(app: web.Application, args: dict[str, Any]) -> dict[str, Any]:
    app[SWITCHBOARD].end_business(str(args["identity"]), str(args["detail"]))
    return {}


def _end_session(app: web.Application, args: dict[str, Any]) -> dict[str, Any]:
    return {"closed": app[REVOCATIONS].end_session(app[SWITCHBOARD], str(args["token"]))}


HANDLERS: dict[str, Handler] = {
    "kiosk_action": _kiosk_action,
    "end_business": _end_business,
    "end_session": _end_session,
}


class ClusterDesk:
    """Commands and their replies, and the leader's kiosk updates, for one node."""

    def __init__(self, node: Node, app: web.Application, *, on_kiosks: Callable[[list[Any]], None]) -> None:
        self.node = node
        self.app = app
        self.on_kiosks = on_kiosks  # a follower's dashboards hear the leader's kiosk changes
        prefix = node.settings.key_prefix
        self.commands = f"{prefix}:commands"
        self.fleet_updates = f"{prefix}:fleet-updates"
        self.replies = f"{prefix}:replies:{node.node_id}"
        self.timeout_s = COMMAND_TIMEOUT_S
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._inbox = Subscriber(
            node._listen_redis,
            [self.commands, self.replies, self.fleet_updates],
            self._on_frame,
            on_error=lambda exc: None,  # the node's keeper reports Redis outages (degraded mode)
            name=f"cluster-desk {node.node_id}",
        )

    async def start(self) -> None:
        await self._inbox.start(timeout=self.node.settings.lease_ttl_s)

    async def stop(self) -> None:
        await self._inbox.stop()
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()

    # ------------------------------------------------------------------ asking

    async def run(self, kind: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run a command where the switchboard is: here when this node leads, else on the leader."""
        if self.node.leading:
            return HANDLERS[kind](self.app, args)
        leader = self.node.gateway.leader
        if leader is None:
            raise NoLeader("no switchboard is leading right now (failover or Redis unreachable); try again")
        request = f"{next(self._ids):x}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request] = future
        frame = Frame(kind, leader.epoch, self.node.node_id, request, json.dumps(args, ensure_ascii=False))
        self.node.publisher.publish(self.commands, frame)
        try:
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            raise NoLeader(f"the switchboard leader {leader.node} did not answer; try again") from None
        finally:
            self._waiting.pop(request, None)

    def kiosks_changed(self, kiosks: list[dict[str, Any]]) -> None:
        """On the leader: the kiosks whose health changed, for the followers' dashboards."""
        epoch = self.node.gateway.leader.epoch if self.node.gateway.leader is not None else 0
        text = json.dumps(kiosks, ensure_ascii=False, separators=(",", ":"))
        self.node.publisher.publish(self.fleet_updates, Frame("kiosks", epoch, self.node.node_id, "", text))

    # ------------------------------------------------------------------ hearing

    def _on_frame(self, channel: str, frame: Frame) -> None:
        if channel == self.commands:
            self._command(frame)
        elif channel == self.replies:
            future = self._waiting.get(frame.conn)
            if future is not None and not future.done():
                future.set_result(json.loads(frame.text))
        elif channel == self.fleet_updates and frame.node != self.node.node_id and not self.node.leading:
            self.on_kiosks(json.loads(frame.text))

    def _command(self, frame: Frame) -> None:
        leader = self.node.gateway.leader
        if not self.node.leading or leader is None or frame.epoch != leader.epoch:
            return  # another term's, or this node does not decide: the asker times out and says so
        handler = HANDLERS.get(frame.kind)
        if handler is None:
            log.warning("unknown command %r from node %s", frame.kind, frame.node)
            return
        try:
            result = handler(self.app, json.loads(frame.text))
        except Exception:
            log.exception("command %s from node %s failed", frame.kind, frame.node)
            result = {"error": f"the command {frame.kind} failed on the leader"}
        reply = Frame(
            "reply", frame.epoch, self.node.node_id, frame.conn, json.dumps(result, ensure_ascii=False)
        )
        self.node.publisher.publish(f"{self.node.settings.key_prefix}:replies:{frame.node}", reply)


DESK = web.AppKey("cluster_desk", ClusterDesk)


async def on_leader(app: web.Application, kind: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run a command on the switchboard: this process's (a single node) or the leader's (``NoLeader``)."""
    desk = app.get(DESK)
    if desk is None:
        return HANDLERS[kind](app, args)
    return await desk.run(kind, args)
