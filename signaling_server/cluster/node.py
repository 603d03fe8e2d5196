"""One node of several: the lease keeper, the bus, and the switchboard while this node leads.

Every node serves websockets and REST; exactly one, the lease holder, runs the switchboard (router, calls,
timers). The keeper wakes every ``ttl/3``: the leader renews its lease (and stops deciding at once if it
cannot), a follower tries to take it. The heartbeat key and the leader's renewals are also kept from a
thread (``heartbeat.py``) while the event loop turns, so that a loop busy for seconds keeps its lease; a
follower's thread takes a dead leader's lease as it runs out, and the keeper takes over at its next turn.
A node that takes the lease restores the switchboard from the shared store exactly as after a restart and
tells every node; each node then moves the connections attached under the old term to the new leader
without closing them (``Gateway.repoint``: the leader resumes them as if they had reconnected), once the new
leader listens. Only the dead node's clients, and a connection whose last request the old leader never
confirmed, reconnect. docs/deployment-cluster.md.

A leader that loses its lease while alive (Redis restarted, a partition) stands its switchboard down without
saving anything, drops its memory (``Switchboard.forget``: what it remembered is older than what the new
leader writes) and serves on as a follower; when it wins a lease again it restores from the database like
any new leader, but not within a TTL of losing one (the others first: a node that lost its lease is likely
the loaded one). A node whose database is unreachable does not stand (it could not restore).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from config.schema import ClusterConfig
from remote_call import protocol as p
from remote_call.tasks import cancel_and_wait
from signaling_server.appkeys import CONFIG, SWITCHBOARD
from signaling_server.cluster.bus import Channels, Frame, Publisher, Subscriber
from signaling_server.cluster.degraded import RedisWatch, redis_client
from signaling_server.cluster.gateway import Gateway
from signaling_server.cluster.heartbeat import ALIVE_TTLS, Heartbeat
from signaling_server.cluster.lease import Holder, Lease, LeaseTerm
from signaling_server.cluster.node_metrics import NodeMetrics
from signaling_server.cluster.relay import LeaderDesk
from signaling_server.cluster.sharing import NodeFigures, setup_every_node
from signaling_server.cluster.wide_reads import with_wide_reads
from signaling_server.db import DatabaseUnavailable
from signaling_server.drain import DRAIN
from signaling_server.monitor import MONITOR, Monitor
from signaling_server.revocation import REVOCATIONS
from signaling_server.switchboard import Client, Switchboard

log = logging.getLogger(__name__)

# How far back a new leader repeats a call's end to its parties (``Switchboard.recall_ended``): the old
# leader decides while its lease holds (a TTL after its last renewal) and its loop may have held unsent
# messages for up to 4 TTLs before that (``heartbeat.py``); the rest is margin for the nodes' clocks.
RECALL_TTLS = 8
LISTENING = "listening"  # a new leader's control frame, once its inbox is subscribed
# How long a connection whose attach reached nobody waits for the next leader (``Gateway.held``): a new term
# within a TTL and a beat of a leader's death, then its restore (about 1 s at 3,000 calls here).
HOLD_TTLS = 3
# Nobody holding the lease this long, not just between a lease running out and the next take: a follower
# closing its 8,300 connections then (20,000 kiosks) sent them to a survivor out of descriptors, 409 lost.
LEADERLESS_TTLS = 2


class Node:
    def __init__(
        self,
        settings: ClusterConfig,
        board: Switchboard,
        *,
        parse: Callable[[str], p.AnyMessage],
        monitor: Monitor | None = None,
        on_attach: Callable[[Client], None] = lambda client: None,
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        self.settings = settings
        self.node_id = settings.node_id
        self.board = board
        self.parse = parse
        self.monitor = monitor
        self.on_attach = on_attach  # a relayed client, on the leader (revocations)
        self.redis_watch = RedisWatch(self.node_id, monitor)  # degraded mode: up or not, since, alert
        self._redis_failed = self.redis_watch.failed
        self.figures = NodeFigures(draining)  # in its heartbeat key: the IT dashboard lists every node
        self.redis = redis_client(settings.redis_url, settings.lease_ttl_s)
        listen = functools.partial(redis_client, settings.redis_url, settings.lease_ttl_s, timeout=False)
        self._listen_redis = with_wide_reads(listen())  # a batch of several MB in a few turns of the loop
        self._term_redis = with_wide_reads(listen())  # a term's inbox: its connection opened in advance
        self.lease = Lease(self.redis, self.node_id, ttl_s=settings.lease_ttl_s, prefix=settings.key_prefix)
        self.channels = channels = Channels(settings.key_prefix)
        self.publisher = Publisher(
            self.redis, on_unheard=self._unheard, on_error=self._redis_failed, on_failed=self._failed,
            on_nobody=functools.partial(self._unheard, nobody=True),
        )  # fmt: skip
        self.heartbeat = Heartbeat(  # from a thread: a busy loop keeps its lease and hears of a new leader
            settings.redis_url,
            self.lease,
            alive_key=self._alive_key,
            on_lost=self._lost,
            on_listening=self._led_by,
            leader_channel=channels.leader,
            may_take=self._may_take,
            on_taken=lambda term: self._wake.set(),
        )
        self.gateway = Gateway(
            self.node_id, board, self.publisher, channels,
            holds=self.lease.holds, hold_s=HOLD_TTLS * settings.lease_ttl_s,
        )  # fmt: skip
        self._inbox = Subscriber(
            self._listen_redis,
            [channels.node(self.node_id), channels.control],
            self._on_frame,
            on_error=self._redis_failed,
            on_lost=self._inbox_lost,
            name=f"cluster-inbox {self.node_id}",
        )
        self.desk: LeaderDesk | None = None
        self._desk_inbox: Subscriber | None = None
        self._timers: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping: asyncio.Future[None] | None = None  # a deposed leader's inbox, being closed
        self._term_end: asyncio.TimerHandle | None = None
        self._stopped = False
        self.candidate = True  # may stand for the lease (while its database is reachable: ``may_lead``)
        self._deposed_at = float("-inf")
        self._leaderless_since: float | None = None  # when this node last found nobody holding the lease
        self.takeovers = 0
        self.terms_closed = 0  # connections closed because the leader's term changed (not moved)
        self.losses_closed = 0  # connections closed because Redis broke this node's subscription
        self.subscription_losses = 0
        self._resyncing: asyncio.Future[None] | None = None
        self._resigning: asyncio.Future[None] | None = None
        self._announcing: asyncio.Future[Any] | None = None  # a new term's "listening", once it is

    # ------------------------------------------------------------------ what the others read

    @property
    def leading(self) -> bool:
        return self.desk is not None and self.lease.holds()

    @property
    def redis_up(self) -> bool:
        return self.redis_watch.up

    @property
    def may_lead(self) -> bool:
        """Willing to stand for the lease, and its database reachable (a leader restores from it)."""
        return self.candidate and self.board.store.db.available

    def status(self) -> dict[str, Any]:
        leader = self.gateway.leader
        return {
            "node": self.node_id,
            "leader": self.leading,
            "leader_node": leader.node if leader is not None else None,
            "epoch": leader.epoch if leader is not None else None,
            "redis": "up" if self.redis_up else "down",
            "candidate": self.may_lead,
            "connections": self.gateway.counts(),
        }

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        """Listening, and leading or following, once this returns (when Redis answers)."""
        self.publisher.start()
        await self._inbox.start(timeout=self.settings.lease_ttl_s)  # or on: degraded until Redis answers
        await self._warm_listener()
        await self._beat()
        self.heartbeat.start(asyncio.get_running_loop())
        self._keeper = asyncio.create_task(self._keep(), name=f"cluster-keeper {self.node_id}")

    async def stop(self) -> None:
        """Clean stop: a leader saves the queue, gives the lease up and tells the others at once."""
        if self._stopped:
            return  # once: on shutdown (app._close_sockets) and again as the cleanup context ends
        self._stopped = True
        self._wake.set()
        if self._keeper is not None:
            await cancel_and_wait(self._keeper)
            self._keeper = None
        if self._term_end is not None:
            self._term_end.cancel()
            self._term_end = None
        self.heartbeat.leading = False
        await self.heartbeat.stop()
        for pending in (self._resigning, self._resyncing):  # after a broken subscription (errors handled)
            if pending is not None:
                await pending
        if self.leading:
            epoch = self.lease.term.holder.epoch if self.lease.term else 0
            self.board.shutdown()  # saves the queue: what the next leader restores
            await self._stop_desk()
            with contextlib.suppress(RedisError, OSError):
                await self.lease.release()
                self.publisher.publish(self.channels.control, Frame("resign", epoch, self.node_id, ""))
                await self.publisher.flush()
        elif self.lease.term is not None:  # taken by the heartbeat thread, never taken over
            with contextlib.suppress(RedisError, OSError):
                await self.lease.release()
        await self._stop_desk()
        await self._inbox.stop()
        await self.publisher.stop()
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(self._alive_key)
        await self.redis.aclose()
        await self._listen_redis.aclose()
        await self._term_redis.aclose()

    @property
    def _alive_key(self) -> str:
        return f"{self.settings.key_prefix}:alive:{self.node_id}"

    async def _keep(self) -> None:
        period = self.settings.lease_ttl_s / 3
        # Ends on the flag too: a cancellation that lands inside a Redis command can be absorbed by the
        # client library (seen: stop() waiting for ever on a keeper still "cancelling").
        while not self._stopped:
            self._wake.clear()
            waiter = asyncio.ensure_future(self._wake.wait())  # sooner than the period: told of a new term
            try:
                if not self._taken_by_thread():
                    await asyncio.wait({waiter}, timeout=self.lease.retry_in(period))
            finally:
                waiter.cancel()
            if not self._stopped:
                await self._beat()

    async def _beat(self) -> None:
        try:
            await self._step()
            if self.redis_watch.back():  # reachable again: the pool's connections were closed meanwhile
                await self._warm_listener()
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)
            # Nobody known to lead (relayed messages would be lost) once Redis has failed for a whole TTL
            # (no term outlives that): not at the first time-out, which a busy loop alone can cause.
            if self.desk is None and self.redis_watch.down_s() >= self.settings.lease_ttl_s:
                self._follow(None)
        if self.desk is not None and not self.lease.holds():
            self._depose("its lease could not be renewed in time")
        self.gateway.expire_held()

    async def _step(self) -> None:
        term = self.lease.term
        if self._taken_by_thread() and term is not None:  # first: no Redis round trip before the restore
            if self.may_lead:
                await self._take_over(term.holder)
            else:  # stood down since (drained, database lost)
                self.heartbeat.leading = False
                await self.lease.release(term)
            return
        ttl_ms = self.lease.ttl_ms
        self.heartbeat.figures = self.figures.encode(self.status())
        await self.redis.set(self._alive_key, self.heartbeat.figures, px=ALIVE_TTLS * ttl_ms)
        if self.desk is not None:
            if await self.lease.renew():
                self._arm_term_end()
                await self._reap_nodes()
            else:
                self._depose("another node holds the lease")
            return
        if self.may_lead and time.monotonic() - self._deposed_at >= self.settings.lease_ttl_s:
            term = await self.lease.acquire()
            if term is not None:
                await self._take_over(term.holder)
                return
        self._follow(await self.lease.holder())
        await self._catch_up()

    def _may_take(self) -> bool:
        """Asked from the heartbeat thread: whether it may take a free lease for this node."""
        if self._stopped or self.desk is not None or self.lease.term is not None or not self.may_lead:
            return False
        return time.monotonic() - self._deposed_at >= self.settings.lease_ttl_s  # the others' turn first

    def _taken_by_thread(self) -> bool:  # (``Heartbeat._take``) and the keeper has not taken over yet
        return self.desk is None and self.lease.term is not None

    def _follow(self, holder: Holder | None) -> None:
        term = self.lease.term
        if holder is None:
            self._nobody_leads()
            return
        self._leaderless_since = None
        if holder == self.gateway.leader or (self._taken_by_thread() and term and term.holder == holder):
            return  # (its own term, taken by the heartbeat thread: the keeper takes over)
        log.warning("node %s: the switchboard leader is now %s", self.node_id, holder)
        self.gateway.leader = holder

    def _nobody_leads(self) -> None:
        """Nobody holds the lease: for ``LEADERLESS_TTLS`` the connections stay under the old term (held,
        kept) to move when the next leader listens; then they reconnect until somebody leads."""
        now = time.monotonic()
        if self._leaderless_since is None:
            self._leaderless_since = now
        waited = now - self._leaderless_since
        if self.gateway.leader is None or waited < LEADERLESS_TTLS * self.settings.lease_ttl_s:
            return
        log.warning("node %s: the switchboard leader is now nobody (for %.1f s)", self.node_id, waited)
        self.gateway.leader = None
        self.terms_closed += self.gateway.close_other_terms()

    async def _catch_up(self) -> None:
        """Move the connections of an older term, and attach the held ones, once the leader listens (it
        subscribes as it takes the lease, before its restore): a frame published before reaches nobody."""
        leader = self.gateway.leader
        if leader is None or self.desk is not None or not (self.gateway.stale() or self.gateway.held):
            return
        listening = await self.redis.pubsub_numsub(self.channels.leader(leader.epoch))
        if listening and listening[0][1]:
            self._move_to(leader, "at a beat")

    async def _reap_nodes(self) -> None:
        """The leader detaches the connections of nodes whose heartbeat key ran out (killed, cut off)."""
        assert self.desk is not None
        prefix = self.settings.key_prefix
        for node in self.desk.nodes():
            if not await self.redis.exists(f"{prefix}:alive:{node}"):
                self.desk.node_gone(node)

    # ------------------------------------------------------------------ terms

    async def _take_over(self, holder: Holder) -> None:
        log.warning(
            "node %s leads the switchboard (term %d): restoring from the store", self.node_id, holder.epoch
        )
        self.heartbeat.leading = True  # renewed from the thread while a large restore holds the loop
        began = time.monotonic()
        # Listening first: the others move their connections (and attach the clients they hold) while this
        # node restores, the desk keeping their frames in order. Subscribed after the restore (20,000 kiosks)
        # a leader listened up to 2.8 s later, and its follower moved 3 s after that (docs/performance.md).
        desk, inbox = self._leader_inbox(holder)
        await inbox.start(timeout=self.settings.lease_ttl_s / 3, at_once=True)  # unheard before: held, closed
        listening = time.monotonic()
        try:
            self.board.restore()
        except DatabaseUnavailable as exc:  # lost since ``may_lead`` was asked: give the term back
            log.error(
                "node %s cannot restore the switchboard (%s): the lease is given back", self.node_id, exc
            )
            self.heartbeat.leading = False
            self.board.forget()
            await inbox.stop()  # the frames it kept are dropped: their clients' requests go unconfirmed
            await self.lease.release()
            return
        self.board.recall_ended(since=time.time() - RECALL_TTLS * self.settings.lease_ttl_s)
        self.gateway.leader = holder
        self.desk, self._desk_inbox = desk, inbox
        restored = time.monotonic()
        self._move_to(holder, "as it took the lead")  # its relayed connections, now on its own switchboard
        log.warning(
            "node %s term %d: listening in %.2f s, %d calls restored in %.2f s, %d frames kept meanwhile",
            *(self.node_id, holder.epoch, listening - began, len(self.board.calls), restored - listening),
            desk.open(),
        )
        self._timers = asyncio.create_task(self.board.run_timers(), name="router-timers")
        # The restore took time on this node's clock (on a loaded machine most of a 1.5 s term: the chaos
        # test saw terms lost before their first renewal, a period later): renew now.
        if not await self.lease.renew():
            self._depose("the lease was taken while it restored")
            return
        self._arm_term_end()
        self.takeovers += 1
        self.publisher.publish(self.channels.control, Frame("leader", holder.epoch, self.node_id, ""))
        # Once it listens, the others move their connections here at once (``_led_by``).
        announcing = asyncio.ensure_future(inbox.ready.wait())
        announcing.add_done_callback(lambda waited: self._announce(holder, waited))
        self._announcing = announcing

    def _leader_inbox(self, holder: Holder) -> tuple[LeaderDesk, Subscriber]:
        """The desk for the other nodes' frames of term ``holder.epoch``, and its subscription (unstarted)."""
        desk = LeaderDesk(
            self.board, self.publisher, self.channels, epoch=holder.epoch, parse=self.parse,
            holds=self.lease.holds, on_attach=self.on_attach,
        )  # fmt: skip
        inbox = Subscriber(
            self._term_redis,
            [self.channels.leader(holder.epoch)],
            desk.on_frame,
            on_error=self._redis_failed,
            on_lost=self._desk_inbox_lost,
            name=f"cluster-leader {self.node_id}",
        )
        return desk, inbox

    def _announce(self, holder: Holder, waited: asyncio.Future[Any]) -> None:
        if not waited.cancelled() and self.desk is not None and self.lease.holds():
            listening = Frame("leader", holder.epoch, self.node_id, "", LISTENING)
            self.publisher.publish(self.channels.control, listening)

    def _arm_term_end(self) -> None:
        """Depose this node the moment its term runs out on its clock, not at the keeper's next beat: the
        switchboard's own timers (offer time-outs, grace ends) must not decide a moment longer."""
        if self._term_end is not None:
            self._term_end.cancel()
        term = self.lease.term
        if term is not None:
            delay = max(0.0, term.valid_until - self.lease.clock())
            self._term_end = asyncio.get_running_loop().call_later(delay, self._term_ran_out)

    def _term_ran_out(self) -> None:
        self._term_end = None
        if self.desk is not None and not self.lease.holds():
            self._depose("its lease ran out before it could be renewed")
        elif self.desk is not None:
            self._arm_term_end()  # renewed meanwhile by the heartbeat thread

    def _lost(self, reason: str) -> None:
        """The heartbeat thread was refused a renewal: depose now, not at the keeper's next beat."""
        if self.desk is not None and not self.lease.holds():
            self._depose(reason)
        elif self.desk is None and self.lease.term is None:  # taken by the thread, refused before a take-over
            self.heartbeat.leading = False

    def _depose(self, reason: str) -> None:
        """Stop deciding at once: nothing more is decided, saved or sent by this node's switchboard."""
        log.error("node %s stops leading: %s; serving on as a follower", self.node_id, reason)
        self.lease.lose()
        self.heartbeat.leading = False
        self._deposed_at = time.monotonic()  # stands again only after a TTL: the others' turn first
        if self._term_end is not None:
            self._term_end.cancel()
            self._term_end = None
        self.board.stand_down()
        self.board.forget()  # older than what the new leader writes: restored afresh if it leads again
        if self._timers is not None:
            self._timers.cancel()
            self._timers = None
        if self.desk is not None:
            self.desk.close()  # the moves it kept are the next leader's
        self.desk = None
        if self._desk_inbox is not None:
            self._stopping = asyncio.ensure_future(self._stop_inbox(self._desk_inbox))
            self._desk_inbox = None
        self.gateway.leader = None
        self.terms_closed += self.gateway.close_other_terms()
        self._wake.set()

    async def _stop_inbox(self, inbox: Subscriber) -> None:
        await inbox.stop()
        await self._warm_listener()  # its connection was closed: another, for the next term's inbox

    async def _warm_listener(self) -> None:
        """An idle connection for the next term's inbox: opening one (connect, handshake: each behind a turn
        of a loop busy with a dead node's clients) held a new leader's restore back 1.57 s (20,000 kiosks)."""
        with contextlib.suppress(RedisError, OSError):
            await self._term_redis.ping()

    async def _stop_desk(self) -> None:
        if self.desk is not None:
            self.desk.close()  # the moves it kept are the next leader's
        self.desk = None
        if self._announcing is not None:
            self._announcing.cancel()
            self._announcing = None
        if self._timers is not None:
            await cancel_and_wait(self._timers)
            self._timers = None
        if self._desk_inbox is not None:
            await self._desk_inbox.stop()
            self._desk_inbox = None

    # ------------------------------------------------------------------ the bus

    def _on_frame(self, channel: str, frame: Frame) -> None:
        if channel == self.channels.control:
            if frame.node != self.node_id:
                self._wake.set()  # a new term or a resignation: look at the lease now
                if frame.kind == "leader" and frame.text == LISTENING:
                    self._led_by(Holder(frame.node, frame.epoch))
            return
        self.gateway.on_frame(channel, frame)

    def _led_by(self, holder: Holder) -> None:
        """A new leader says it listens: this follower moves its connections to it now. At its keeper's
        next beat (three Redis round trips on a loop serving 13,000 clients) they moved 2-4 s later, and the
        held clients' welcomes with them (20,000 kiosks, docs/performance.md). The beat still checks the
        lease: a leader deposed since is found there, as before. The heartbeat thread tells it too, which
        no busy turn delays (``Heartbeat._watch_leader``)."""
        known = self.gateway.leader
        if self._stopped or self.desk is not None or (known is not None and known.epoch > holder.epoch):
            return  # stopping, this node leads, or it already follows a newer term
        self._follow(holder)
        if self.gateway.stale() or self.gateway.held:
            self._move_to(holder, "as told")

    def _move_to(self, leader: Holder, when: str) -> None:
        held, moved, began = len(self.gateway.held), self.gateway.repointed, time.monotonic()
        replayed = self.gateway.replayed
        self.terms_closed += self.gateway.repoint()
        moved, took = self.gateway.repointed - moved, time.monotonic() - began
        replayed = self.gateway.replayed - replayed
        log.warning(
            "node %s: %d held attached and %d connections moved to term %d %s, in %.2f s (%d of them asking"
            " again what had reached nobody)",
            *(self.node_id, held, moved, leader.epoch, when, took, replayed),
        )

    def _unheard(self, channel: str, frames: list[Frame], *, nobody: bool = False) -> None:
        if self.channels.is_leader(channel) and any(f.kind != "mark" for f in frames):
            self.gateway.unheard(frames, nobody=nobody)
            self._wake.set()

    def _failed(self, channel: str, frames: list[Frame]) -> None:
        """A PUBLISH failed (a time-out under load: the 14,000-kiosk run saw eight in a minute). Frames to
        another node's clients may be lost, and nobody else knows: the leader has those connections closed.
        (Frames nobody heard need no more: that node is gone, or closes its relayed connections when it
        listens again, ``_inbox_lost``.)"""
        if self.desk is not None and not self.channels.is_leader(channel):
            self.desk.missed(frames)

    def _inbox_lost(self) -> None:
        """This node listens again after Redis broke its subscription (a restart, or a reader that lagged
        behind Redis's output buffer limit: seen at 14,000 kiosks): what the leader sent its clients
        meanwhile is lost, call ends included."""
        self.subscription_losses += 1
        if self.desk is None:
            self._resyncing = asyncio.ensure_future(self._close_missed())

    async def _close_missed(self) -> None:
        """Close the relayed connections of the term that leads now: they reconnect now that their welcome
        can be heard, resume, and ask what became of their calls (``sync_call``). After a Redis restart the
        lead has usually changed: connections of the older term then move instead (their new leader's resume
        tells them again, ended calls included), rather than all reconnecting at once."""
        try:
            holder = await self.lease.holder()
        except (RedisError, OSError):
            holder = self.gateway.leader  # unknown now: the term this node knows
        if self.desk is not None or holder is None:
            return  # took the lead meanwhile, or nobody leads yet: the keeper moves or closes them
        self._follow(holder)  # before: a new term's connections were closed, then told to move
        closed = self.gateway.close_relayed(holder.epoch)
        self.losses_closed += closed
        log.error(
            "node %s: Redis broke its subscription, frames to its clients may be lost: %d relayed "
            "connection(s) of term %d closed to reconnect and resume",
            self.node_id,
            closed,
            holder.epoch,
        )

    def _desk_inbox_lost(self) -> None:
        """The leader listens again after Redis broke its subscription: the other nodes' frames in it were
        lost, and a ``marked`` answered now would confirm requests never handled. It resigns before it reads
        another frame: the next leader moves the other nodes' connections, closing those with a request this
        term did not confirm (every mark answered before the break followed frames all handled: one
        channel, in order)."""
        self.subscription_losses += 1
        term = self.lease.term
        if self.desk is None or term is None:
            return
        self._depose("Redis broke its subscription to the other nodes' frames (some may be lost)")
        self._resigning = asyncio.ensure_future(self._give_up(term))

    async def _give_up(self, term: LeaseTerm) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.lease.release(term)
            resign = Frame("resign", term.holder.epoch, self.node_id, "")
            self.publisher.publish(self.channels.control, resign)


