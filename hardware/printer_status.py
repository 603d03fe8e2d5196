"""Receipt printer status as Epson printers report it to DLE EOT n (real-time status transmission).

Every status byte has the fixed pattern 0xx1xx10 (bits 1 and 4 set, bits 0 and 7 clear): anything else is
not a status answer. No answer at all means "unknown" — never "OK".

n=1 printer status:   bit 3 offline
n=2 offline cause:    bit 2 cover open, bit 3 paper fed by the button, bit 5 stopped by paper end, bit 6 error
n=3 error cause:      bit 3 autocutter error, bit 5 unrecoverable error, bit 6 auto-recoverable error
n=4 roll paper:       bits 2+3 paper near end, bits 5+6 paper end
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from hardware.health import DeviceHealth, HealthStatus

FIXED_MASK, FIXED_BITS = 0x93, 0x12

PaperState = Literal["ok", "near_end", "out", "unknown"]
PrinterState = Literal["ok", "paper_near_end", "paper_out", "cover_open", "offline", "error", "unknown"]


def is_status_byte(value: int) -> bool:
    return value & FIXED_MASK == FIXED_BITS


@dataclass(frozen=True)
class PrinterStatus:
    answered: bool
    online: bool | None = None
    paper: PaperState = "unknown"
    cover_open: bool | None = None
    error: bool | None = None
    detail: str = ""

    @classmethod
    def unknown(cls, detail: str) -> PrinterStatus:
        return cls(answered=False, detail=detail)

    @classmethod
    def from_bytes(cls, printer: int, offline_cause: int, error_cause: int, paper: int) -> PrinterStatus:
        named = (
            ("printer", printer),
            ("offline cause", offline_cause),
            ("error cause", error_cause),
            ("paper", paper),
        )
        for name, value in named:
            if not is_status_byte(value):
                return cls.unknown(f"printer sent {value:#04x} for its {name} status, not a status byte")
        if paper & 0x60:
            paper_state: PaperState = "out"
        elif paper & 0x0C:
            paper_state = "near_end"
        else:
            paper_state = "ok"
        error = bool(offline_cause & 0x40) or bool(error_cause & 0x68)
        return cls(
            answered=True,
            online=not printer & 0x08,
            paper=paper_state,
            cover_open=bool(offline_cause & 0x04),
            error=error,
        )

    @property
    def state(self) -> PrinterState:
        if not self.answered:
            return "unknown"
        if self.cover_open:
            return "cover_open"
        if self.paper == "out":
            return "paper_out"
        if self.error:
            return "error"
        if not self.online:
            return "offline"
        if self.paper == "near_end":
            return "paper_near_end"
        return "ok"

    @property
    def can_print(self) -> bool:
        """Safe to send a job: the printer answered and is online (near end still prints)."""
        return self.state in ("ok", "paper_near_end")

    def describe(self) -> str:
        return {
            "ok": "printer ready",
            "paper_near_end": "paper near end: replace the roll soon",
            "paper_out": "paper out",
            "cover_open": "cover open",
            "offline": "printer offline",
            "error": "printer error (cutter or mechanism)",
            "unknown": f"status unknown: {self.detail or 'no answer'}",
        }[self.state]

    def to_health(self, since: float | None = None) -> DeviceHealth:
        health: dict[PrinterState, HealthStatus] = {"ok": "ok", "paper_near_end": "degraded"}
        status = health.get(self.state, "error")
        if since is None:
            return DeviceHealth(status, self.describe())
        return DeviceHealth(status, self.describe(), since)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "state": self.state}
