"""The officer's real camera, microphone and speaker (headset) as MediaSources for the console.

Opened once for the whole console session; every call gets fresh tracks over the same devices. A device that
is missing or fails does not stop the console: the camera track shows its "unavailable" picture, the
microphone sends nothing, and received audio is drained so aiortc's queue cannot grow.
"""

from __future__ import annotations

import contextlib
import logging

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from hardware.audio import Microphone
from hardware.camera import CameraSource, CameraTrack
from hardware.echo import create_echo_canceller
from hardware.health import DeviceHealth
from hardware.speaker import Speaker

log = logging.getLogger(__name__)


def _load_portaudio() -> None:
    """Import sounddevice (which initialises PortAudio) on the calling thread — the Qt/asyncio thread.

    hardware.audio opens streams in worker threads and imports sounddevice lazily there; PortAudio's first
    initialisation on a worker thread while Qt runs crashed the process (segfault in Pa_Initialize) here."""
    try:
        import sounddevice  # noqa: F401
    except OSError as exc:  # no PortAudio (Debian libportaudio2): the devices report it in their health
        log.warning("no PortAudio: %s", exc)


class DeviceMedia:
    def __init__(
        self,
        camera: str | int | None = 0,
        audio_in: str | None = None,
        audio_out: str | None = None,
        *,
        width: int = 640,
        height: int = 480,
        fps: int = 15,
        echo_cancellation: bool = True,
    ):
        self.camera = None if camera is None else CameraSource(camera, width, height, fps, label="officer")
        echo, detail = create_echo_canceller(echo_cancellation)
        self.speaker = Speaker(audio_out, echo=echo)
        self.microphone = Microphone(audio_in, echo=echo, echo_wanted=echo_cancellation, echo_detail=detail)

    async def start(self) -> DeviceMedia:
        _load_portaudio()
        if self.camera is not None:
            self.camera.start()
        await self.microphone.start()
        await self.speaker.start()
        return self

    async def close(self) -> None:
        if self.camera is not None:
            self.camera.close()
        await self.microphone.close()
        await self.speaker.close()

    def health(self) -> dict[str, DeviceHealth]:
        devices = {"microphone": self.microphone.health(), "speaker": self.speaker.health()}
        if self.camera is not None:
            devices["camera"] = self.camera.health()
        return devices

    def camera_track(self) -> MediaStreamTrack | None:
        return CameraTrack(self.camera) if self.camera is not None else None

    def microphone_track(self) -> MediaStreamTrack | None:
        return self.microphone.track()

    async def play_remote_audio(self, track: MediaStreamTrack) -> None:
        try:
            await self.speaker.play_remote_audio(track)
        except MediaStreamError:
            return
        except Exception as exc:  # a failing speaker must not leave the received audio queued
            log.warning("speaker failed (%s); discarding the call's audio", exc)
            with contextlib.suppress(MediaStreamError):
                while True:
                    await track.recv()
