"""Fixtures for the router tests: an injected clock and department factories."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config.schema import Department

TOKYO = ZoneInfo("Asia/Tokyo")
# Wednesday 2026-11-25 10:00 in Tokyo: an ordinary working day, inside the default 08:30–17:15 hours.
WORKDAY_10AM = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO).timestamp()


class FakeClock:
    """The router's injected clock: time moves only when a test advances it."""

    def __init__(self, start: float = WORKDAY_10AM) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now

    def set_local(self, when: dt.datetime) -> None:
        self.now = when.timestamp()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_department(dep_id: str = "kosodate", **overrides: Any) -> Department:
    fields: dict[str, Any] = {
        "id": dep_id,
        "name_ja": f"{dep_id}課",
        "name_en": f"{dep_id} division",
        "audience": "residents",
    }
    fields.update(overrides)
    return Department(**fields)


@pytest.fixture
def department() -> Callable[..., Department]:
    return make_department