CLUSTER = web.AppKey("cluster", Node)


def setup_cluster(app: web.Application, parse: Callable[[str], p.AnyMessage]) -> None:
    """Call after the switchboard's cleanup context (the node needs the switchboard)."""
    app.cleanup_ctx.append(lambda app: _node_ctx(app, parse))
    setup_every_node(app, lambda: app.get(CLUSTER))  # followers serve the leader's view (sharing.py)


async def _node_ctx(app: web.Application, parse: Callable[[str], p.AnyMessage]) -> AsyncIterator[None]:
    settings = app[CONFIG].server.cluster
    assert settings is not None
    monitor = app.get(MONITOR)
    revocations = app.get(REVOCATIONS)
    node = Node(
        settings,
        app[SWITCHBOARD],
        parse=parse,
        monitor=monitor,
        on_attach=revocations.relayed if revocations is not None else lambda client: None,
        draining=lambda: app[DRAIN].draining,
    )
    app[CLUSTER] = node
    if monitor is not None:
        monitor.metrics.registry.register(NodeMetrics(node))
    await node.start()
    yield
    await node.stop()


def cluster_status(app: web.Application) -> dict[str, Any]:
    """For /healthz: which node answered and whether it leads (empty on a single node)."""
    node = app.get(CLUSTER)
    return {"cluster": node.status()} if node is not None else {}
