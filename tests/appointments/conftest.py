"""Fixtures for the appointment tests: Morioka's shipped configuration (real hours and holidays), a
fake clock on an ordinary Wednesday morning in Tokyo, and the service on a Store in a temporary file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config.loader import load_config
from config.schema import AppConfig
from signaling_server.appointments import AppointmentService, BookingRequest
from signaling_server.appointments.tables import BookingTables
from signaling_server.audit import AuditLog
from signaling_server.store import Store
from signaling_server.switchboard.board import AUDIT_ACTIONS

TOKYO = ZoneInfo("Asia/Tokyo")
WEDNESDAY = dt.date(2026, 11, 25)


def at(day: dt.date, hour: int, minute: int = 0) -> float:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TOKYO).timestamp()


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def config() -> AppConfig:
    return load_config()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at(WEDNESDAY, 8, 0))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "madoguchi.sqlite3"


@pytest.fixture
def open_service(config: AppConfig, clock: FakeClock, db: Path) -> Iterator[Callable[[], AppointmentService]]:
    """Builds a service on a new Store of the same file each call (a restarted server)."""
    stores: list[Store] = []

    def build() -> AppointmentService:
        store = Store(db)
        stores.append(store)
        audit = AuditLog(store.conn, extra_actions=AUDIT_ACTIONS, clock=clock)
        return AppointmentService(config, BookingTables(store.conn), audit, clock=clock)

    yield build
    for store in stores:
        store.close()


@pytest.fixture
def service(open_service: Callable[[], AppointmentService]) -> AppointmentService:
    return open_service()


def request(start: float, department: str = "kosodate", **fields: object) -> BookingRequest:
    values: dict[str, object] = {"name": "盛岡 花子", "contact": "019-000-0000"}
    values.update(fields)
    return BookingRequest(department=department, slot_start=start, **values)  # type: ignore[arg-type]
