"""The family member on the kiosk's call screen: their video in its own tile beside the officer's (and the
interpreter's), captioned 「ご家族」 in the resident's language (docs/guests.md, docs/kiosk.md).

While the family member is in the call the video row is shared (officer : interpreter : family): 2 : 0 : 1
with no interpreter; 4 : 3 : 2 with a spoken-language interpreter, so the interpreter keeps the width it has
without a family member (a third of the row at 2 : 1; at 2 : 1 : 1 its status line in Vietnamese with larger
text on a 1280x800 kiosk needed 427 px of height and had 344) and the officer stays the largest; 1 : 3 : 1 in
the sign-language layout, where the interpreter keeps the large place. Without a family member the
interpreter's pane sets the shares alone (``kiosk_client.view.interpreter``); this pane's ``refresh`` runs
after it. The caption is a label above the video, level with the interpreter's status line, so it wraps
instead of being clipped in a narrow tile. The tile shows only while the guest is in the call; when they
leave, its last frame is dropped at once.
"""

from __future__ import annotations

from PySide6.QtWidgets import QBoxLayout, QVBoxLayout, QWidget

from kiosk_client.guest import GuestTile
from kiosk_client.view.base import Ctx
from kiosk_client.view.interpreter import InterpreterVideo
from kiosk_client.view.widgets import VideoView, label

# (officer, interpreter, family member) shares of the video row while the family member is in the call.
SHARES_NO_INTERPRETER = (2, 0, 1)
SHARES_SPOKEN = (4, 3, 2)
SHARES_SIGN = (1, 3, 1)


def shares(interpreter_joined: bool, sign_language: bool) -> tuple[int, int, int]:
    """The video row's stretch factors with a family member in the call."""
    if not interpreter_joined:
        return SHARES_NO_INTERPRETER
    return SHARES_SIGN if sign_language else SHARES_SPOKEN


class GuestVideo(QWidget):
    """Added to the layout holding the officer's video (after the interpreter's pane)."""

    def __init__(
        self, tile: GuestTile, row: QBoxLayout, officer: QWidget, interpreter: InterpreterVideo
    ) -> None:
        super().__init__()
        self.setObjectName("guest-pane")
        self.tile = tile
        self._row = row
        self._officer = officer
        self._interpreter = interpreter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.caption = label(role="title", rich=True)
        self.caption.setObjectName("guest-caption")
        layout.addWidget(self.caption)
        self.video = VideoView("guest-video", tile.frame)
        layout.addWidget(self.video, 1)
        row.addWidget(self, 0)
        self.hide()

    def tick(self) -> None:
        if self.isVisible():
            self.video.tick()

    def refresh(self, ctx: Ctx) -> None:
        present = self.tile.present
        if not present and not self.isHidden():
            self.clear()  # the guest left: their last frame goes with them
        self.setVisible(present)
        self._arrange(present)
        self.caption.setText(ctx.h("call.guest") if present else "")

    def _arrange(self, present: bool) -> None:
        if not present:
            self._row.setStretchFactor(self, 0)
            return
        interpreter = self._interpreter
        joined = "interpreter" in interpreter.controller.conference.links
        officer, interpreting, family = shares(joined, interpreter.sign_language)
        self._row.setStretchFactor(self._officer, officer)
        self._row.setStretchFactor(interpreter, interpreting)
        self._row.setStretchFactor(self, family)

    def clear(self) -> None:
        self.video.clear()
        self.caption.setText("")
        self.hide()
