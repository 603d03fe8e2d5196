"""The switchboard: what the app and the tests use. It builds its parts in order, each with every
collaborator it needs, and fires the edge's deadlines."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from config.schema import AppConfig
from remote_call import protocol as p
from remote_call.protocol import Role
from signaling_server.audit import AuditLog
from signaling_server.audit_batch import AuditBatch
from signaling_server.routing import CheckInDesk, Decision, Router
from signaling_server.routing.interpreters import InterpreterPool
from signaling_server.routing.interpreters_snapshot import SNAPSHOT_KEY, InterpreterSnapshot
from signaling_server.store import Store
from signaling_server.switchboard.call_table import CallTable
from signaling_server.switchboard.commands import Commands
from signaling_server.switchboard.conference import Conference
from signaling_server.switchboard.directory import Directory
from signaling_server.switchboard.effects import Effects
from signaling_server.switchboard.guests import AUDIT_ACTIONS as GUEST_AUDIT_ACTIONS
from signaling_server.switchboard.guests import GuestRoom
from signaling_server.switchboard.observers import Events, Listener, Monitor
from signaling_server.switchboard.positions import PositionBatcher
from signaling_server.switchboard.presence import Presence
from signaling_server.switchboard.restore import recent_ends, restore_calls
from signaling_server.switchboard.roster import Client, Roster, caller_role
from signaling_server.switchboard.save_cadence import SaveCadence
from signaling_server.switchboard.staff import StaffUpdates
from signaling_server.switchboard.timers import (
    CheckSessions,
    EdgeTimers,
    FlushPositions,
    GraceEnds,
    PushStats,
    SetupTimeout,
)

log = logging.getLogger(__name__)

# The edge's deadlines fired in one tick, at most. When a leader dies its clients' reconnect graces start
# within a second of each other on the new leader and end together 20 s later: 8,000 calls' ends in one
# tick, each record written on the loop, left a new leader's loop silent for 12.3 s (20,000-kiosk run AC,
# docs/performance.md), its lease lost. Measured here (2,000 calls in progress, their kiosks' graces ending
# together, another process writing the SQLite file 500 times a second as the other nodes do): 0.61 ms a
# grace's end with each record its own transaction, 0.23 ms with a slice's in one batch; a slice of 250
# holds the loop (and the file's lock) about 60 ms.
EDGE_SLICE = 250

# Audit actions besides audit.AuditAction: the case documents officers save (signaling_server.case_routes)
# and the business counter's invitations (signaling_server.business.routes).
AUDIT_ACTIONS = (
    "document_opened",
    "documents_purged",
    "document_received",
    "business_invitation_created",
    "business_invitation_revoked",
    "business_mail_failed",
    "business_code_sent",
    "business_link_redeemed",
    "business_link_refused",
    # appointments (signaling_server.appointments): bookings, check-ins, no-shows, slots, PIN failures
    "appointment_booked",
    "appointment_cancelled",
    "appointment_rescheduled",
    "appointment_checked_in",
    "appointment_no_show",
    "appointment_served",
    "appointment_reminded",
    "appointment_notified",  # a resident e-mailed that the hours changed under the booking
    "appointment_slots_changed",
    "appointment_pin_failed",
    # a third party in a call (signaling_server.switchboard.conference)
    "interpreter_requested",
    "interpreter_joined",
    "interpreter_left",
    # external interpreters' invitations (signaling_server.interpreter_routes)
    "interpreter_invitation_created",
    "interpreter_invitation_revoked",
    "interpreter_link_redeemed",
    "interpreter_link_refused",
    *GUEST_AUDIT_ACTIONS,  # a family member by link (signaling_server.switchboard.guests)
)


class Switchboard:
    """Connected clients, live calls, and the edge that applies the router's decisions.

    Every event (a message, a disconnect, a deadline) goes to the router; the decisions it returns are
    applied: call states move, messages are sent, records are saved. Nothing here blocks; with a fake
    clock and ``tick()`` it runs without an event loop timer.
    """

    # The interpreter pool's part of the queue snapshot as last saved (replaced, never changed in place).
    _interpreters_saved: dict[str, Any] = InterpreterSnapshot().to_json()

    def __init__(
        self,
        config: AppConfig,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        router: Router | None = None,
        audit: AuditLog | None = None,
        monitor: Monitor | None = None,
        listeners: Iterable[Listener] = (),
        session_valid: Callable[[str], bool] | None = None,
        appointments: CheckInDesk | None = None,
        interpreters: InterpreterPool | None = None,
        cost_clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """Without ``router``, ``audit`` or ``interpreters``, the ones the server builds: the router from
        the config, the audit log in the store's database, an ``InterpreterPool`` with default timings.
        ``cost_clock`` times the queue's saves (``save_cadence``)."""
        self.config = config
        self.store = store
        self.audit = audit if audit is not None else AuditLog(store.conn, extra_actions=AUDIT_ACTIONS)
        self.audit_later = AuditBatch(self.audit)  # sign-ins, calls started and ended: a turn at a time
        self.clock = clock
        self._cost_clock = cost_clock
        self.monitor = monitor
        # What the parts are built from, again when a deposed leader forgets (``forget``).
        self._listeners = tuple(listeners)
        self._session_valid = session_valid
        self._appointments = appointments
        self._build(
            router if router is not None else Router.from_config(config, clock=clock),
            interpreters or InterpreterPool(clock=clock),
        )

    def _build(self, router: Router, pool: InterpreterPool) -> None:
        """Every part that remembers, new and empty: the router, the live calls, the roster, the timers,
        the third parties, and the parts that apply decisions to them."""
        config, store, audit, monitor = self.config, self.store, self.audit, self.monitor
        listeners, session_valid, appointments = self._listeners, self._session_valid, self._appointments
        self.router = router
        self.calls = CallTable()  # a dict, with each party's calls indexed (call_table.py)
        self.roster = roster = Roster()
        self._timers = timers = EdgeTimers(self.clock)
        directory, conference = self._third_parties(pool, timers)
        guests = self._guest_room(directory)
        self.events = events = Events([*listeners, conference.on_event, guests.on_event])
        positions = PositionBatcher(self.calls, roster, timers)
        self._effects = effects = Effects(
            router=router,
            store=store,
            audit=self.audit_later,
            calls=self.calls,
            roster=roster,
            directory=directory,
            positions=positions,
            timers=timers,
            events=events,
            setup_timeout_s=config.server.setup_timeout_s,
            ice_transport_policy=config.ice_transport_policy,
        )
        self._presence = presence = Presence(
            router=router,
            store=store,
            calls=self.calls,
            roster=roster,
            directory=directory,
            effects=effects,
            positions=positions,
            timers=timers,
            events=events,
            monitor=monitor,
            reconnect_grace_s=config.server.reconnect_grace_s,
            delivered_after_s=config.server.ws_heartbeat_s * 1.5,
        )
        self._staff = staff = StaffUpdates(
            roster=roster, directory=directory, presence=presence, timers=timers, session_valid=session_valid
        )
        self._commands = Commands(
            router=router,
            store=store,
            audit=audit,
            calls=self.calls,
            roster=roster,
            directory=directory,
            effects=effects,
            presence=presence,
            events=events,
            monitor=monitor,
            appointments=appointments,
            conference=conference,
            guests=guests,
        )
        self._fire = self._deadline_table(effects, presence, positions, staff)
        # Called for every message a client sends: bound once, not looked up through a method each time.
        self.handle = self._commands.handle
        self._interpreters_saved = InterpreterSnapshot().to_json()
        self._save_cadence = SaveCadence()
        self._closing = False

    def forget(self) -> None:
        """Drop everything this switchboard remembers (a deposed leader, signaling_server.cluster): every
        part new and empty, as a new server's; ``restore`` loads what the database holds when this node
        leads again. The router is built from the configuration, the interpreter pool with its defaults."""
        self._build(Router.from_config(self.config, clock=self.clock), InterpreterPool(clock=self.clock))

    @staticmethod
    def _deadline_table(
        effects: Effects, presence: Presence, positions: PositionBatcher, staff: StaffUpdates
    ) -> dict[type, Callable[[Any], None]]:
        """What each of the edge's deadlines does when it falls due."""
        return {
            SetupTimeout: effects.setup_expired,
            GraceEnds: presence.grace_ended,
            FlushPositions: positions.flush,
            PushStats: staff.stats_due,
            CheckSessions: staff.sessions_due,
        }

    def _third_parties(self, pool: InterpreterPool, timers: EdgeTimers) -> tuple[Directory, Conference]:
        """The directory (whose statistics include the interpreter pool's) and the conference layer that
        runs interpreters in calls (issue 18)."""
        self.interpreters = pool
        config, clock = self.config, self.clock
        router, store = self.router, self.store
        self.directory = Directory(config, router, clock, calls=self.calls, store=store, interpreters=pool)
        self.conference = Conference(
            pool=pool,
            store=store,
            audit=self.audit,
            calls=self.calls,
            roster=self.roster,
            directory=self.directory,
            timers=timers,
            reconnect_grace_s=config.server.reconnect_grace_s,
            ice_transport_policy=config.ice_transport_policy,
        )
        return self.directory, self.conference

    def _guest_room(self, directory: Directory) -> GuestRoom:
        """A family member by link (issue 18, docs/guests.md): the fourth party."""
        self.guests = GuestRoom(
            calls=self.calls,
            store=self.store,
            roster=self.roster,
            directory=directory,
            audit=self.audit,
            clock=self.clock,
            ice_transport_policy=self.config.ice_transport_policy,
        )
        return self.guests

    # ------------------------------------------------------------------ who is connected

    @property
    def kiosks(self) -> dict[str, Client]:
        return self.roster.kiosks

    @property
    def officers(self) -> dict[str, Client]:
        return self.roster.officers

    @property
    def watchers(self) -> set[Client]:
        return self.roster.watchers

    @property
    def listeners(self) -> tuple[Listener, ...]:
        return self.events.listeners

    def attach(self, client: Client) -> p.Welcome:
        """Register an authenticated client; its welcome, to be queued before ``resume(client)``."""
        if client.role is Role.INTERPRETER:
            return self.conference.attach(client)
        if client.role is Role.GUEST:
            return self.guests.attach(client)
        return self._presence.attach(client)

    def reattach(self, client: Client) -> None:
        """``attach`` for a connection that has its welcome (moved from an older term, not reconnected)."""
        if client.role in (Role.INTERPRETER, Role.GUEST):
            self.attach(client)  # a handful at most: their welcome is built and not sent
            return
        self._presence.register(client)

    def superseded(self, role: Role, identity: str) -> bool:
        """Whether a call party has a connection attached now: a moved connection of the same party that
        waited its turn (``cluster/backlog.py``) is the older one."""
        if role not in (Role.KIOSK, Role.BUSINESS, Role.OFFICER):
            return False  # supervisors and IT administrators may watch from several places
        return identity in self.roster.registry(role)

    def resume(self, client: Client) -> None:
        """After the welcome: what the client must hear now (a waiting ring, where its calls stand)."""
        if client.role is Role.INTERPRETER:
            self.conference.resume(client)
            return
        if client.role is Role.GUEST:
            self.guests.resume(client)
            return
        self._presence.resume(client)
        client.told = set(client.calls)
        self.conference.tell_party(client)  # where its calls' interpreter requests stand

    def detach(self, client: Client) -> None:
        if client.role is Role.INTERPRETER:
            self.conference.detach(client)
            return
        if client.role is Role.GUEST:
            self.guests.detach(client)
            return
        self._presence.detach(client)

    def send_to_kiosk(self, kiosk_id: str, message: p.Wire) -> bool:
        return self.roster.send_to_kiosk(kiosk_id, message)

    @property
    def businesses(self) -> dict[str, Client]:
        return self.roster.businesses

    def end_business(self, identity: str, detail: str) -> None:
        """Sign a business out now (its invitation was revoked): its connection closes, its call ends."""
        self._presence.remove(Role.BUSINESS, identity, detail)

    # ------------------------------------------------------------------ decisions and views

    def apply(self, decisions: Iterable[Decision]) -> None:
        self._effects.apply(decisions)

    def ice_servers(self, user_id: str) -> list[p.IceServerInfo]:
        return self.directory.ice_servers(user_id)

    def department_infos(self) -> list[p.DepartmentInfo]:
        return self.directory.department_infos()

    def stats(self) -> dict[str, Any]:
        return self.directory.stats()

    def push_stats(self) -> None:
        self._staff.push_stats()

    # ------------------------------------------------------------------ time and lifecycle

    def restore(self) -> None:
        """After a restart: the saved queue and the live calls back (see ``restore.restore_calls``). An
        interpreter in a call that lives on is held for it too (``Conference.restore``)."""
        # Read and parsed once for both: a new leader of 12,000 waiting callers parsed it twice, 0.2 s each
        # of its restore on the 2-core VM (py-spy, 2026-12-04).
        saved = self.store.load_queue()
        self.calls.update(
            restore_calls(self.router, self.store, self.directory.departments.keys(), self.clock, saved)
        )
        self.conference.restore(saved)

    def recall_ended(self, since: float) -> int:
        """On a new leader of several nodes (``signaling_server.cluster``), after ``restore``: each party's
        latest call, so that the party hears its end when it attaches (``Presence._missed``) if it has
        ended by then: a call that ended since ``since`` (the old leader may have died with its end unsent)
        and a live call (it may end before a party moved from another node is attached here: seen in 2
        of 8 runs at 3,000 kiosks, 7 and 43 kiosks never told). A connection moved over without
        reconnecting does not ask (``sync_call``) as a reconnected one does. How many parties."""
        ends = recent_ends(self.store, since)
        for call in self.calls.values():
            ends[(caller_role(call.record), call.record.kiosk_id)] = call.call_id
            if call.record.officer:
                ends[(Role.OFFICER, call.record.officer)] = call.call_id
        self.roster.last_call.update(ends)
        return len(ends)

    def next_due(self) -> float | None:
        """The earliest of the router's and the edge's deadlines."""
        deadlines = (
            self.router.next_deadline(),
            self._timers.next_due(),
            self.conference.next_due(),
            self._save_cadence.due,
        )
        due = [t for t in deadlines if t is not None]
        return min(due, default=None)

    def tick(self) -> None:
        """Everything due by now: the router's deadlines, then the edge's; then the queue saved if changed
        (later when saves are costly: ``save_cadence``). Nothing after shutdown: the saved queue is what the
        restarted server resumes."""
        if self._closing:
            return
        self.apply(self.router.tick())
        self.conference.tick()
        self._fire_due_edge_deadlines()
        interpreters = self.conference.snapshot()
        changed = self._effects.queue_dirty or interpreters != self._interpreters_saved
        if changed and self._save_cadence.may_save(self.clock()):
            self._effects.queue_dirty = False
            self._save_queue(interpreters)

    def _fire_due_edge_deadlines(self) -> None:
        """At most EDGE_SLICE of the edge's due deadlines, their records' writes in one batch; the rest at
        the next tick, after the loop has run what waits (``next_due`` is then already past)."""
        now = self.clock()
        upcoming = self._timers.next_due()
        if upcoming is None or upcoming > now:
            return  # no batch opened for nothing: on SQLite it takes the file's write lock
        with self.store.conn.batch():
            for due in itertools.islice(self._timers.pop_due(now), EDGE_SLICE):
                try:
                    self._fire[type(due)](due)
                except Exception:  # one deadline failing stops no other (as event loop timers did before)
                    log.exception("%s failed", due)

    async def run_timers(self) -> None:
        """Sleep until the next deadline (or something new falls due sooner), then tick."""
        while not self._closing:
            await self._timers.sleep_until(self.next_due())
            if self._closing:
                break
            try:
                self.tick()
            except Exception:  # logged; the deadlines after it still fire
                log.exception("the switchboard's tick failed")

    def stand_down(self) -> None:
        """Stop deciding without saving anything: another node leads now (signaling_server.cluster). The
        clients are forgotten; what the store holds is the new leader's to resume."""
        self._closing = True
        self._presence.shutdown()
        self._timers.clear()
        self._timers.wake()
        for registry in (self.roster.kiosks, self.roster.businesses, self.roster.officers):
            registry.clear()
        self.roster.interpreters.clear()
        self.roster.watchers.clear()

    def shutdown(self) -> None:
        """Save the queue and stop: no deadline fires any more, departing parties keep their calls."""
        if self._closing:
            return
        self._closing = True
        self._presence.shutdown()
        self._timers.clear()
        self._timers.wake()
        self._save_queue(self.conference.snapshot())
        self.audit_later.flush()

    def _save_queue(self, interpreters: dict[str, Any]) -> None:
        """The one place the queue snapshot is written: the router's, with the interpreter pool's waiting
        requests beside it (``routing.interpreters_snapshot``), so a restart loses neither."""
        self._interpreters_saved = interpreters
        started = self._cost_clock()
        self.store.save_queue({**self.router.snapshot(), SNAPSHOT_KEY: interpreters})
        self._save_cadence.saved(self.clock(), self._cost_clock() - started)
