"""The interpreter on the kiosk's call screen: their video beside the officer's, and where the request stands.

Spoken languages: the officer stays large, the interpreter smaller beside (2:1). Japanese Sign Language
("jsl"): the interpreter is the one the resident watches, so the interpreter is large and the officer smaller
(1:3). Nothing is shown while the call has no interpreter request.
"""

from __future__ import annotations

from PySide6.QtWidgets import QBoxLayout, QVBoxLayout, QWidget

from kiosk_client.controller import KioskController
from kiosk_client.view.base import Ctx
from kiosk_client.view.widgets import VideoView, label

STRETCH_SPOKEN = (2, 1)  # officer, interpreter
STRETCH_SIGN = (1, 3)
STATUS_KEYS = {
    "waiting": "interpreter.waiting",
    "ringing": "interpreter.ringing",
    "left": "interpreter.left",
    "unavailable": "interpreter.unavailable",
    "no_answer": "interpreter.unavailable",
    "cancelled": "interpreter.left",
}


class InterpreterVideo(QWidget):
    """Added to the layout holding the officer's video; ``refresh`` arranges the two."""

    def __init__(self, controller: KioskController, row: QBoxLayout, officer_video: VideoView) -> None:
        super().__init__()
        self.setObjectName("interpreter-pane")
        self.controller = controller
        self._row = row
        self._officer = officer_video
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.status = label(role="title", rich=True)
        layout.addWidget(self.status)
        self.video = VideoView("interpreter-video", lambda: controller.conference.latest_frame("interpreter"))
        layout.addWidget(self.video, 1)
        row.addWidget(self, 0)
        self.hide()

    @property
    def sign_language(self) -> bool:
        status = self.controller.conference.interpreter
        return status is not None and status.language == "jsl"

    def tick(self) -> None:
        if self.isVisible():
            self.video.tick()

    def refresh(self, ctx: Ctx) -> None:
        conference = self.controller.conference
        status = conference.interpreter
        joined = "interpreter" in conference.links
        self.setVisible(status is not None or joined)
        if not self.isVisible():
            return
        language = ctx.t(f"interpreter.lang.{status.language}") if status is not None else ""
        self.video.caption = ctx.t("interpreter.caption", language=language)
        self.video.setVisible(joined)
        key = "interpreter.joined" if joined else STATUS_KEYS.get(status.state if status else "", "")
        values = {"language": language, "position": status.position if status and status.position else 1}
        self.status.setText(ctx.h(key, **values) if key else "")
        officer, interpreter = STRETCH_SIGN if self.sign_language and joined else STRETCH_SPOKEN
        self._row.setStretchFactor(self._officer, officer)
        self._row.setStretchFactor(self, interpreter if joined else 0)

    def clear(self) -> None:
        self.video.clear()
        self.status.setText("")
        self.hide()
