"""Page detection for a document camera: find the sheet (Canny + contours + approxPolyDP), warp it to A4,
and guide the resident (place the page → hold still → done).

Detection runs on a downscaled copy (about 640 px wide) and maps the corners back, so a 1080p frame costs a
few milliseconds; the warp uses the full-resolution frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from hardware.sample_form import a4_pixels

DETECT_WIDTH = 640

GuidanceStateName = Literal["place", "hold_still", "done"]

MESSAGES: dict[str, tuple[str, str]] = {
    "place": ("書類を台の上に置いてください", "Place the document on the stand"),
    "hold_still": ("そのまま動かさないでください", "Hold still"),
    "done": ("読み取りました", "Scanned"),
}


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left."""
    pts = np.asarray(points, np.float32).reshape(4, 2)
    s = pts.sum(axis=1)
    d = np.diff(pts, axis=1).reshape(-1)
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]], np.float32)


def detect_page(frame: np.ndarray, min_area_fraction: float = 0.12) -> np.ndarray | None:
    """Corners (TL, TR, BR, BL; float32 frame pixels) of the largest page-like quadrilateral, or None."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"detect_page wants a BGR frame, got shape {frame.shape}")
    height, width = frame.shape[:2]
    scale = min(1.0, DETECT_WIDTH / width)
    small = (
        cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        if scale < 1
        else frame
    )
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    gray = cv2.GaussianBlur(gray, (5, 5), 0)
    edges = cv2.Canny(gray, 50, 150)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    min_area = min_area_fraction * small.shape[0] * small.shape[1]
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:5]:
        if cv2.contourArea(contour) < min_area:
            break
        perimeter = cv2.arcLength(contour, True)
        approx = cv2.approxPolyDP(contour, 0.02 * perimeter, True)
        if len(approx) == 4 and cv2.isContourConvex(approx):
            return order_corners(approx.reshape(4, 2) / scale)
    return None


ID1_ASPECT = 85.6 / 54.0  # ISO/IEC 7810 ID-1: マイナンバーカード, driving licence, bank cards


def is_card_shaped(corners: np.ndarray, tolerance: float = 0.06) -> bool:
    """True when the detected outline has an ID card's proportions rather than a sheet of paper's (A4 is
    1.41). The back of a マイナンバーカード carries the 個人番号, which must not be copied or kept except
    as the 番号法 allows: both screens warn when a card-shaped document is scanned."""
    tl, tr, br, bl = (np.asarray(p, dtype=np.float64) for p in corners)
    width = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    height = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    if min(width, height) <= 0:
        return False
    aspect = max(width, height) / min(width, height)
    return bool(abs(aspect - ID1_ASPECT) <= ID1_ASPECT * tolerance)


def warp_to_a4(frame: np.ndarray, corners: np.ndarray, dpi: int = 200) -> np.ndarray:
    """The page cut out and flattened to A4 at `dpi` (portrait, or landscape if the page lies sideways)."""
    tl, tr, br, bl = order_corners(corners)
    page_w = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    page_h = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    out_w, out_h = a4_pixels(dpi, landscape=page_w > page_h)
    target = np.array([[0, 0], [out_w - 1, 0], [out_w - 1, out_h - 1], [0, out_h - 1]], np.float32)
    matrix = cv2.getPerspectiveTransform(np.array([tl, tr, br, bl], np.float32), target)
    return cv2.warpPerspective(frame, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)


@dataclass(frozen=True)
class Guidance:
    state: GuidanceStateName
    corners: np.ndarray | None
    stable_frames: int

    @property
    def message_ja(self) -> str:
        return MESSAGES[self.state][0]

    @property
    def message_en(self) -> str:
        return MESSAGES[self.state][1]


class GuidanceTracker:
    """Feeds frames, says what the resident should do; "done" once the page stayed put long enough."""

    def __init__(self, stable_frames_needed: int = 5, tolerance_fraction: float = 0.01) -> None:
        if stable_frames_needed < 1:
            raise ValueError(f"stable_frames_needed must be >= 1, got {stable_frames_needed}")
        self.stable_frames_needed = stable_frames_needed
        self.tolerance_fraction = tolerance_fraction
        self._previous: np.ndarray | None = None
        self._stable = 0

    def reset(self) -> None:
        self._previous, self._stable = None, 0

    def update(self, frame: np.ndarray) -> Guidance:
        corners = detect_page(frame)
        if corners is None:
            self.reset()
            return Guidance("place", None, 0)
        tolerance = self.tolerance_fraction * max(frame.shape[:2])
        if self._previous is not None and float(np.max(np.abs(corners - self._previous))) <= tolerance:
            self._stable += 1
        else:
            self._stable = 0
        self._previous = corners
        if self._stable >= self.stable_frames_needed:
            return Guidance("done", corners, self._stable)
        return Guidance("hold_still", corners, self._stable)
