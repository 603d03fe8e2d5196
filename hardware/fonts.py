"""A Japanese font for everything we render ourselves (receipts, sample forms).

Looked up in order: $MADOGUCHI_JA_FONT, Noto Sans CJK JP (Debian fonts-noto-cjk), IPAex Gothic
(fonts-ipaexfont-gothic). Noto's .ttc holds several faces; index 0 is the Japanese one.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 0),
    ("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf", 0),
    ("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf", 0),
)
BOLD_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 0),
    *CANDIDATES,
)


class FontNotFoundError(RuntimeError):
    pass


def _find(candidates: tuple[tuple[str, int], ...]) -> tuple[str, int]:
    override = os.environ.get("MADOGUCHI_JA_FONT")
    if override:
        if not Path(override).is_file():
            raise FontNotFoundError(f"MADOGUCHI_JA_FONT={override} does not exist")
        return override, 0
    for path, index in candidates:
        if Path(path).is_file():
            return path, index
    raise FontNotFoundError(
        "no Japanese font found: install Debian fonts-noto-cjk or "
        "fonts-ipaexfont-gothic, or set MADOGUCHI_JA_FONT"
    )


@functools.lru_cache(maxsize=64)
def japanese_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    if size <= 0:
        raise ValueError(f"font size must be positive, got {size}")
    path, index = _find(BOLD_CANDIDATES if bold else CANDIDATES)
    return ImageFont.truetype(path, size, index=index)


@functools.lru_cache(maxsize=32)
def text_mask(text: str, size: int, bold: bool = False) -> np.ndarray | None:
    """`text` rendered as an 8-bit coverage mask (for drawing Japanese labels on video frames), or None
    when no Japanese font is installed (callers then fall back to ASCII)."""
    try:
        font = japanese_font(size, bold)
    except FontNotFoundError:
        return None
    # Typed as float for every layout; FreeType's boxes are whole pixels, so int() only states it.
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    image = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(image).text((-left, -top), text, font=font, fill=255)
    return np.asarray(image)


def draw_text_mask(
    frame: np.ndarray, mask: np.ndarray, x: int, y: int, colour: tuple[int, int, int], outline: bool = True
) -> None:
    """Blend a text mask onto a BGR frame at (x, y) (top-left), clipped to the frame, in place."""
    h, w = mask.shape
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(frame.shape[1], x + w), min(frame.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return
    alpha = mask[y0 - y : y1 - y, x0 - x : x1 - x, None].astype(np.float32) / 255.0
    region = frame[y0:y1, x0:x1].astype(np.float32)
    if outline:
        region *= 1 - 0.6 * np.clip(alpha * 3, 0, 1)  # darken behind the glyphs for contrast
    region = region * (1 - alpha) + np.array(colour, np.float32) * alpha
    frame[y0:y1, x0:x1] = region.astype(np.uint8)
