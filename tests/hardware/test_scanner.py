"""Scanners: SANE's built-in `test` device, a document camera over a video file, the simulated scanner."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from hardware.sample_form import a4_pixels, desk_scene, render_form_page
from hardware.scanner import DocumentCameraScanner, SaneScanner, ScannedPage, ScannerError, SimulatedScanner

sane = pytest.importorskip("sane", reason="python-sane is not installed")


async def test_sane_test_backend_scans_a_colour_page() -> None:
    scanner = SaneScanner("test", resolution_dpi=100, fmt="PNG", options={"test_picture": "Color pattern"})
    assert (await scanner.check()).status == "ok"
    page = await asyncio.wait_for(scanner.scan(), 60)
    assert isinstance(page, ScannedPage)
    assert page.source == "sane:test" and page.dpi == 100 and page.mime_type == "image/png"
    # The test device's whole area is 200 mm square: ~787 px at 100 dpi.
    assert abs(page.width - 787) <= 2 and abs(page.height - 787) <= 2
    assert page.image.mode == "RGB"
    # A real colour pattern, not a blank page, and the bytes decode to the same picture.
    pixels = np.asarray(page.image)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 3
    decoded = Image.open(io.BytesIO(page.data))
    assert decoded.size == page.image.size
    assert np.array_equal(np.asarray(decoded.convert("RGB")), pixels)
    assert scanner.health().status == "ok"


async def test_sane_unknown_device_is_named() -> None:
    scanner = SaneScanner("no-such-scanner")
    health = await scanner.check()
    assert health.status == "error" and "no-such-scanner" in health.detail
    with pytest.raises(ScannerError, match="no-such-scanner"):
        await scanner.scan()


async def test_document_camera_scans_a_page_from_a_video(tmp_path: Path) -> None:
    frame, _ = desk_scene(render_form_page(100), (1280, 720))
    video = tmp_path / "doccam.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 15, (1280, 720))
    for _ in range(10):
        writer.write(frame)
    writer.release()
    seen: list[str] = []
    scanner = DocumentCameraScanner(
        str(video),
        resolution_dpi=100,
        width=1280,
        height=720,
        fps=30,
        stable_frames=3,
        timeout_s=20,
        on_guidance=lambda g: seen.append(g.state),
    ).start()
    try:
        page = await asyncio.wait_for(scanner.scan(), 30)
    finally:
        await scanner.close()
    assert (page.width, page.height) == a4_pixels(100)
    assert page.source.startswith("document_camera:") and page.mime_type == "image/jpeg"
    assert seen[-1] == "done" and "hold_still" in seen
    assert Image.open(io.BytesIO(page.data)).format == "JPEG"


async def test_document_camera_without_a_camera_times_out_with_a_reason(tmp_path: Path) -> None:
    scanner = DocumentCameraScanner(str(tmp_path / "missing.avi"), timeout_s=0.5).start()
    try:
        with pytest.raises(ScannerError, match="document camera"):
            await scanner.scan()
        assert scanner.health().status == "error"
    finally:
        await scanner.close()


async def test_simulated_scanner_renders_a_japanese_form() -> None:
    scanner = SimulatedScanner(resolution_dpi=100, fmt="PNG")
    page = await scanner.scan()
    assert (page.width, page.height) == a4_pixels(100)
    assert page.image.getpixel((5, 5))[0] > 200  # white paper
    dark = np.asarray(page.image.convert("L")) < 100
    assert dark.mean() > 0.005  # text and ruled lines were drawn
    assert Image.open(io.BytesIO(page.data)).size == (page.width, page.height)
    assert scanner.health().status == "ok"


async def test_document_camera_flags_a_card_but_not_a_sheet(tmp_path: Path) -> None:
    """A card lying on the desk (ID-1 proportions) is flagged for the マイナンバー warning; the A4 form of the
    test above is not."""
    frame = np.full((720, 1280, 3), 40, np.uint8)  # a dark desk
    cv2.rectangle(frame, (380, 200), (380 + 428, 200 + 270), (235, 235, 235), thickness=-1)  # 85.6:54
    video = tmp_path / "card.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 15, (1280, 720))
    for _ in range(10):
        writer.write(frame)
    writer.release()
    scanner = DocumentCameraScanner(
        str(video), resolution_dpi=100, width=1280, height=720, fps=30, stable_frames=3, timeout_s=20
    ).start()
    try:
        card = await asyncio.wait_for(scanner.scan(), 30)
    finally:
        await scanner.close()
    assert card.card_like
    sheet, _ = desk_scene(render_form_page(100), (1280, 720))
    from hardware.page_detect import detect_page, is_card_shaped

    assert not is_card_shaped(detect_page(sheet))
