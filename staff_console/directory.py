"""Names the console shows, looked up in the city configuration: departments, procedures, kiosks."""

from __future__ import annotations

from dataclasses import dataclass

from config.schema import AppConfig

AWAY_REASONS = ("break", "counter", "meeting")  # 休憩, 窓口対応中, 会議
OUTCOMES = ("resolved", "visit_city_hall", "transferred", "appointment_made", "other")


@dataclass(frozen=True)
class Directory:
    """Read-only lookups; every method falls back to the raw id when the configuration does not know it."""

    config: AppConfig | None = None

    def department_name(self, department_id: str, language: str = "ja") -> str:
        if self.config is not None:
            for dep in self.config.departments:
                if dep.id == department_id:
                    return dep.name_ja if language == "ja" else dep.name_en
        return department_id

    def procedure_name(self, procedure_id: str | None, language: str = "ja") -> str | None:
        if procedure_id is None:
            return None
        if self.config is not None:
            for proc in self.config.procedures:
                if proc.id == procedure_id:
                    return proc.name_ja if language == "ja" else proc.name_en
        return procedure_id

    def transfer_note(self, note: str, language: str = "ja") -> str:
        """Earlier officers' notes come as "<department id>: <note>"; show the department's name."""
        department, sep, text = note.partition(": ")
        if sep and self.config is not None and any(d.id == department for d in self.config.departments):
            return f"{self.department_name(department, language)}: {text}"
        return note

    def kiosk_location(self, kiosk_id: str) -> str:
        if self.config is not None:
            for kiosk in self.config.kiosks:
                if kiosk.id == kiosk_id:
                    return kiosk.location
        return ""

    def wrap_up_s(self, department_id: str | None) -> float | None:
        if self.config is not None and department_id is not None:
            for dep in self.config.departments:
                if dep.id == department_id:
                    return dep.wrap_up_s
        return None

    def remote_departments(self) -> list[str]:
        if self.config is None:
            return []
        return [d.id for d in self.config.departments if d.remote]
