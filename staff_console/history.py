"""The officer's calls today, kept in memory by the controller from the calls it took and ended."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HistoryEntry:
    call_id: str
    department: str
    kiosk_name: str
    procedure: str | None
    language: str
    started_at: float
    ended_at: float | None = None
    end_reason: str | None = None  # completed, kiosk_disconnected, setup_failed, ...
    outcome: str | None = None  # resolved, visit_city_hall, transferred, appointment_made, other
    notes: str = ""
    transferred_to: str | None = None
    documents_saved: int = 0
    business: bool = False  # a business called (kiosk_name is then its company)

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else max(0.0, self.ended_at - self.started_at)


@dataclass
class CallHistory:
    entries: list[HistoryEntry] = field(default_factory=list)

    def open(self, entry: HistoryEntry) -> HistoryEntry:
        existing = self.get(entry.call_id)
        if existing is not None:  # the same call again (e.g. requeued and answered by us once more)
            existing.ended_at = None
            existing.end_reason = None
            return existing
        self.entries.append(entry)
        return entry

    def get(self, call_id: str) -> HistoryEntry | None:
        for entry in reversed(self.entries):
            if entry.call_id == call_id:
                return entry
        return None

    def outcomes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.entries:
            key = entry.outcome or "none"
            counts[key] = counts.get(key, 0) + 1
        return counts
