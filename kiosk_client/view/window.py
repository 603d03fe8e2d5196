"""The kiosk window: a top bar (text size, colours, back, start over), a trouble banner, the current screen
and the idle countdown. It re-renders from the controller on every controller event and forwards every touch.

Kiosk mode (``kiosk_mode=True``): frameless, full screen, always on top, and closing is refused unless the
IT exit (corner long-press + PIN) was completed in the controller.
"""

from __future__ import annotations

import contextlib
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk_client.controller import CALL_SCREENS, KioskController, Screen
from kiosk_client.geometry import min_touch_px
from kiosk_client.i18n import Catalogs, catalogs
from kiosk_client.view.base import Ctx
from kiosk_client.view.base import Screen as ScreenWidget
from kiosk_client.view.help import HelpPanel
from kiosk_client.view.paging import PagedScroll
from kiosk_client.view.screens import SCREEN_CLASSES
from kiosk_client.view.theme import FIT_STEPS, Theme
from kiosk_client.view.widgets import button, enable_flick, label

VIDEO_FPS = 30
PRESS_EVENTS = (QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin)
RELEASE_EVENTS = (QEvent.Type.MouseButtonRelease, QEvent.Type.TouchEnd, QEvent.Type.TouchCancel)


class KioskWindow(QWidget):
    def __init__(
        self,
        controller: KioskController,
        *,
        messages: Catalogs | None = None,
        kiosk_mode: bool = False,
        video_fps: int = VIDEO_FPS,
    ):
        super().__init__()
        self.controller = controller
        self.catalogs = messages or catalogs()
        self.kiosk_mode = kiosk_mode
        self._allow_close = not kiosk_mode
        kiosk = controller.kiosk_config
        self.screen_size = (kiosk.screen_width_px, kiosk.screen_height_px)
        self.min_touch_px = min_touch_px(
            kiosk.screen_diagonal_inch, kiosk.screen_width_px, kiosk.screen_height_px
        )
        self.setObjectName("kiosk-window")
        self.setWindowTitle("Remote Madoguchi kiosk")
        self.resize(*self.screen_size)
        if kiosk_mode:
            self.setWindowFlags(Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)

        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        root.addWidget(self._build_top_bar())
        root.addWidget(self._build_notice())
        root.addWidget(self._build_screens(), 1)
        root.addWidget(self._build_idle_bar())
        self.idle_bar.hide()
        self.help = HelpPanel(self)  # over the screen, outside the layout
        for area in self.findChildren(QScrollArea):
            enable_flick(area)  # every list that can be longer than the screen scrolls with a flick
        self.pagers = self.findChildren(PagedScroll)  # ... and has page buttons (view/paging.py)
        self._pagers_in: tuple[str, int] | None = None

        self._theme_key: tuple | None = None
        self.renders = 0
        self.frozen = False  # screenshots/tests: set up a whole stage, then render once
        self.unsubscribe = controller.events.subscribe(self._on_event)
        self.video_timer = QTimer(self)
        self.video_timer.setInterval(max(1, 1000 // video_fps))
        self.video_timer.timeout.connect(self._tick)
        self.video_timer.start()
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.refresh()

    def _build_top_bar(self) -> QFrame:
        """Text size, colours, back and start over."""
        c = self.controller
        top = QFrame()
        top.setProperty("role", "panel")
        top_layout = QHBoxLayout(top)
        top_layout.setContentsMargins(24, 8, 24, 8)
        # The buttons keep the width their text needs; the title takes what is left (``_fit_title``). At
        # 1280x800 with larger text the buttons need 769 px in English and 982 px in easy Japanese: the title
        # at its full size (522 px in English) squeezed them until their text was clipped (issue #15).
        self.app_title = label(role="title", rich=True, wrap=False)
        self.app_title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top_layout.addWidget(self.app_title, 1)
        self.back_button = button("top-back")
        self.home_button = button("top-home")
        self.text_button = button("top-larger-text", checkable=True)
        self.contrast_button = button("top-contrast", checkable=True)
        self.back_button.clicked.connect(c.back)
        self.home_button.clicked.connect(c.home)
        self.text_button.clicked.connect(c.toggle_large_text)
        self.contrast_button.clicked.connect(c.toggle_high_contrast)
        self.help_button = button("top-help", "help")  # 困ったとき, on every screen
        self.help_button.clicked.connect(self._toggle_help)
        for b in (
            self.back_button,
            self.home_button,
            self.text_button,
            self.contrast_button,
            self.help_button,
        ):
            b.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
            top_layout.addWidget(b)
        self.top_bar = top
        self._top_layout = top_layout
        self._title_px = 0
        return top

    def _fit_title(self) -> None:
        """The title gets the room the shown buttons leave: its font steps down (``theme.FIT_STEPS``) until
        it fits on one line; if even the smallest step is too wide, it wraps."""
        layout = self._top_layout
        buttons = [b for b in self.top_bar.findChildren(QPushButton) if not b.isHidden()]
        margins = layout.contentsMargins()
        frame = self.top_bar.width() - self.top_bar.contentsRect().width()
        room = self.width() - frame - margins.left() - margins.right()
        room -= sum(b.sizeHint().width() + layout.spacing() for b in buttons)
        title = self.app_title
        for factor in (1.0, *FIT_STEPS.values()):
            self._set_title_px(round(self.theme.title_px * factor))
            title.setWordWrap(False)
            if title.sizeHint().width() <= room:
                return
        title.setWordWrap(True)

    def _set_title_px(self, px: int) -> None:
        if px != self._title_px:
            self._title_px = px
            self.app_title.setStyleSheet(f"font-size: {px}px;")
            self.app_title.ensurePolished()

    def _toggle_help(self) -> None:
        self.help.toggle()
        self._place_help()

    def _place_help(self) -> None:
        if self.help.isVisible():
            top = self.top_bar.geometry().bottom() if self.top_bar.isVisible() else 0
            self.help.place(self.rect().adjusted(0, top + 1, 0, 0))

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if hasattr(self, "theme"):  # not before the first refresh
            self._fit_title()
        self._place_help()

    def _build_notice(self) -> QFrame:
        """The trouble banner (server unreachable, department closed, ...)."""
        self.notice = QFrame()
        self.notice.setProperty("role", "notice")
        notice_layout = QHBoxLayout(self.notice)
        notice_layout.setContentsMargins(24, 12, 24, 12)
        self.notice_text = label(rich=True)
        self.notice_text.setObjectName("notice-text")
        notice_layout.addWidget(self.notice_text)
        return self.notice

    def _build_screens(self) -> QStackedWidget:
        self.stack = QStackedWidget()
        self.screens: dict[str, ScreenWidget] = {}
        for name, cls in SCREEN_CLASSES.items():
            widget = cls(self.controller)
            widget.setObjectName(f"screen-{name}")
            # A page's own minimum must not size the others (QStackedWidget takes the largest of all).
            widget.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
            self.screens[name] = widget
            self.stack.addWidget(widget)
        return self.stack

    def _build_idle_bar(self) -> QFrame:
        """The privacy countdown with its "continue" button."""
        self.idle_bar = QFrame()
        self.idle_bar.setProperty("role", "notice")
        idle_layout = QHBoxLayout(self.idle_bar)
        idle_layout.setContentsMargins(24, 8, 24, 8)
        self.idle_text = label(rich=True)
        self.idle_text.setObjectName("idle-text")
        self.idle_continue = button("idle-continue", "primary")
        self.idle_continue.clicked.connect(self.controller.touch)
        idle_layout.addWidget(self.idle_text, 1)
        idle_layout.addWidget(self.idle_continue)
        return self.idle_bar

    # ------------------------------------------------------------------ rendering

    @property
    def lang(self) -> str:
        return self.controller.resident.language

    def ctx(self) -> Ctx:
        return Ctx(self.controller, self.catalogs, self.lang)

    def current_screen(self) -> ScreenWidget:
        return self.screens[self.controller.screen.value]

    def _apply_theme(self) -> None:
        r = self.controller.resident
        key = (r.high_contrast, r.large_text, self.lang)
        if key == self._theme_key:
            return
        self._theme_key = key
        theme = Theme.make(
            high_contrast=r.high_contrast,
            large_text=r.large_text,
            min_touch_px=self.min_touch_px,
            screen_height_px=self.screen_size[1],
            language=self.lang,
        )
        self.theme = theme
        self.setStyleSheet(theme.stylesheet())

    def refresh(self) -> None:
        """Re-render the window from the controller (on every controller event)."""
        self.renders += 1
        c = self.controller
        ctx = self.ctx()
        self._apply_theme()
        screen = c.screen
        self.app_title.setText(ctx.h("app.title"))
        self.text_button.setText(ctx.t("top.normal_text" if c.resident.large_text else "top.larger_text"))
        self.text_button.setChecked(c.resident.large_text)
        self.contrast_button.setText(
            ctx.t("top.normal_colors" if c.resident.high_contrast else "top.contrast")
        )
        self.contrast_button.setChecked(c.resident.high_contrast)
        own_help, english_help = ctx.t("help.button"), self.catalogs.text("en", "help.button")
        first = screen is Screen.WELCOME and not c.resident.language_chosen and ctx.lang != "en"
        self.help_button.setText(f"{own_help} / {english_help}" if first else own_help)
        if self._pagers_in != (ctx.lang, id(ctx.catalogs)):
            self._pagers_in = (ctx.lang, id(ctx.catalogs))
            for paged in self.pagers:
                paged.translate(ctx)
        self.help.refresh(ctx)
        self._place_help()
        self.back_button.setText(ctx.t("top.back"))
        self.home_button.setText(ctx.t("top.home"))
        self.back_button.setVisible(screen in (Screen.CHOOSE, Screen.CONSENT, Screen.PREFLIGHT))
        self.home_button.setVisible(screen in (Screen.CHOOSE, Screen.CONSENT, Screen.PREFLIGHT))
        self.top_bar.setVisible(screen is not Screen.SERVICE)
        self._fit_title()
        notice = self._notice_html(ctx)
        self.notice_text.setText(notice)
        self.notice.setVisible(bool(notice))
        widget = self.current_screen()
        if self.stack.currentWidget() is not widget:
            self.stack.setCurrentWidget(widget)
        widget.refresh(ctx)
        self._render_idle(ctx)

    def _notice_html(self, ctx: Ctx) -> str:
        c = self.controller
        notice = c.resident.notice
        if not c.online and (notice is None or notice.key == "trouble.offline"):
            return ctx.h("trouble.offline", phone=c.city.phone)
        if notice is None:
            return ""
        values: dict[str, Any] = {}
        raw = self.catalogs.raw(ctx.lang, notice.key)
        if "{department}" in raw:
            values["department"] = c.department_name(notice.department, ctx.lang)
        if "{when}" in raw:
            values["when"] = self.catalogs.when(ctx.lang, notice.when)
        if "{phone}" in raw:
            values["phone"] = c.city.phone
        return ctx.h(notice.key, **values)

    def _render_idle(self, ctx: Ctx, seconds: int | None = None) -> None:
        idle = self.controller.idle
        seconds = seconds if seconds is not None else idle.seconds_left
        if not idle.warning or seconds is None:
            self.idle_bar.hide()
            return
        key = "after.return_in" if self.controller.screen is Screen.AFTER_CALL else "idle.warning"
        self.idle_text.setText(ctx.h(key, seconds=seconds))
        self.idle_continue.setText(ctx.t("idle.continue"))
        self.idle_continue.setVisible(self.controller.screen is not Screen.AFTER_CALL)
        self.idle_bar.show()

    def _on_event(self, event: str, data: dict[str, Any]) -> None:
        if self.frozen and event != "exit_requested":
            if event == "reset":
                for screen in self.screens.values():
                    screen.clear_resident()
                self.help.hide()
            return
        if event == "idle_warning":
            self._render_idle(self.ctx(), data.get("seconds"))
        elif event in ("idle_cancel", "idle_expired"):
            self.idle_bar.hide()
        elif event == "reset":
            for screen in self.screens.values():
                screen.clear_resident()
            self.help.hide()
            self.refresh()
        elif event == "exit_requested":
            self._allow_close = True
            self.close()
        else:
            self.refresh()

    async def flush_video(self) -> None:
        """Convert and show the newest frames now (screenshots, tests)."""
        from kiosk_client.view.widgets import VideoView

        self._tick()
        for view in self.findChildren(VideoView):
            await view.flush()

    def _tick(self) -> None:
        widget = self.current_screen()
        tick = getattr(widget, "tick", None)
        if tick is not None:
            tick()

    # ------------------------------------------------------------------ touches and kiosk mode

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        ours = isinstance(watched, QWidget) and (watched is self or self.isAncestorOf(watched))
        if ours and kind in PRESS_EVENTS:
            self.controller.touch()
            point = self._event_point(event)
            if point is not None and self.controller.screen not in CALL_SCREENS:
                self.controller.exit_gesture.press(point[0], point[1], self.width(), self.height())
        elif ours and kind in RELEASE_EVENTS:
            self.controller.exit_gesture.release()
        return False  # never swallow the touch

    def _event_point(self, event: QEvent) -> tuple[float, float] | None:
        position = getattr(event, "globalPosition", None)
        if position is None:
            points = getattr(event, "points", None)
            if not points:
                return None
            position = points()[0].globalPosition
        local = self.mapFromGlobal(position().toPoint())
        return float(local.x()), float(local.y())

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._allow_close:
            event.ignore()  # Alt+F4 and friends do nothing in kiosk mode
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        self.video_timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        with contextlib.suppress(ValueError):
            self.unsubscribe()

    def keyPressEvent(self, event: Any) -> None:
        if self.kiosk_mode:
            event.accept()  # no Escape, no shortcuts
            return
        super().keyPressEvent(event)
