"""Synthetic documents for the simulated scanner, demos, tests and benchmarks.

`render_form_page` draws an A4 application form (住民票の写し等交付請求書) with Japanese text;
`desk_scene` photographs it, in perspective, lying on a desk, as a document camera would see it.
"""

from __future__ import annotations

import datetime as dt

import cv2
import numpy as np
from PIL import Image, ImageDraw

from hardware.fonts import japanese_font

A4_MM = (210.0, 297.0)


def a4_pixels(dpi: int, landscape: bool = False) -> tuple[int, int]:
    if not 50 <= dpi <= 1200:
        raise ValueError(f"dpi must be between 50 and 1200, got {dpi}")
    w, h = (round(mm / 25.4 * dpi) for mm in A4_MM)
    return (h, w) if landscape else (w, h)


def render_form_page(
    dpi: int = 200,
    title: str = "住民票の写し等交付請求書",
    fields: dict[str, str] | None = None,
    today: dt.date | None = None,
) -> Image.Image:
    """An A4 portrait form page in RGB."""
    width, height = a4_pixels(dpi)
    unit = dpi / 25.4  # pixels per mm
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)
    fields = fields or {
        "氏名": "盛岡 花子",
        "フリガナ": "モリオカ ハナコ",
        "住所": "岩手県盛岡市内丸12番2号",
        "生年月日": "昭和60年4月1日",
        "必要な通数": "2通",
        "使いみち": "勤務先への提出",
    }
    today = today or dt.date.today()
    margin = round(15 * unit)
    draw.text(
        (width // 2, margin), title, font=japanese_font(round(7 * unit), bold=True), fill="black", anchor="mt"
    )
    draw.text(
        (width - margin, round(30 * unit)),
        f"{today.year}年{today.month}月{today.day}日",
        font=japanese_font(round(4 * unit)),
        fill="black",
        anchor="rt",
    )
    draw.text((margin, round(30 * unit)), "盛岡市長 様", font=japanese_font(round(4.5 * unit)), fill="black")
    top = round(45 * unit)
    row = round(18 * unit)
    label_w = round(45 * unit)
    line = max(1, round(0.5 * unit))
    for i, (label, value) in enumerate(fields.items()):
        y = top + i * row
        draw.rectangle((margin, y, width - margin, y + row), outline="black", width=line)
        draw.rectangle(
            (margin, y, margin + label_w, y + row), fill=(235, 235, 235), outline="black", width=line
        )
        draw.text(
            (margin + round(3 * unit), y + row // 2),
            label,
            font=japanese_font(round(4.5 * unit)),
            fill="black",
            anchor="lm",
        )
        draw.text(
            (margin + label_w + round(4 * unit), y + row // 2),
            value,
            font=japanese_font(round(5.5 * unit)),
            fill=(20, 20, 120),
            anchor="lm",
        )
    notes_y = top + len(fields) * row + round(12 * unit)
    for j, note in enumerate(
        ("※ 本人確認書類をご提示ください。", "※ 代理人の場合は委任状が必要です。", "盛岡市 市民登録課")
    ):
        draw.text(
            (margin, notes_y + j * round(8 * unit)), note, font=japanese_font(round(4 * unit)), fill="black"
        )
    return page


def desk_scene(
    page: Image.Image, size: tuple[int, int] = (1920, 1080), corners: np.ndarray | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(BGR frame, corners): the page warped onto a dark textured desk at the given corners (TL,TR,BR,BL)."""
    width, height = size
    rng = np.random.default_rng(seed)
    desk = np.full((height, width, 3), (45, 60, 80), np.uint8)
    noise = rng.integers(-12, 12, size=(height, width, 1), dtype=np.int16)
    desk = np.clip(desk.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    if corners is None:
        # A portrait page seen from above, slightly rotated and in perspective, filling most of the height.
        h = height * 0.86
        w = h * A4_MM[0] / A4_MM[1]
        cx, cy = width / 2, height / 2
        corners = np.array(
            [
                [cx - w / 2 + 30, cy - h / 2],
                [cx + w / 2 + 10, cy - h / 2 + 25],
                [cx + w / 2 - 15, cy + h / 2],
                [cx - w / 2 - 20, cy + h / 2 - 15],
            ],
            np.float32,
        )
    src = cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2BGR)
    ph, pw = src.shape[:2]
    matrix = cv2.getPerspectiveTransform(
        np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32), corners.astype(np.float32)
    )
    warped = cv2.warpPerspective(src, matrix, (width, height))
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), matrix, (width, height))
    frame = np.where(mask[..., None] > 127, warped, desk)
    return frame, corners.astype(np.float32)
