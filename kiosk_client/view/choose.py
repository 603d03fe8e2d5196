"""Choosing what the resident came for: by procedure (categories, search with the on-screen kana keyboard,
candidates beside it) or by department; each tile with its live status."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLineEdit, QVBoxLayout, QWidget

from config.phrasebook import ruby_html
from config.schema import localized_name
from kiosk_client.controller import KioskController
from kiosk_client.search import plain_of
from kiosk_client.view.base import Ctx, Screen, clear_layout
from kiosk_client.view.keyboard import KanaKeyboard
from kiosk_client.view.paging import PagedScroll
from kiosk_client.view.widgets import TileButton, button, label


def configured_name(ctx: Ctx, kind: str, item_id: str, fallback: str) -> str:
    """A department's or procedure's name in the resident's language from the config (easy Japanese with
    its readings as ``{漢字|かんじ}``), else ``fallback``."""
    config = ctx.controller.app_config
    if config is None:
        return fallback
    items = config.departments if kind == "department" else config.procedures
    for item in items:
        if item.id == item_id:
            return localized_name(item, ctx.lang)
    return fallback


def _category_html(ctx: Ctx, category: str) -> str:
    key = f"category.{category}"
    return ctx.h(key) if ctx.catalogs.has(ctx.lang, key) else html.escape(category)


def search_hint(ctx: Ctx) -> str:
    """The search field's placeholder: what to type and an example that finds a procedure, plain text in
    every language (Qt draws a placeholder itself, so easy Japanese is written in kana, not with a
    bracketed reading)."""
    return ctx.t("choose.search_prompt", example=ctx.t("choose.search_example"))


def name_html(text: str) -> str:
    """Rich text of a configured name: escaped, readings after their kanji (a label draws them as ruby)."""
    return ruby_html(text)


class ChooseScreen(Screen):
    COLUMNS = 3
    # Below this screen width two columns of tiles: beside the categories, three 240-px tiles of a 1280-px
    # kiosk cannot hold a long name's phrases (国民健康保険総合健康診断（人間ドック）申込 needs 312 px with
    # larger text). On 1920 px three tiles are 466 px wide.
    NARROW_PX = 1600

    def __init__(self, controller: KioskController):
        super().__init__()
        self.controller = controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 16, 40, 16)
        layout.setSpacing(14)
        self.title = label(role="title", rich=True)
        layout.addWidget(self.title)
        modes = QHBoxLayout()
        self.by_procedure = button("mode-procedure", checkable=True)
        self.by_department = button("mode-department", checkable=True)
        self.by_procedure.clicked.connect(lambda: controller.set_choose_mode("procedure"))
        self.by_department.clicked.connect(lambda: controller.set_choose_mode("department"))
        modes.addWidget(self.by_procedure)
        modes.addWidget(self.by_department)
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.textEdited.connect(controller.set_search)
        modes.addWidget(self.search, 2)
        self.keyboard_toggle = button("keyboard-toggle", checkable=True)
        self.keyboard_toggle.clicked.connect(self._toggle_keyboard)
        modes.addWidget(self.keyboard_toggle)
        layout.addLayout(modes)
        body = QHBoxLayout()
        body.setSpacing(16)
        self.categories_box = QWidget()
        self.categories_layout = QVBoxLayout(self.categories_box)
        self.categories_layout.setContentsMargins(0, 0, 0, 0)
        self.categories_layout.setSpacing(10)
        self.categories_scroll = PagedScroll("categories", self.categories_box)
        self.categories_scroll.setFixedWidth(380)
        body.addWidget(self.categories_scroll)
        # The on-screen keyboard takes the categories' place; the tiles beside it are the candidates.
        self.keyboard = KanaKeyboard("search-keyboard", max_length=30)
        self.keyboard.text_changed.connect(controller.set_search)
        self.keyboard.enter_pressed.connect(lambda _text: self._toggle_keyboard(False))
        self.keyboard.hide()
        body.addWidget(self.keyboard, 3)
        self.tiles_box = QWidget()
        self.tiles_layout = QGridLayout(self.tiles_box)
        self.tiles_layout.setSpacing(14)
        self.tiles_layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.tiles = PagedScroll("tiles", self.tiles_box)
        body.addWidget(self.tiles, 2)
        layout.addLayout(body, 1)
        self.empty = label(rich=True)
        layout.addWidget(self.empty)
        self._signature: tuple | None = None
        self._signature_before: tuple | None = None  # the last list built (kept by clear_resident)
        self._ctx: Ctx | None = None

    def clear_resident(self) -> None:
        self.search.clear()
        self.keyboard.clear()
        # The window refreshes every screen right after a reset: rebuilding the tiles here too was 14 % of
        # the kiosk's text-fit test (py-spy), a whole tile list built and thrown away on every reset.
        self._toggle_keyboard(False, rebuild=False)
        self._signature = None

    def show_keyboard(self, on: bool) -> None:
        self._toggle_keyboard(on)

    def _toggle_keyboard(self, on: bool, *, rebuild: bool = True) -> None:
        if on and self._ctx is not None:  # kana for Japanese readers, letters for everyone else
            wanted = "kana" if self._ctx.lang in ("ja", "ja-easy") else "alnum"
            if self.keyboard.mode != wanted:
                self.keyboard.toggle_mode()
        self.keyboard_toggle.setChecked(on)
        self.keyboard.setVisible(on)
        self.categories_scroll.setVisible(not on)
        self._signature = None
        # One column of candidates beside the keyboard. A hidden screen (a reset on another screen) is
        # rebuilt by the window's next refresh instead: rebuilding its tiles here took ~0.2 s per reset.
        if rebuild and self._ctx is not None and self.isVisible():
            self.refresh(self._ctx)

    def _status_lines(self, ctx: Ctx, dep: Any) -> list[tuple[str, str | None]]:
        if dep.open:
            key, values = dep.open_status()  # the server's one wait estimate (menu.DepartmentTile)
            return [(ctx.t(key, **values), "open")]
        return [
            (ctx.t("tile.closed"), "closed"),
            (ctx.t("tile.next_open", when=ctx.catalogs.when(ctx.lang, dep.next_open)), "closed"),
        ]

    def refresh(self, ctx: Ctx) -> None:
        c = ctx.controller
        r = c.resident
        typing = self._refresh_controls(ctx)
        self._ctx = ctx
        wide = c.kiosk_config.screen_width_px >= self.NARROW_PX
        columns = 1 if typing else self.COLUMNS if wide else self.COLUMNS - 1
        departments = c.menu.departments()
        signature = (
            ctx.lang,
            r.choose_mode,
            r.category,
            r.search,
            tuple(departments),
            id(ctx.catalogs),
            c.resident.large_text,
            columns,
        )
        if signature == self._signature:
            return
        self._signature = signature
        clear_layout(self.categories_layout)
        clear_layout(self.tiles_layout)
        if signature[:4] != (self._signature_before or ())[:4]:
            self.tiles.to_start()  # another list (search, category, mode): from its first page
        self._signature_before = signature
        for column in range(self.COLUMNS):  # columns of one width, whatever the tiles' texts
            self.tiles_layout.setColumnStretch(column, 1 if column < columns else 0)
        if r.choose_mode == "procedure":
            self._fill_categories(ctx)
            shown = self._fill_procedures(ctx, columns)
        else:
            for i, dep in enumerate(departments):
                tile = TileButton(f"tile-department-{dep.id}")
                name = configured_name(ctx, "department", dep.id, c.department_name(dep.id, ctx.lang))
                tile.set_content(name_html(name), self._status_lines(ctx, dep))
                tile.clicked.connect(lambda _=False, did=dep.id: c.select_department(did))
                self.tiles_layout.addWidget(tile, i // columns, i % columns)
            shown = len(departments)
        self.empty.setText(ctx.h("choose.none_found") if shown == 0 else "")
        self.empty.setVisible(shown == 0)

    def _refresh_controls(self, ctx: Ctx) -> bool:
        """The mode buttons, the search field and the keyboard; whether the keyboard is open."""
        r = ctx.controller.resident
        self.title.setText(ctx.h("choose.title"))
        self.by_procedure.setText(ctx.t("choose.by_procedure"))
        self.by_department.setText(ctx.t("choose.by_department"))
        self.by_procedure.setChecked(r.choose_mode == "procedure")
        self.by_department.setChecked(r.choose_mode == "department")
        self.search.setPlaceholderText(search_hint(ctx))
        if self.search.text() != r.search:
            self.search.setText(r.search)
        if self.keyboard.text() != r.search:
            self.keyboard.set_text(r.search)
        by_procedure = r.choose_mode == "procedure"
        typing = by_procedure and self.keyboard_toggle.isChecked()
        self.search.setVisible(by_procedure)
        self.keyboard_toggle.setVisible(by_procedure)
        self.keyboard_toggle.setText(ctx.t("choose.keyboard_close" if typing else "choose.keyboard_open"))
        self.keyboard.setVisible(typing)
        self.keyboard.set_labels(ctx.t)
        self.categories_scroll.setVisible(by_procedure and not typing)
        return typing

    def _fill_categories(self, ctx: Ctx) -> None:
        c = ctx.controller
        categories: list[str | None] = [None, *c.menu.categories()]
        for category in categories:
            b = TileButton(f"category-{category or 'all'}")
            b.setCheckable(True)
            b.set_content(
                ctx.h("choose.all_categories") if category is None else _category_html(ctx, category), []
            )
            b.setChecked(c.resident.category == category)
            b.set_checked_look(c.resident.category == category)
            b.clicked.connect(lambda _=False, cat=category: c.set_category(cat))
            self.categories_layout.addWidget(b)
        self.categories_layout.addStretch(1)

    def _fill_procedures(self, ctx: Ctx, columns: int) -> int:
        c = ctx.controller
        items = c.visible_procedures()
        for i, proc in enumerate(items):
            tile = TileButton(f"tile-procedure-{proc.id}")
            fallback = proc.name_ja if ctx.lang in ("ja", "ja-easy") else proc.name_en
            name = name_html(configured_name(ctx, "procedure", proc.id, fallback))
            department = configured_name(
                ctx, "department", proc.department.id, c.department_name(proc.department.id, ctx.lang)
            )
            lines: list[tuple[str, str | None]] = [
                (ctx.catalogs.category(ctx.lang, proc.category) + " / " + plain_of(department), "subtitle")
            ]
            lines += self._status_lines(ctx, proc.department)
            if proc.convenience_store:
                lines.append((ctx.t("tile.convenience"), None))
            tile.set_content(name, lines)
            tile.clicked.connect(lambda _=False, pid=proc.id: c.select_procedure(pid))
            self.tiles_layout.addWidget(tile, i // columns, i % columns)
        return len(items)
