"""What the resident can choose: departments and procedures, from the config and the server's live status.

Only remote departments for the kiosk's audience that the server reports (so never a tile that would say
準備中); procedures only when their department is one of those. Each tile carries the live status from the
welcome: open or closed, people waiting, estimated wait, next opening.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from config.schema import AppConfig, Audience
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

    @property
    def wait_minutes(self) -> int:
        return max(1, round((self.ewt_s or 0) / 60))


@dataclass(frozen=True)
class ProcedureTile:
    id: str
    name_ja: str
    name_en: str
    category: str
    department: DepartmentTile
    convenience_store: bool = False


def _fold(text: str) -> str:
    """Case- and width-insensitive form for search (全角 ＡＢＣ matches abc; katakana matches hiragana)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in folded)


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
                    info.id, info.name_ja, info.name_en, info.open, info.waiting, info.ewt_s, info.next_open
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
        """Procedures of ``category`` (None: all) whose names contain ``query``. ``extra_names`` maps a
        category to its name in the resident's language, so searching "pension" finds 年金."""
        needle = _fold(query.strip())
        result = []
        for proc in self._all_procedures():
            if category is not None and proc.category != category:
                continue
            if needle:
                haystack = " ".join(
                    [
                        proc.name_ja,
                        proc.name_en,
                        proc.category,
                        proc.department.name_ja,
                        proc.department.name_en,
                        (extra_names or {}).get(proc.category, ""),
                    ]
                )
                if needle not in _fold(haystack):
                    continue
            result.append(proc)
        return result

    def procedure(self, procedure_id: str) -> ProcedureTile:
        for proc in self._all_procedures():
            if proc.id == procedure_id:
                return proc
        raise KeyError(f"procedure {procedure_id!r} is not offered at this kiosk")
