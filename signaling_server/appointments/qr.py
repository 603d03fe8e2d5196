"""The confirmation's QR code, drawn on the server as SVG (the qrcode package, pure Python)."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg


def qr_svg(payload: str) -> bytes:
    """An SVG QR code of `payload` (error correction M, 4-module quiet zone), black on white."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=4,
        box_size=10,
        image_factory=qrcode.image.svg.SvgPathFillImage,
    )
    code.add_data(payload)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out)
    return out.getvalue()
