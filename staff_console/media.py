"""The officer's own camera and microphone with the console's switches: mute, camera off, self-view.

``ConsoleMedia`` wraps any ``MediaSources`` (real devices or simulated ones). While muted the microphone
track sends silence of the same format; with the camera off the video track sends black frames of the same
size, so the peer connection never renegotiates. A small copy of every outgoing camera frame goes to
``self_view`` (newest frame only) for the small self-view.
"""

from __future__ import annotations

from typing import cast

import av
import numpy as np
from aiortc import MediaStreamTrack

from remote_call.party import MediaSources
from remote_call.session import LatestFrame

SELF_VIEW_WIDTH = 320  # the self-view is small: a 320-pixel-wide copy is plenty


class SwitchableVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, inner: MediaStreamTrack, owner: ConsoleMedia):
        super().__init__()
        self._inner = inner
        self._owner = owner
        self._black: av.VideoFrame | None = None

    async def recv(self) -> av.VideoFrame:
        frame = cast(av.VideoFrame, await self._inner.recv())  # aiortc types recv() for every kind of track
        if self._owner.camera_on:
            if not self._owner.feeds_self_view(self):
                return frame
            # The self-view gets its own small copy: the frame itself goes to the VP8 encoder, which reformats
            # it in a worker thread, and PyAV deadlocks when two threads reformat the same frame at once.
            width = min(SELF_VIEW_WIDTH, frame.width) & ~1
            height = max(2, int(frame.height * width / frame.width) & ~1)
            self._owner.self_view.push(frame.reformat(width, height, "rgb24"))
            return frame
        if self._black is None or (self._black.width, self._black.height) != (frame.width, frame.height):
            pixels = np.zeros((frame.height, frame.width, 3), np.uint8)
            self._black = av.VideoFrame.from_ndarray(pixels, "bgr24")
        black = self._black.reformat(format="yuv420p")
        black.pts, black.time_base = frame.pts, frame.time_base
        self._owner.self_view.clear()
        return black

    def stop(self) -> None:
        super().stop()
        self._inner.stop()


class SwitchableAudioTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, inner: MediaStreamTrack, owner: ConsoleMedia):
        super().__init__()
        self._inner = inner
        self._owner = owner

    async def recv(self) -> av.AudioFrame:
        frame = cast(av.AudioFrame, await self._inner.recv())  # an audio track's frames
        if not self._owner.muted:
            return frame
        silent = av.AudioFrame.from_ndarray(
            np.zeros_like(frame.to_ndarray()), format=frame.format.name, layout=frame.layout.name
        )
        silent.sample_rate, silent.pts, silent.time_base = frame.sample_rate, frame.pts, frame.time_base
        return silent

    def stop(self) -> None:
        super().stop()
        self._inner.stop()


class ConsoleMedia:
    """MediaSources with the officer's switches; one instance for the whole console session."""

    def __init__(self, inner: MediaSources):
        self.inner = inner
        self.muted = False
        self.camera_on = True
        self.self_view = LatestFrame()
        self._self_view_track: MediaStreamTrack | None = None

    def feeds_self_view(self, track: MediaStreamTrack) -> bool:
        """Whether ``track``'s frames make the self-view: one live track of the call does. Each peer
        connection has its own camera track (three in a call with an interpreter and a guest), and a copy
        per track tripled a reformat on the event loop: ~9 % of the test process's loop in a py-spy profile
        of a four-party call."""
        current = self._self_view_track
        if current is None or current.readyState == "ended":
            self._self_view_track = current = track
        return current is track

    def camera_track(self) -> MediaStreamTrack | None:
        track = self.inner.camera_track()
        return None if track is None else SwitchableVideoTrack(track, self)

    def microphone_track(self) -> MediaStreamTrack | None:
        track = self.inner.microphone_track()
        return None if track is None else SwitchableAudioTrack(track, self)

    async def play_remote_audio(self, track: MediaStreamTrack) -> None:
        await self.inner.play_remote_audio(track)

    def health(self) -> dict:
        """The devices' health (name -> hardware.health.DeviceHealth), when the wrapped sources report it."""
        health = getattr(self.inner, "health", None)
        return health() if callable(health) else {}

    def set_muted(self, muted: bool) -> None:
        self.muted = muted

    def set_camera(self, on: bool) -> None:
        self.camera_on = on
