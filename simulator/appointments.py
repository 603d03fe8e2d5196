"""`madoguchi-sim --appointments N --walk-ins M`: a day of bookings and walk-ins on a fake clock.

The real switchboard, router and booking service run in this process on one `SimClock` (no sockets, no
sleeping: simulated time jumps to the next event or deadline). Staff book N appointments by phone over the
bookable slots of two departments (some with a booked officer); on the day about one in ten residents
never comes (a no-show), the others check in at a kiosk with their PIN from 20 minutes early to 5 minutes
late (`request_call` with `appointment_pin`); M walk-ins arrive over the day. Officers answer every offer
at once and talk for a few minutes (appointments longer than walk-ins).

Reported: appointments_booked, checked_in, served_within_grace (offered to an officer within the grace of
max(slot, check-in)), no_shows, walk_ins, walk_ins_served, callers_lost (calls that never completed) and
max_slot_overbook (live bookings above a slot's capacity; must be 0). `succeeded` is true only when every
checked-in resident was offered within the grace, every walk-in was served and nobody was lost.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import random
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from config.schema import AppConfig, DepartmentAppointments
from remote_call import protocol as p
from remote_call.protocol import Role
from signaling_server.appointments import AppointmentService, BookingRefused, BookingRequest, BookingState
from signaling_server.appointments.tables import BookingTables
from signaling_server.audit import AuditLog
from signaling_server.auth import Principal
from signaling_server.store import Store
from signaling_server.switchboard import Client, Switchboard
from signaling_server.switchboard.board import AUDIT_ACTIONS
from simulator.load.clients import STATS_PREFIX

DEPARTMENTS = ("kosodate", "shimin-toroku")
OFFICERS = tuple(f"sim-officer-{i}" for i in range(6))
NO_SHOW_RATE = 0.1
DAY = dt.date(
    2026, 11, 25
)  # a Wednesday with no holiday near it: the simulated day (time is simulated anyway)


class SimClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Resident:
    kiosk: str
    department: str
    minutes: float  # how long the call lasts
    booking_id: str | None = None
    pin: str | None = None
    due: float | None = None  # appointments: the latest time of a first offer
    call_id: str | None = None
    offered_at: float | None = None
    completed: bool = False
    inbox: list[str] = field(default_factory=list)


class AppointmentDay:
    def __init__(self, config: AppConfig, *, seed: int | None) -> None:
        rules = [DepartmentAppointments(department=d, bookable_officers=2) for d in DEPARTMENTS]
        self.config = config.model_copy(
            update={"appointments": config.appointments.model_copy(update={"departments": rules})}
        )
        self.tz = ZoneInfo(config.city.timezone)
        self.day = DAY
        self.clock = SimClock(self._at(7, 0))
        self.random = random.Random(seed)
        self.store = Store(":memory:")
        audit = AuditLog(self.store.conn, extra_actions=AUDIT_ACTIONS, clock=self.clock)
        self.service = AppointmentService(
            self.config,
            BookingTables(self.store.conn),
            audit,
            clock=self.clock,
            call_answered=lambda call_id: getattr(self.store.call(call_id), "answered_at", None) is not None,
        )
        self.board = Switchboard(
            self.config, self.store, clock=self.clock, audit=audit, appointments=self.service
        )
        self.events: list[tuple[float, int, str, Any]] = []
        self.seq = itertools.count()
        self.residents: dict[str, Resident] = {}
        self.officers: dict[str, tuple[Client, list[str]]] = {}
        self.kiosks: dict[str, Client] = {}
        self.calls: dict[str, Resident] = {}

    def _at(self, hour: int, minute: int) -> float:
        return dt.datetime.combine(self.day, dt.time(hour, minute), self.tz).timestamp()

    def at(self, when: float, kind: str, data: Any) -> None:
        heapq.heappush(self.events, (when, next(self.seq), kind, data))

    # ------------------------------------------------------------------ set-up

    def book(self, count: int) -> int:
        self.clock.now = self._at(7, 0) - 86_400  # booked the day before
        slots = [(d, s.start) for d in DEPARTMENTS for s in self.service.slots(d, self.day) for _ in range(2)]
        slots.sort(key=lambda pair: pair[1])
        booked = 0
        for index, (department, start) in enumerate(slots):
            if booked == count:
                break
            result = None
            for officer in (self.random.choice([None, *OFFICERS]), None):  # that officer taken: anyone
                try:
                    result = self.service.book(
                        BookingRequest(
                            department,
                            start,
                            name=f"resident {index}",
                            contact="019-000-0000",
                            officer=officer,
                        ),
                        actor="sim-clerk",
                    )
                    break
                except BookingRefused:
                    continue
            if result is None:
                continue
            booked += 1
            resident = Resident(f"sim-appt-{index:03d}", department, self.random.uniform(5, 20))
            resident.booking_id, resident.pin = result.booking.booking_id, result.pin
            self.residents[resident.kiosk] = resident
            if self.random.random() >= NO_SHOW_RATE:
                arrive = start + self.random.uniform(-20 * 60, 5 * 60)
                resident.due = max(start, arrive) + 10 * 60
                self.at(arrive, "arrive", resident)
        return booked

    def walk_ins(self, count: int) -> None:
        for index in range(count):
            department = self.random.choice(DEPARTMENTS)
            resident = Resident(f"sim-walk-{index:03d}", department, self.random.uniform(2, 8))
            self.residents[resident.kiosk] = resident
            self.at(self._at(9, 0) + self.random.uniform(0, 7 * 3600), "arrive", resident)

    def connect(self, principal: Principal, inbox: list[str]) -> Client:
        client = Client(principal=principal, send_raw=inbox.append, close=lambda: None)
        inbox.append(p.encode(self.board.attach(client)))
        self.board.resume(client)
        return client

    # ------------------------------------------------------------------ the day

    def run(self) -> None:
        self.clock.now = self._at(8, 30)
        skills = dict.fromkeys(DEPARTMENTS, "primary")
        for name in OFFICERS:
            inbox: list[str] = []
            self.officers[name] = (
                self.connect(Principal(Role.OFFICER, name, name, skills, f"s-{name}"), inbox),
                inbox,
            )
        while self.events or any(not r.completed and r.call_id for r in self.residents.values()):
            due = self.board.next_due()
            event_at = self.events[0][0] if self.events else None
            if event_at is not None and (due is None or event_at <= due):
                when, _, kind, data = heapq.heappop(self.events)
                self.clock.now = max(self.clock.now, when)
                self.handle(kind, data)
            elif due is not None:
                self.clock.now = max(self.clock.now, due)
                self.board.tick()
            else:
                break
            self.deliver()
            if self.clock.now > self._at(23, 0):
                break
        self.clock.now = self._at(23, 0)
        self.service.sweep_no_shows()

    def handle(self, kind: str, data: Any) -> None:
        if kind == "arrive":
            resident: Resident = data
            self.kiosks[resident.kiosk] = self.connect(
                Principal(Role.KIOSK, resident.kiosk, resident.kiosk, {}), resident.inbox
            )
            # as the kiosk does: a PIN alone (the server finds the booking's department), a walk-in names one
            department = None if resident.pin else resident.department
            request = p.RequestCall(department=department, appointment_pin=resident.pin)
            self.board.handle(self.kiosks[resident.kiosk], request, p.encode(request))
        elif kind == "end":
            call_id, officer = data
            message = p.EndCall(call_id=call_id, outcome="resolved")
            self.board.handle(self.officers[officer][0], message, p.encode(message))

    def deliver(self) -> None:
        """What the switchboard sent (to the kiosks first: they learn their call ids): officers answer offers
        at once; both parties bring media up."""
        for resident in self.residents.values():
            messages = [p.parse_message(t, max_bytes=1 << 22) for t in resident.inbox]
            resident.inbox.clear()
            for message in messages:
                if isinstance(message, p.AppointmentCheckedIn | p.Queued) and resident.call_id is None:
                    resident.call_id = message.call_id
                    self.calls[message.call_id] = resident
                elif isinstance(message, p.CallConnecting):
                    self._send(self.kiosks[resident.kiosk], p.MediaConnected(call_id=message.call_id))
                elif isinstance(message, p.CallEnded) and message.reason is p.EndReason.COMPLETED:
                    resident.completed = True
        for name, (client, inbox) in self.officers.items():
            # Statistics every 2 s of a whole day are most of an officer's inbox and none of its answers.
            texts, inbox[:] = [t for t in inbox if not t.startswith(STATS_PREFIX)], []
            messages = [p.parse_message(t, max_bytes=1 << 22) for t in texts]
            for message in messages:
                if isinstance(message, p.CallOffer):
                    resident = self.calls[message.call_id]
                    resident.offered_at = resident.offered_at or self.clock.now
                    self._send(client, p.AcceptCall(call_id=message.call_id))
                elif isinstance(message, p.CallConnecting):
                    self._send(client, p.MediaConnected(call_id=message.call_id))
                elif isinstance(message, p.CallStarted):
                    resident = self.calls[message.call_id]
                    self.at(self.clock.now + resident.minutes * 60, "end", (message.call_id, name))

    def _send(self, client: Client, message: p.Wire) -> None:
        self.board.handle(client, message, p.encode(message))

    # ------------------------------------------------------------------ the report

    def summary(self, booked: int) -> dict[str, Any]:
        appointments = [r for r in self.residents.values() if r.booking_id is not None]
        walk_ins = [r for r in self.residents.values() if r.booking_id is None]
        checked_in = [r for r in appointments if r.call_id is not None]
        within = [
            r for r in checked_in if r.offered_at is not None and r.due is not None and r.offered_at <= r.due
        ]
        bookings = self.service.bookings(day=self.day)
        overbook = 0
        for department in DEPARTMENTS:
            for slot in self.service.slots(department, self.day):
                overbook = max(overbook, slot.booked - slot.capacity)
        lost = [r for r in self.residents.values() if r.call_id is not None and not r.completed]
        summary = {
            "appointments_booked": booked,
            "checked_in": len(checked_in),
            "served_within_grace": len(within),
            "served": sum(1 for b in bookings if b.state is BookingState.SERVED),
            "no_shows": sum(1 for b in bookings if b.state is BookingState.NO_SHOW),
            "walk_ins": len(walk_ins),
            "walk_ins_served": sum(1 for r in walk_ins if r.completed),
            "callers_lost": len(lost),
            "max_slot_overbook": overbook,
        }
        summary["succeeded"] = (
            summary["served_within_grace"] == summary["checked_in"]
            and summary["walk_ins_served"] == summary["walk_ins"]
            and summary["callers_lost"] == 0
            and summary["max_slot_overbook"] == 0
        )
        return summary


def run_appointment_day(
    config: AppConfig, appointments: int, walk_ins: int, seed: int | None
) -> dict[str, Any]:
    day = AppointmentDay(config, seed=seed)
    try:
        booked = day.book(appointments)
        day.walk_ins(walk_ins)
        day.run()
        return day.summary(booked)
    finally:
        day.store.close()
