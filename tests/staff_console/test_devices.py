"""The console's real-device media: a camera read through OpenCV (a video file as the virtual camera), the
switches of ConsoleMedia on top, and no audio device on this machine handled without failing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np

from staff_console.devices import DeviceMedia
from staff_console.media import ConsoleMedia


def _video(path: Path, frames: int = 30) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (320, 240))
    for i in range(frames):
        image = np.full((240, 320, 3), (40, 160, 220), np.uint8)
        cv2.putText(image, str(i), (20, 200), cv2.FONT_HERSHEY_SIMPLEX, 4, (255, 255, 255), 6)
        writer.write(image)
    writer.release()
    return path


async def test_camera_file_through_console_switches(tmp_path: Path):
    devices = await DeviceMedia(str(_video(tmp_path / "camera.avi")), width=320, height=240).start()
    media = ConsoleMedia(devices)
    track = media.camera_track()
    try:

        async def first_camera_frame():
            while True:
                frame = await track.recv()
                if devices.camera.latest() is not None:
                    return frame

        frame = await asyncio.wait_for(first_camera_frame(), 10)
        assert (frame.width, frame.height) == (320, 240)
        assert devices.camera.health().status == "ok"
        assert media.self_view.count >= 1  # the self-view sees what is sent
        bgr = frame.to_ndarray(format="bgr24")
        assert abs(int(bgr[10, 10, 2]) - 220) < 40  # the file's colour, not the "unavailable" picture
        media.set_camera(False)
        black = await asyncio.wait_for(track.recv(), 10)
        assert black.to_ndarray(format="gray").mean() < 20 and media.self_view.frame is None
        # whether or not this machine has a microphone, each call gets its own track over it
        microphone = media.microphone_track()
        assert microphone is not None and microphone.kind == "audio"
        microphone.stop()
    finally:
        track.stop()
        await devices.close()


def test_device_health_goes_into_the_heartbeat(tmp_path: Path):
    from staff_console.controller import ConsoleController

    devices = DeviceMedia(str(tmp_path / "no-such-camera.avi"), width=320, height=240)
    console = ConsoleController("ws://127.0.0.1:9/ws", "hanako", "pw", ConsoleMedia(devices))
    message = console.telemetry.heartbeat()
    assert set(message.devices) == {"camera", "microphone", "speaker"}
    assert message.devices["camera"].status in ("degraded", "error")  # not started / not found: never "ok"


async def test_one_self_view_copy_a_frame_however_many_connections_send_the_camera():
    """A call with an interpreter and a guest has three camera tracks; one of them feeds the self-view, and
    when it ends (its connection rebuilt or closed) the next live one does."""
    from hardware.simulated import SimulatedMedia

    media = ConsoleMedia(SimulatedMedia("officer", 160, 120, 30, 660.0))
    tracks = [media.camera_track() for _ in range(3)]
    try:
        for _ in range(5):
            for track in tracks:
                await asyncio.wait_for(track.recv(), 10)
        assert media.self_view.count == 5
        tracks[0].stop()
        for _ in range(4):
            for track in tracks[1:]:
                await asyncio.wait_for(track.recv(), 10)
        assert media.self_view.count == 9
    finally:
        for track in tracks:
            track.stop()
