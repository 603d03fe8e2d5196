"""The appointment tables, on the Store's database: bookings and a supervisor's slot changes.

Created by migration 1 (signaling_server/db/schema.py). Every change that must not race — taking the
last place of a slot, moving a booking — runs in one transaction under the ``appointments`` lock: one
writer at a time counts and inserts (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock every node
takes), so two people booking the last place at once (two requests, or two server processes on the same
database) get exactly one booking.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

from signaling_server.appointments.model import (
    ACTIVE_STATES,
    PIN_STATES,
    Booking,
    BookingState,
    Channel,
)
from signaling_server.db import Database, IntegrityError, as_database

_FIELDS = tuple(f.name for f in fields(Booking))
_ACTIVE = tuple(s.value for s in ACTIVE_STATES)
_LIVE_PIN = tuple(s.value for s in PIN_STATES)


def _booking(row: Any) -> Booking:
    data: dict[str, Any] = {name: row[name] for name in _FIELDS}
    data["channel"] = Channel(data["channel"])
    data["state"] = BookingState(data["state"])
    return Booking(**data)


class PinTaken(Exception):
    """Another live booking has this PIN: draw another."""


class BookingTables:
    def __init__(self, conn: Database | sqlite3.Connection) -> None:
        self.conn = as_database(conn)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """One write transaction that no other booking writer interleaves with."""
        with self.conn.transaction(lock="appointments"):
            yield

    # ------------------------------------------------------------------ reads

    def taken(self, department: str, slot_start: float) -> int:
        marks = ", ".join("?" for _ in _ACTIVE)
        row = self.conn.execute(
            "SELECT COUNT(*) FROM appointments WHERE department = ? AND slot_start = ?"
            f" AND state IN ({marks})",
            (department, slot_start, *_ACTIVE),
        ).fetchone()
        return int(row[0])

    def taken_between(self, department: str, start: float, end: float) -> dict[float, int]:
        marks = ", ".join("?" for _ in _ACTIVE)
        rows = self.conn.execute(
            "SELECT slot_start, COUNT(*) FROM appointments WHERE department = ? AND slot_start >= ?"
            f" AND slot_start < ? AND state IN ({marks}) GROUP BY slot_start",
            (department, start, end, *_ACTIVE),
        )
        return {float(r[0]): int(r[1]) for r in rows}

    def by_pin(self, pin_hash: str) -> Booking | None:
        marks = ", ".join("?" for _ in _LIVE_PIN)
        row = self.conn.execute(
            f"SELECT * FROM appointments WHERE pin_hash = ? AND state IN ({marks})", (pin_hash, *_LIVE_PIN)
        ).fetchone()
        return None if row is None else _booking(row)

    def get(self, booking_id: str) -> Booking | None:
        row = self.conn.execute("SELECT * FROM appointments WHERE booking_id = ?", (booking_id,)).fetchone()
        return None if row is None else _booking(row)

    def query(
        self,
        *,
        department: str | None = None,
        officer: str | None = None,
        start: float | None = None,
        end: float | None = None,
        states: tuple[BookingState, ...] | None = None,
        limit: int = 2000,
    ) -> list[Booking]:
        sql, args = "SELECT * FROM appointments WHERE 1 = 1", []
        for column, op, value in (
            ("department", "=", department),
            ("officer", "=", officer),
            ("slot_start", ">=", start),
            ("slot_start", "<", end),
        ):
            if value is not None:
                sql += f" AND {column} {op} ?"
                args.append(value)
        if states is not None:
            sql += f" AND state IN ({', '.join('?' for _ in states)})"
            args += [s.value for s in states]
        sql += " ORDER BY slot_start, created_at LIMIT ?"
        return [_booking(r) for r in self.conn.execute(sql, (*args, limit))]

    def count_from(self, address: str, since: float) -> int:
        row = self.conn.execute(
            "SELECT COUNT(*) FROM appointments WHERE address = ? AND created_at >= ?", (address, since)
        ).fetchone()
        return int(row[0])

    def overrides(self, department: str) -> dict[float, int]:
        rows = self.conn.execute(
            "SELECT slot_start, capacity FROM appointment_slots WHERE department = ?", (department,)
        )
        return {float(r[0]): int(r[1]) for r in rows}

    def noticed(self, booking_id: str, change: str) -> bool:
        """Whether the resident was already told of this change to the booking's slot."""
        row = self.conn.execute(
            "SELECT 1 FROM appointment_notices WHERE booking_id = ? AND change = ?", (booking_id, change)
        ).fetchone()
        return row is not None

    # ------------------------------------------------------------------ writes (inside exclusive())

    def insert(self, booking: Booking, pin_hash: str, address: str) -> None:
        values = [getattr(booking, name) for name in _FIELDS]
        columns = ", ".join((*_FIELDS, "pin_hash", "address"))
        marks = ", ".join("?" for _ in range(len(_FIELDS) + 2))
        try:
            self.conn.execute(
                f"INSERT INTO appointments({columns}) VALUES ({marks})", (*values, pin_hash, address)
            )
        except IntegrityError as exc:
            if exc.mentions("pin_hash") or exc.mentions("appointments_live_pin"):
                raise PinTaken() from None
            raise

    def update(self, booking: Booking) -> None:
        sets = ", ".join(f"{name} = ?" for name in _FIELDS if name != "booking_id")
        values = [getattr(booking, name) for name in _FIELDS if name != "booking_id"]
        self.conn.execute(
            f"UPDATE appointments SET {sets} WHERE booking_id = ?", (*values, booking.booking_id)
        )

    def set_override(self, department: str, start: float, capacity: int, by: str, at: float) -> None:
        self.conn.execute(
            "INSERT INTO appointment_slots(department, slot_start, capacity, changed_by, changed_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(department, slot_start) DO UPDATE SET"
            " capacity = excluded.capacity, changed_by = excluded.changed_by,"
            " changed_at = excluded.changed_at",
            (department, start, capacity, by, at),
        )

    def record_notice(self, booking_id: str, change: str, at: float) -> None:
        self.conn.execute(
            "INSERT INTO appointment_notices(booking_id, change, sent_at) VALUES (?, ?, ?)"
            " ON CONFLICT (booking_id, change) DO NOTHING",
            (booking_id, change, at),
        )
