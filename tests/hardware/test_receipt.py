"""The reception slip: 和暦 dates, layout at different paper widths, validation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from PIL import Image

from hardware.receipt import JST, Slip, render_preview, render_slip_body
from hardware.wareki import wareki

SLIP = Slip(
    reception_number="A-012",
    department="市民登録課",
    message="住民票の写しは1階2番窓口でお受け取りください。本人確認書類をお持ちください。",
    issued_at=dt.datetime(2026, 11, 26, 14, 5, tzinfo=JST),
    qr_data="https://www.city.morioka.iwate.jp/kurashi/todokede/1009403.html",
)


def bits(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("1"), dtype=bool)


def test_slip_layout_and_validation() -> None:
    assert wareki(dt.date(2026, 11, 26)) == "令和8年11月26日(木)"
    assert wareki(dt.date(2019, 5, 1), weekday=False) == "令和元年5月1日"
    assert wareki(dt.date(2019, 4, 30), weekday=False) == "平成31年4月30日"
    assert wareki(dt.date(1989, 1, 7), weekday=False) == "昭和64年1月7日"
    narrow = render_slip_body(SLIP, 384)
    assert narrow.width == 384 and np.mean(~bits(narrow)) > 0.02  # 58 mm paper: scaled, not cropped
    assert render_slip_body(SLIP, 500).width == 496  # whole bytes per raster row
    preview = render_preview(SLIP)
    assert preview.height > render_slip_body(SLIP).height  # the QR code is drawn in
    with pytest.raises(ValueError, match="reception number"):
        Slip("", "市民登録課")
    with pytest.raises(ValueError, match="control"):
        Slip("A-1", "市民登録課", message="\x1b@")
    with pytest.raises(ValueError, match="QR"):
        Slip("A-1", "市民登録課", qr_data="x" * 600)


def test_an_earlier_date_than_meiji_is_rejected() -> None:
    with pytest.raises(ValueError, match="1873"):
        wareki(dt.date(1850, 1, 1))
