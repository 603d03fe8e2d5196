"""The ring sound: a two-tone chime repeated until the call is answered, declined or withdrawn.

Played on the default output through sounddevice when there is one; otherwise the system beep. The ring is
also visual (the ring panel flashes), so a console without speakers still cannot miss a call.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

PERIOD_MS = 2000


class Ringer(QObject):
    def __init__(self, parent: QObject | None = None, *, use_sound_device: bool = True):
        super().__init__(parent)
        self.playing = False
        self.rings = 0  # how many times the chime sounded (or beeped) since start
        self.backend = "none"
        self._sd = None
        self._chime = None
        if use_sound_device:
            try:
                import sounddevice as sd

                from hardware.speaker import chime

                sd.query_devices(kind="output")
                self._sd, self._chime, self.backend = sd, chime(), "sounddevice"
            except Exception as exc:  # no PortAudio, or no output device
                log.info("ring sound: no audio output (%s); using the system beep", exc)
        if self._sd is None:
            self.backend = "beep"
        self._timer = QTimer(self)
        self._timer.setInterval(PERIOD_MS)
        self._timer.timeout.connect(self._sound)

    def start(self) -> None:
        if self.playing:
            return
        self.playing = True
        self.rings = 0
        self._sound()
        self._timer.start()

    def stop(self) -> None:
        self.playing = False
        self._timer.stop()
        if self._sd is not None:
            try:
                self._sd.stop()
            except Exception as exc:
                log.debug("stopping the ring sound: %s", exc)

    def _sound(self) -> None:
        self.rings += 1
        if self._sd is not None:
            try:
                self._sd.play(self._chime, 48_000, blocking=False)
                return
            except Exception as exc:
                log.info("ring sound failed (%s); using the system beep", exc)
                self._sd, self.backend = None, "beep"
        QApplication.beep()
