"""Page detection, A4 warp and resident guidance on synthetic desk scenes."""

from __future__ import annotations

import cv2
import numpy as np

from hardware.page_detect import GuidanceTracker, detect_page, order_corners, warp_to_a4
from hardware.sample_form import a4_pixels, desk_scene, render_form_page


def test_page_detection_and_warp_on_a_1080p_scene() -> None:
    page = render_form_page(100)
    frame, truth = desk_scene(page, (1920, 1080))
    corners = detect_page(frame)
    assert corners is not None
    assert float(np.max(np.abs(corners - truth))) < 12  # within a few pixels at 1080p
    warped = warp_to_a4(frame, corners, dpi=100)
    assert warped.shape[:2] == a4_pixels(100)[::-1]
    # The flattened page looks like the original form.
    original = cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2GRAY).astype(np.float32)
    flat = cv2.cvtColor(warped, cv2.COLOR_BGR2GRAY).astype(np.float32)

    def small(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(cv2.resize(img, (105, 148), interpolation=cv2.INTER_AREA), (5, 5), 0).ravel()

    corr = np.corrcoef(small(original), small(flat))[0, 1]
    upside_down = np.corrcoef(small(original), small(flat[::-1, ::-1].copy()))[0, 1]
    assert corr > 0.8 and corr - upside_down > 0.3, (corr, upside_down)


def test_no_page_means_place_and_a_still_page_means_done() -> None:
    empty = np.full((540, 960, 3), (45, 60, 80), np.uint8)
    assert detect_page(empty) is None
    tracker = GuidanceTracker(stable_frames_needed=3)
    assert tracker.update(empty).state == "place"
    frame, _ = desk_scene(render_form_page(72), (960, 540))
    states = [tracker.update(frame).state for _ in range(4)]
    assert states == ["hold_still", "hold_still", "hold_still", "done"]
    assert tracker.update(frame).message_ja
    # Moving the page restarts the count.
    moved, _ = desk_scene(
        render_form_page(72),
        (960, 540),
        corners=np.array([[300, 30], [640, 40], [650, 520], [290, 510]], np.float32),
    )
    assert tracker.update(moved).state == "hold_still"


def test_order_corners() -> None:
    shuffled = np.array([[10, 100], [100, 0], [0, 0], [100, 100]], np.float32)
    assert order_corners(shuffled).tolist() == [[0, 0], [100, 0], [100, 100], [10, 100]]


def test_card_shaped_outlines_are_told_apart_from_paper():
    import numpy as np

    from hardware.page_detect import is_card_shaped

    def outline(w: float, h: float, skew: float = 0.0) -> np.ndarray:
        return np.array([[0, 0], [w, skew], [w, h + skew], [0, h]], np.float32)

    assert is_card_shaped(outline(856, 540))  # an ID-1 card, landscape
    assert is_card_shaped(outline(540, 856))  # portrait
    assert is_card_shaped(outline(850, 545, skew=12))  # seen a little askew
    assert not is_card_shaped(outline(2100, 2970))  # A4
    assert not is_card_shaped(outline(1000, 1000))
    assert not is_card_shaped(outline(0, 0))
