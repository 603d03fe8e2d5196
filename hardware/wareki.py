"""Japanese calendar dates (和暦) for slips: 令和8年11月26日(木)."""

from __future__ import annotations

import datetime as dt

# (first day, era name), newest first.
ERAS: tuple[tuple[dt.date, str], ...] = (
    (dt.date(2019, 5, 1), "令和"),
    (dt.date(1989, 1, 8), "平成"),
    (dt.date(1926, 12, 25), "昭和"),
    (dt.date(1912, 7, 30), "大正"),
    (dt.date(1873, 1, 1), "明治"),  # the Gregorian calendar in Japan starts 明治6年
)
WEEKDAYS = "月火水木金土日"


def era_year(day: dt.date) -> tuple[str, int]:
    """('令和', 8) for 2026-11-26."""
    for start, name in ERAS:
        if day >= start:
            return name, day.year - start.year + 1
    raise ValueError(f"{day.isoformat()} is before the Gregorian calendar was adopted in Japan (1873)")


def wareki(day: dt.date, weekday: bool = True) -> str:
    """令和8年11月26日(木); year 1 of an era is written 元年."""
    name, year = era_year(day)
    year_text = "元" if year == 1 else str(year)
    text = f"{name}{year_text}年{day.month}月{day.day}日"
    return f"{text}({WEEKDAYS[day.weekday()]})" if weekday else text


def seireki(day: dt.date) -> str:
    """2026年11月26日"""
    return f"{day.year}年{day.month}月{day.day}日"
