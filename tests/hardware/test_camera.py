"""The OpenCV camera over a real video file: newest frames, unplug/replug, the "unavailable" frame."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import pytest

from hardware.camera import CameraSource, CameraTrack, parse_source

GREEN = (0, 200, 0)


def make_video(path: Path, frames: int = 12, size: tuple[int, int] = (320, 240), fps: int = 30) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened(), "OpenCV cannot write MJPG/avi here"
    for i in range(frames):
        img = np.full((size[1], size[0], 3), GREEN, np.uint8)
        cv2.putText(img, str(i), (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
        writer.write(img)
    writer.release()
    return path


async def until(track: CameraTrack, unavailable: bool, timeout: float = 10.0):
    """Pull frames until the track shows (or stops showing) the unavailable frame."""

    async def pull():
        while True:
            frame = await track.recv()
            if track.showing_unavailable == unavailable:
                return frame

    return await asyncio.wait_for(pull(), timeout)


def mostly_green(frame) -> bool:
    img = frame.to_ndarray(format="bgr24").astype(int)
    mean = img.reshape(-1, 3).mean(axis=0)
    return mean[1] > 120 and mean[0] < 80 and mean[2] < 80


async def test_video_file_unplug_and_replug(tmp_path: Path) -> None:
    video = make_video(tmp_path / "cam.avi")
    away = tmp_path / "unplugged.avi"
    source = CameraSource(
        str(video), width=320, height=240, fps=30, label="kiosk-a", retry_interval_s=0.05
    ).start()
    track = CameraTrack(source)
    try:
        frame = await until(track, unavailable=False)
        assert (frame.width, frame.height) == (320, 240)
        assert mostly_green(frame)
        assert source.health().status == "ok"

        video.rename(away)  # "unplug": the looped file vanishes
        frame = await until(track, unavailable=True)
        assert not mostly_green(frame)
        health = source.health()
        assert health.status == "error" and "not found" in health.detail
        # The unavailable frame keeps being delivered at the normal size (never a frozen picture).
        again = await track.recv()
        assert (again.width, again.height) == (320, 240) and track.showing_unavailable

        away.rename(video)  # "replug"
        frame = await until(track, unavailable=False)
        assert mostly_green(frame)
        assert source.health().status == "ok"
        assert source.opens >= 2
        assert track.unavailable_sent >= 2
    finally:
        track.stop()
        source.close()


async def test_source_survives_consecutive_calls_and_resizes(tmp_path: Path) -> None:
    video = make_video(tmp_path / "cam.avi", size=(320, 240))
    source = CameraSource(video.as_posix(), width=160, height=120, fps=30, retry_interval_s=0.05).start()
    try:
        for _call in range(3):
            track = CameraTrack(source)
            frame = await until(track, unavailable=False)
            assert (frame.width, frame.height) == (160, 120)
            assert mostly_green(frame)
            track.stop()  # the call ends; the camera keeps running for the next one
        assert source.opens >= 1 and source.health().status == "ok"
    finally:
        source.close()


async def test_missing_camera_is_reported_and_shown(tmp_path: Path) -> None:
    source = CameraSource(
        str(tmp_path / "nonexistent.mp4"),
        width=320,
        height=240,
        fps=15,
        label="kiosk-b",
        retry_interval_s=0.05,
    ).start()
    track = CameraTrack(source)
    try:
        frame = await until(track, unavailable=True)
        assert (frame.width, frame.height) == (320, 240)

        # Wait (bounded) until the reader thread has tried and reported.
        async def reported() -> None:
            while source.health().status != "error":
                await track.recv()

        await asyncio.wait_for(reported(), 5)
        assert "nonexistent.mp4" in source.health().detail
    finally:
        track.stop()
        source.close()


def test_parse_source() -> None:
    assert parse_source(0) == 0
    assert parse_source("2") == 2
    assert parse_source("/dev/video0") == "/dev/video0"
    with pytest.raises(ValueError, match="index"):
        parse_source(-1)
    with pytest.raises(ValueError, match="empty"):
        parse_source("  ")
    with pytest.raises(ValueError, match="size"):
        CameraSource(0, width=15, height=120)
