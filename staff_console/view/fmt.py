"""Small formatting helpers shared by the pages (durations, languages, accessibility needs)."""

from __future__ import annotations

import time

from remote_call.protocol import BusinessInfo
from staff_console.i18n import Messages

LANGUAGES = ("ja", "en", "zh", "ko", "vi", "pt", "es", "tl", "ne", "easy_ja")
ACCESSIBILITY = (
    "wheelchair",
    "hearing",
    "vision",
    "large_text",
    "sign_language",
    "interpreter",
    "easy_japanese",
    "high_contrast",
)


def duration(t: Messages, seconds: float | None) -> str:
    if seconds is None:
        return t("time.unknown")
    seconds = max(0, round(seconds))
    if seconds < 60:
        return t("time.seconds", s=seconds)
    if seconds < 3600:
        return t("time.minutes", m=seconds // 60, s=seconds % 60)
    return t("time.hours", h=seconds // 3600, m=(seconds % 3600) // 60)


def clock(at: float | None) -> str:
    return "" if at is None else time.strftime("%H:%M", time.localtime(at))


def language(t: Messages, code: str) -> str:
    return t(f"lang.{code}") if code in LANGUAGES else code


def accessibility(t: Messages, needs: list[str]) -> str:
    if not needs:
        return t("a11y.none")
    return "、".join(t(f"a11y.{n}") if n in ACCESSIBILITY else n for n in needs)


SERVER_REASONS = ("no_answer", "disconnected", "wrap_up_ended", "resumed", "officer_offline")


def state_reason(t: Messages, reason: str | None) -> str:
    """An officer state's reason: the away reasons (休憩…) and the server's own (no answer, disconnected)."""
    if not reason:
        return ""
    if reason in ("break", "counter", "meeting"):
        return t(f"away.{reason}")
    return t(f"reason.{reason}") if reason in SERVER_REASONS else reason


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def business_badge(t: Messages, business: BusinessInfo) -> str:
    """The label that tells a business call apart at a glance (text, not colour alone)."""
    return t("business.badge_mobile") if business.mobile else t("business.badge")


def availability(t: Messages, name: str, stats: dict, department: str) -> str:
    """A department in the transfer list with its officers free and busy now (from the pushed statistics:
    ``availability`` for every department, or the department's own ``officers`` counts)."""
    counts = stats.get("availability", {}).get(department)
    if counts is None:
        counts = stats.get("departments", {}).get(department, {}).get("officers")
    if not counts:
        return name
    busy = sum(counts.get(state, 0) for state in ("ringing", "in_call", "wrap_up"))
    return t("transfer.availability", name=name, free=counts.get("available", 0), busy=busy)
