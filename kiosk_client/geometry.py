"""Physical sizes on the configured screen: touch targets are specified in millimetres, drawn in pixels."""

from __future__ import annotations

import math

MIN_TOUCH_MM = 15.0  # JIS X 8341 / WCAG-style guidance for public touchscreens: at least 15 mm square


def pixels_per_mm(diagonal_inch: float, width_px: int, height_px: int) -> float:
    if diagonal_inch <= 0 or width_px <= 0 or height_px <= 0:
        raise ValueError(
            f"screen must have a positive size, got {diagonal_inch} in, {width_px}x{height_px} px"
        )
    return math.hypot(width_px, height_px) / (diagonal_inch * 25.4)


def mm_to_px(mm: float, diagonal_inch: float, width_px: int, height_px: int) -> int:
    return math.ceil(mm * pixels_per_mm(diagonal_inch, width_px, height_px))


def min_touch_px(diagonal_inch: float, width_px: int, height_px: int, mm: float = MIN_TOUCH_MM) -> int:
    return mm_to_px(mm, diagonal_inch, width_px, height_px)
