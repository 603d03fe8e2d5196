"""What the resident can choose: departments and procedures, from the config and the server's live status.

Only remote departments for the kiosk's audience that the server reports (so never a tile that would say
準備中); procedures only when their department is one of those. Each tile carries the live status from the
welcome: open or closed, people waiting, estimated wait, next opening.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.schema import AppConfig, Audience
from kiosk_client.i18n import catalogs
from kiosk_client.search import matches, reading_of
from remote_call import protocol as p


@dataclass(frozen=True)
class DepartmentTile:
    id: str
    name_ja: str
    name_en: str
    open: bool
    waiting: int
    ewt_s: float | None
    next_open: str | None
    wait_state: str | None = None  # the server's one wait estimate (routing.estimate.wait_estimate)
    estimate_minutes: int | None = None

    @property
    def wait_minutes(self) -> int:
        if self.estimate_minutes is not None:
            return self.estimate_minutes
        return max(1, round((self.ewt_s or 0) / 60))

    def open_status(self) -> tuple[str, dict[str, int]]:
        """The catalog key and values of an open tile's status line, from the server's wait estimate, so
        the tile says what the wait board and the console say (an older server sends no state)."""
        state = self.wait_state or ("wait" if self.waiting else "no_wait")
        if state == "wait":
            return "tile.open_wait", {"waiting": self.waiting, "minutes": self.wait_minutes}
        if state == "nobody_waiting_officers_busy":
            return "tile.open_busy", {"minutes": self.wait_minutes}
        if state == "no_officer":  # people may still be waiting for one to come back
            if self.waiting:
                return "tile.open_wait_no_officer", {"waiting": self.waiting}
            return "tile.open_no_officer", {}
        if state == "closed":
            return "tile.closed", {}
        return "tile.open_no_wait", {}


@dataclass(frozen=True)
class ProcedureTile:
    id: str
    name_ja: str
    name_en: str
    category: str
    department: DepartmentTile
    convenience_store: bool = False
    readings: tuple[str, ...] = ()  # kana, for the on-screen keyboard's search


def procedure_readings(proc: object) -> tuple[str, ...]:
    """The kana reading of a configured procedure for the kana search: the furigana of its easy-Japanese
    name (``{住民票|じゅうみんひょう}`` → じゅうみんひょう), where the config has one."""
    easy = getattr(proc, "name_ja_easy", None)
    return (reading_of(str(easy)),) if easy else ()


def category_reading(category: str) -> str:
    """The easy-Japanese catalog's reading of a category (年金 → ねんきん), or ""."""
    key = f"category.{category}"
    return reading_of(catalogs().raw("ja-easy", key)) if catalogs().has("ja-easy", key) else ""


class Menu:
    def __init__(self, config: AppConfig | None, audience: Audience, infos: dict[str, p.DepartmentInfo]):
        self.config = config
        self.audience = audience
        self.infos = infos

    def departments(self) -> list[DepartmentTile]:
        tiles = []
        for info in self.infos.values():
            if self.config is not None:
                try:
                    dep = self.config.department(info.id)
                except KeyError:
                    continue
                if not dep.remote or dep.audience != self.audience:
                    continue
            tiles.append(
                DepartmentTile(
                    info.id,
                    info.name_ja,
                    info.name_en,
                    info.open,
                    info.waiting,
                    info.ewt_s,
                    info.next_open,
                    info.wait_state,
                    info.wait_minutes,
                )
            )
        return tiles

    def department(self, department_id: str) -> DepartmentTile:
        for tile in self.departments():
            if tile.id == department_id:
                return tile
        raise KeyError(f"department {department_id!r} is not offered at this kiosk")

    def _all_procedures(self) -> list[ProcedureTile]:
        if self.config is None:
            return []
        offered = {d.id: d for d in self.departments()}
        return [
            ProcedureTile(
                proc.id,
                proc.name_ja,
                proc.name_en,
                proc.category,
                offered[proc.department],
                proc.convenience_store,
                procedure_readings(proc),
            )
            for proc in self.config.procedures
            if proc.audience == self.audience and proc.department in offered
        ]

    def categories(self) -> list[str]:
        seen: list[str] = []
        for proc in self._all_procedures():
            if proc.category not in seen:
                seen.append(proc.category)
        return seen

    def procedures(
        self, category: str | None = None, query: str = "", extra_names: dict[str, str] | None = None
    ) -> list[ProcedureTile]:
        """Procedures of ``category`` (None: all) whose names or kana readings contain ``query``.
        ``extra_names`` maps a category to its name in the resident's language, so "pension" finds 年金."""
        result = []
        for proc in self._all_procedures():
            if category is not None and proc.category != category:
                continue
            texts = [
                proc.name_ja,
                proc.name_en,
                proc.category,
                category_reading(proc.category),
                proc.department.name_ja,
                proc.department.name_en,
                (extra_names or {}).get(proc.category, ""),
                *proc.readings,
            ]
            if matches(query.strip(), texts):
                result.append(proc)
        return result

    def procedure(self, procedure_id: str) -> ProcedureTile:
        for proc in self._all_procedures():
            if proc.id == procedure_id:
                return proc
        raise KeyError(f"procedure {procedure_id!r} is not offered at this kiosk")
