"""Images the officer can show the resident, made in memory with PIL and a Japanese font (Noto CJK).

``sample_form_png()`` is a filled-in sample of a 住民票の写し等交付請求書 (記入例) to show how to fill in the
paper form; ``form_page`` renders the same form at any size (the benchmark and the screenshot mode use it as a
realistic 300 dpi A4 scan). Nothing is written to disk.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
)
A4_300DPI = (2480, 3508)


class NoJapaneseFont(RuntimeError):
    pass


@cache
def font_path() -> str:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    raise NoJapaneseFont(
        "no Japanese font found: install Debian fonts-noto-cjk (looked for "
        + ", ".join(FONT_CANDIDATES)
        + ")"
    )


def _font(size: int) -> ImageFont.FreeTypeFont:
    path = font_path()
    # index 0 of the Noto CJK collection is JP
    if path.endswith(".ttc"):
        return ImageFont.truetype(path, size, index=0)
    return ImageFont.truetype(path, size)


FIELDS = (
    ("請求日", "令和8年11月26日"),
    ("請求者 住所", "盛岡市内丸12番2号"),
    ("請求者 氏名", "盛岡 花子"),
    ("生年月日", "昭和60年4月1日"),
    ("電話番号", "019-651-4111"),
    ("必要な方", "本人"),
    ("必要な証明", "住民票の写し（世帯全員）"),
    ("通数", "1通"),
    ("使いみち", "勤務先に提出"),
)


def form_page(
    width: int, height: int, *, filled: bool = True, sample_stamp: bool = True, seed_text: str = ""
) -> Image.Image:
    """An A4-proportioned form: title, boxed fields with handwriting-like answers, notes at the bottom."""
    if width < 200 or height < 280:
        raise ValueError(f"a form page needs at least 200x280 pixels, got {width}x{height}")
    unit = width / 1000
    image = Image.new("RGB", (width, height), (252, 252, 248))
    draw = ImageDraw.Draw(image)
    title = _font(int(44 * unit))
    label = _font(int(26 * unit))
    answer = _font(int(30 * unit))
    small = _font(int(20 * unit))
    margin = int(60 * unit)
    draw.text((margin, int(50 * unit)), "住民票の写し等交付請求書", font=title, fill=(20, 20, 20))
    draw.text((margin, int(115 * unit)), "盛岡市長 様", font=label, fill=(40, 40, 40))
    top = int(180 * unit)
    row = int(max(70 * unit, (height * 0.55 - top) / len(FIELDS)))
    left_col = int(260 * unit)
    for i, (name, value) in enumerate(FIELDS):
        y = top + i * row
        line = max(1, int(2 * unit))
        draw.rectangle((margin, y, width - margin, y + row), outline=(60, 60, 60), width=line)
        draw.line(
            (margin + left_col, y, margin + left_col, y + row), fill=(60, 60, 60), width=max(1, int(2 * unit))
        )
        draw.text((margin + int(14 * unit), y + row // 2), name, font=label, fill=(30, 30, 30), anchor="lm")
        if filled:
            draw.text(
                (margin + left_col + int(24 * unit), y + row // 2),
                value,
                font=answer,
                fill=(20, 40, 150),
                anchor="lm",
            )
    notes_y = top + len(FIELDS) * row + int(40 * unit)
    notes = (
        "・本人確認書類（運転免許証、マイナンバーカードなど）をお持ちください。",
        "・代理人の方は委任状が必要です。",
        "・手数料は1通300円です。",
    )
    for i, note in enumerate(notes):
        draw.text((margin, notes_y + i * int(40 * unit)), note, font=small, fill=(50, 50, 50))
    if seed_text:
        draw.text((margin, height - int(60 * unit)), seed_text, font=small, fill=(120, 120, 120))
    if sample_stamp:
        stamp = _font(int(90 * unit))
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        ImageDraw.Draw(overlay).text(
            (width - int(330 * unit), int(30 * unit)), "記入例", font=stamp, fill=(210, 30, 30, 170)
        )
        image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    return image


def png_bytes(image: Image.Image, *, compress_level: int = 6) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=compress_level)
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@cache
def sample_form_png() -> bytes:
    """The filled-in sample form (記入例) the officer shows to the resident, 1000×1414 PNG."""
    return png_bytes(form_page(1000, 1414))
