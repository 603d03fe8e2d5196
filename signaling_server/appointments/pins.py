"""Booking PINs: 6 random digits, stored only as an HMAC under a key kept in the same database, unique
among the bookings whose PIN still works, and guarded against guessing per address.

Why an HMAC and not argon2: a kiosk checks in by the PIN alone, so the stored form must be looked up,
not compared row by row. A million PINs are quick to try offline against a plain hash; the key makes a
stolen table without the key worthless, and a PIN stops working when its slot's grace ends anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3

from signaling_server.appointments.model import BookingRefused
from signaling_server.db import Database, as_database
from signaling_server.ratelimit import LoginThrottle, address_key

PIN_DIGITS = 6
_PIN = re.compile(r"^\d{6}$")
QR_PREFIX = "MADOGUCHI-APPT:"


def new_pin() -> str:
    return f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"


def parse_pin(text: str) -> str:
    """A PIN as typed or read from a QR code (spaces and hyphens ignored); BookingRefused otherwise."""
    cleaned = text.strip()
    if cleaned.startswith(QR_PREFIX):
        cleaned = cleaned[len(QR_PREFIX) :]
    cleaned = cleaned.replace(" ", "").replace("-", "")
    if not _PIN.match(cleaned):
        raise BookingRefused("bad_input", f"a PIN has {PIN_DIGITS} digits")
    return cleaned


class PinKey:
    """The HMAC key of this database's PINs, created on first use."""

    def __init__(self, conn: Database | sqlite3.Connection) -> None:
        conn = as_database(conn)
        conn.execute(
            "INSERT INTO appointment_key(id, key) VALUES (1, ?) ON CONFLICT (id) DO NOTHING",
            (secrets.token_bytes(32),),
        )
        self._key = bytes(conn.execute("SELECT key FROM appointment_key WHERE id = 1").fetchone()[0])

    def digest(self, pin: str) -> str:
        return hmac.new(self._key, pin.encode(), hashlib.sha256).hexdigest()


class PinGuard:
    """Wrong PINs lock out the address they came from (a kiosk: its id) with growing lockouts; a right
    one does not clear the address (it could be guessing others)."""

    def __init__(self, throttle: LoginThrottle) -> None:
        self._throttle = throttle

    def check(self, address: str) -> None:
        wait = self._throttle.check(address_key(address))
        if wait > 0:
            raise BookingRefused("pin_locked", "too many wrong PINs", retry_after_s=wait)

    def failed(self, address: str) -> None:
        self._throttle.failure(address_key(address))
