"""The booking as an iCalendar file (RFC 5545): one VEVENT, times in UTC, text escaped and folded."""

from __future__ import annotations

import datetime as dt

from signaling_server.appointments.model import Booking


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _utc(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """Lines longer than 75 octets are folded (CRLF + space), never inside a UTF-8 character."""
    out: list[str] = []
    current = b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current.decode())
            current = b""
        current += encoded
    out.append(current.decode())
    return "\r\n ".join(out)


def booking_ics(booking: Booking, *, summary: str, location: str, description: str, host: str) -> str:
    """The calendar file of `booking`; the texts come from the caller's catalog (its language)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Remote Madoguchi//appointments//JA",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{booking.booking_id}@{host}",
        f"DTSTAMP:{_utc(booking.created_at)}",
        f"DTSTART:{_utc(booking.slot_start)}",
        f"DTEND:{_utc(booking.slot_end)}",
        f"SUMMARY:{_escape(summary)}",
        f"LOCATION:{_escape(location)}",
        f"DESCRIPTION:{_escape(description)}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
