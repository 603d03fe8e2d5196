"""The kiosk's screens on the way to a call and after it (the call itself is ``view.in_call``). Each builds
its widgets once and ``refresh(ctx)`` fills them from the controller; every button only forwards the touch
to a controller method."""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk_client.controller import KioskController
from kiosk_client.i18n import LANGUAGES
from kiosk_client.rating import RATINGS
from kiosk_client.view.appointment import AppointmentScreen
from kiosk_client.view.base import Ctx, Screen, panel, run
from kiosk_client.view.choose import ChooseScreen
from kiosk_client.view.in_call import InCallScreen
from kiosk_client.view.other_languages import OtherLanguages
from kiosk_client.view.paging import PagedScroll
from kiosk_client.view.theme import FONT_FAMILIES
from kiosk_client.view.widgets import VideoView, button, label

# ------------------------------------------------------------------------------------------ welcome


class WelcomeScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        # Under a trouble banner, with larger text, the welcome can outgrow the screen: it scrolls then.
        content = QWidget()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.paged = PagedScroll("welcome", content)  # with その他の言語 open, large text: page buttons
        outer.addWidget(self.paged)
        layout = QVBoxLayout(content)
        layout.setContentsMargins(80, 16, 80, 16)
        layout.setSpacing(18)
        self.title = label(role="big", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.subtitle = label(role="subtitle", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.prompt = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addSpacing(8)
        layout.addWidget(self.prompt)
        # "Choose a language" in every other language too, each in its own script's font.
        self.prompt_others = label(role="subtitle", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.prompt_others.setObjectName("welcome-choose-all")
        layout.addWidget(self.prompt_others)
        grid = QGridLayout()
        grid.setSpacing(24)
        self.languages: dict[str, QPushButton] = {}
        for i, lang in enumerate(LANGUAGES):
            b = button(f"lang-{lang}", "primary")
            b.setProperty("big", "true")
            b.clicked.connect(lambda _=False, lang=lang: controller.choose_language(lang))
            self.languages[lang] = b
            grid.addWidget(b, i // 3, i % 3)
        layout.addLayout(grid)
        self.other = OtherLanguages(controller, list(self.languages.values()))  # その他の言語（通訳つき）
        self.other_button = button("lang-other", wrap=True)
        self.other_button.clicked.connect(self.other.toggle)
        layout.addWidget(self.other)
        self.appointment = button("welcome-appointment", wrap=True)  # 予約のある方
        self.appointment.setProperty("big", "true")
        self.appointment.clicked.connect(controller.appointment.open)
        bottom = QHBoxLayout()  # 予約のある方, and その他の言語（通訳つき） beside it
        bottom.addWidget(self.appointment, 1)
        bottom.addWidget(self.other_button, 1)
        layout.addLayout(bottom)
        layout.addStretch(2)

    def refresh(self, ctx: Ctx) -> None:
        city = ctx.controller.city.name_ja if ctx.lang in ("ja", "ja-easy") else ctx.controller.city.name_en
        self.title.setText(ctx.h("welcome.title", city=city))
        self.subtitle.setText(ctx.h("welcome.subtitle"))
        self.prompt.setText(ctx.h("welcome.choose_language"))
        others = [
            f"<span style=\"font-family: '{FONT_FAMILIES[lang]}'\">"
            f"{ctx.catalogs.html(lang, 'welcome.choose_language')}</span>"
            for lang in LANGUAGES
            if lang != ctx.lang and not (ctx.lang.startswith("ja") and lang.startswith("ja"))
        ]
        self.prompt_others.setText("&nbsp;／ ".join(others))
        for lang, b in self.languages.items():
            b.setText(ctx.catalogs.text(lang, "language.self_name"))
        own = ctx.t("welcome.appointment")  # before a language is chosen: also in English
        english = ctx.catalogs.text("en", "welcome.appointment")
        self.appointment.setText(own if ctx.lang == "en" else f"{own} / {english}")
        other, other_en = ctx.t("welcome.other_language"), ctx.catalogs.text("en", "welcome.other_language")
        self.other_button.setText(other if ctx.lang == "en" else f"{other} / {other_en}")
        self.other.refresh(ctx)

    def clear_resident(self) -> None:
        self.other.clear_resident()


# ------------------------------------------------------------------------------------------ consent


class ConsentScreen(Screen):
    KEYS = ("consent.camera", "consent.microphone", "consent.scanner", "consent.no_recording")

    def __init__(self, controller: KioskController):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(160, 30, 160, 30)
        layout.setSpacing(22)
        self.title = label(role="title", rich=True)
        layout.addWidget(self.title)
        box = panel()
        inner = QVBoxLayout(box)
        inner.setContentsMargins(36, 28, 36, 28)
        inner.setSpacing(22)
        self.items = []
        for key in self.KEYS:
            item = label(rich=True)
            if key == "consent.no_recording":
                item.setStyleSheet("font-weight: bold;")
            self.items.append(item)
            inner.addWidget(item)
        # Long languages with larger text page (view/paging.py); the buttons stay on screen.
        layout.addWidget(PagedScroll("consent", box), 1)
        row = QHBoxLayout()
        self.decline = button("consent-decline")
        self.agree = button("consent-agree", "primary")
        self.decline.clicked.connect(controller.home)
        self.agree.clicked.connect(controller.accept_consent)
        row.addWidget(self.decline, 1)
        row.addWidget(self.agree, 2)
        layout.addLayout(row)

    def refresh(self, ctx: Ctx) -> None:
        self.title.setText(ctx.h("consent.title"))
        for item, key in zip(self.items, self.KEYS, strict=True):
            item.setText(ctx.h(key))
        self.decline.setText(ctx.t("consent.decline"))
        self.agree.setText(ctx.t("consent.agree"))


# ------------------------------------------------------------------------------------------ preflight


class PreflightScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        self.controller = controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(60, 20, 60, 20)
        layout.setSpacing(16)
        self.title = label(role="title", rich=True)
        layout.addWidget(self.title)
        body = QHBoxLayout()
        body.setSpacing(30)
        left = QVBoxLayout()
        self.preview = VideoView("preflight-video", lambda: controller.media.preview.frame, mirror=True)
        self.preview.setMinimumSize(640, 400)
        self.camera_hint = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        left.addWidget(self.camera_hint)
        left.addWidget(self.preview, 1)
        body.addLayout(left, 3)
        right = QVBoxLayout()
        right.setSpacing(18)
        self.mic_hint = label(rich=True)
        self.meter = QProgressBar()
        self.meter.setObjectName("mic-meter")
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self.device_notes = label(rich=True)
        right.addStretch(1)
        right.addWidget(self.mic_hint)
        right.addWidget(self.meter)
        right.addWidget(self.device_notes)
        right.addStretch(1)
        self.hearing = button("preflight-hearing", checkable=True, wrap=True)  # 聴覚: 筆談 in the call
        self.hearing.clicked.connect(controller.desk.toggle_hearing)
        right.addWidget(self.hearing)
        self.call = button("preflight-call", "primary")
        self.call.clicked.connect(lambda: run(controller.call_officer()))
        right.addWidget(self.call)
        body.addLayout(right, 2)
        layout.addLayout(body, 1)

    def tick(self) -> None:
        self.preview.tick()
        # The meter reads in dBFS-ish steps: speech at -30 dBFS fills about half.
        level = self.controller.media.mic_level
        self.meter.setValue(0 if level <= 0 else max(0, min(100, int(100 + 20 * 2.5 * _log10(level)))))

    def refresh(self, ctx: Ctx) -> None:
        self.title.setText(ctx.h("preflight.title"))
        self.camera_hint.setText(ctx.h("preflight.camera_hint"))
        self.mic_hint.setText(ctx.h("preflight.mic_hint"))
        notes = []
        if ctx.controller.device_unusable("camera"):
            notes.append(ctx.h("trouble.camera"))
        if ctx.controller.device_unusable("microphone"):
            notes.append(ctx.h("trouble.microphone"))
        self.device_notes.setText("<br>".join(notes))
        self.device_notes.setVisible(bool(notes))
        self.hearing.setText(ctx.t("preflight.hearing"))
        self.hearing.setChecked(ctx.controller.resident.hearing)
        self.call.setText(ctx.t("preflight.call"))

    def clear_resident(self) -> None:
        self.preview.clear()
        self.meter.setValue(0)


def _log10(x: float) -> float:
    return math.log10(max(x, 1e-6))


# ------------------------------------------------------------------------------------------ waiting


class WaitingScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(120, 40, 120, 40)
        layout.setSpacing(28)
        self.title = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.department = label(role="subtitle", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.position = label(role="big", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.minutes = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(1)
        for widget in (self.title, self.department, self.position, self.minutes):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.cancel = button("waiting-cancel")
        self.cancel.clicked.connect(controller.cancel_wait)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel, 2)
        row.addStretch(1)
        layout.addLayout(row)

    def refresh(self, ctx: Ctx) -> None:
        c = ctx.controller
        r = c.resident
        self.title.setText(ctx.h("waiting.title"))
        self.department.setText(c.department_name(r.department, ctx.lang))
        slot = r.appointment_slot
        if slot is not None and r.position is None:  # checked in early: the slot time, not a place
            self.position.setText(ctx.h("waiting.appointment", when=ctx.catalogs.when(ctx.lang, slot)))
            self.minutes.setText(ctx.h("waiting.appointment_early"))
        elif r.position is None:
            self.position.setText(ctx.h("waiting.requested"))
            self.minutes.setText("")
        else:
            self.position.setText(ctx.h("waiting.position", position=r.position))
            minutes = c.wait_minutes()
            self.minutes.setText(
                ctx.h("waiting.minutes", minutes=minutes)
                if minutes and r.position > 1
                else ctx.h("waiting.soon")
            )
        self.cancel.setText(ctx.t("waiting.cancel"))


class ConnectingScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        layout = QVBoxLayout(self)
        self.title = label(role="big", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.officer = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.officer)
        layout.addStretch(1)

    def refresh(self, ctx: Ctx) -> None:
        self.title.setText(ctx.h("connecting.title"))
        name = ctx.controller.resident.officer_name
        self.officer.setText(ctx.h("call.officer", name=name) if name else "")


# ------------------------------------------------------------------------------------------ in call


# ------------------------------------------------------------------------------------------ after call


class AfterCallScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(160, 40, 160, 40)
        layout.setSpacing(24)
        self.title = label(role="big", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.slip = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.slip.setObjectName("slip-note")
        self.question = label(rich=True, align=Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.slip)
        layout.addSpacing(20)
        layout.addWidget(self.question)
        row = QHBoxLayout()
        self.ratings: dict[str, QPushButton] = {}
        for rating in RATINGS:
            b = button(f"rating-{rating}", checkable=True)
            b.clicked.connect(lambda _=False, rating=rating: controller.rate(rating))
            self.ratings[rating] = b
            row.addWidget(b)
        layout.addLayout(row)
        self.thanks = label(rich=True, align=Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.thanks)
        layout.addStretch(1)
        self.finish = button("finish", "primary")
        self.finish.clicked.connect(controller.finish)
        layout.addWidget(self.finish)

    def refresh(self, ctx: Ctx) -> None:
        c = ctx.controller
        r = c.resident
        cancelled = r.end_reason == "cancelled"
        self.title.setText(ctx.h("after.cancelled" if cancelled else "after.title"))
        if r.slip is None:
            self.slip.setText("")
        elif r.slip.ok:
            self.slip.setText(ctx.h("after.slip_printed"))
        else:
            self.slip.setText(ctx.h("after.slip_failed", phone=c.city.phone))
        self.question.setText("" if cancelled else ctx.h("after.rating_question"))
        for rating, b in self.ratings.items():
            b.setText(ctx.t(f"rating.{rating}"))
            b.setChecked(r.rating == rating)
            b.setVisible(not cancelled)
        self.thanks.setText(ctx.h("after.rating_thanks") if r.rating else "")
        self.finish.setText(ctx.t("after.finish"))


# ------------------------------------------------------------------------------------------ service


class ServiceScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        self.controller = controller
        self.entered = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(600, 30, 600, 30)
        layout.setSpacing(14)
        self.title = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.prompt = label(rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.display = label(role="big", align=Qt.AlignmentFlag.AlignCenter)
        self.message = label(rich=True, align=Qt.AlignmentFlag.AlignCenter)
        for widget in (self.title, self.prompt, self.display, self.message):
            layout.addWidget(widget)
        grid = QGridLayout()
        grid.setSpacing(12)
        for i, digit in enumerate("123456789"):
            b = button(f"pin-{digit}")
            b.setText(digit)
            b.clicked.connect(lambda _=False, d=digit: self._digit(d))
            grid.addWidget(b, i // 3, i % 3)
        self.clear_button = button("pin-clear")
        self.clear_button.clicked.connect(self._clear)
        zero = button("pin-0")
        zero.setText("0")
        zero.clicked.connect(lambda: self._digit("0"))
        self.exit_button = button("pin-exit", "danger")
        self.exit_button.clicked.connect(self._submit)
        grid.addWidget(self.clear_button, 3, 0)
        grid.addWidget(zero, 3, 1)
        grid.addWidget(self.exit_button, 3, 2)
        layout.addLayout(grid)
        self.cancel = button("service-cancel")
        self.cancel.clicked.connect(controller.leave_service)
        layout.addWidget(self.cancel)
        layout.addStretch(1)
        self._render_ctx: Ctx | None = None

    def _digit(self, digit: str) -> None:
        if len(self.entered) < 12:
            self.entered += digit
        self.display.setText("●" * len(self.entered))

    def _clear(self) -> None:
        self.entered = ""
        self.display.setText("")

    def _submit(self) -> None:
        entered, self.entered = self.entered, ""
        self.display.setText("")
        self.controller.enter_pin(entered)

    def clear_resident(self) -> None:
        self._clear()

    def refresh(self, ctx: Ctx) -> None:
        self.title.setText(ctx.h("service.title"))
        self.prompt.setText(ctx.h("service.pin"))
        message = ctx.controller.service_message
        self.message.setText(ctx.h(message) if message else "")
        self.clear_button.setText(ctx.t("service.clear"))
        self.exit_button.setText(ctx.t("service.exit"))
        self.cancel.setText(ctx.t("service.cancel"))


SCREEN_CLASSES: dict[str, Callable[[KioskController], Screen]] = {
    "welcome": WelcomeScreen,
    "choose": ChooseScreen,
    "consent": ConsentScreen,
    "preflight": PreflightScreen,
    "waiting": WaitingScreen,
    "connecting": ConnectingScreen,
    "in_call": InCallScreen,
    "after_call": AfterCallScreen,
    "service": ServiceScreen,
    "appointment": AppointmentScreen,
}
