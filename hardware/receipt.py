"""The reception slip (受付票) a kiosk prints: layout, raster rendering and the ESC/POS job.

Japanese is never sent as text: python-escpos would encode it as GB18030 (Chinese). The slip body is rendered
with a Japanese font to a 1-bit image as wide as the paper (`width_px`, 512 for a TM-T88) and printed as a
`GS v 0` raster; the QR code is printed natively (`GS ( k`). `render_preview` gives the same slip as a PNG
for the screen, with the QR drawn in.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import qrcode
from escpos.constants import QR_ECLEVEL_M
from escpos.printer import Dummy
from PIL import Image, ImageDraw

from hardware.fonts import japanese_font
from hardware.wareki import seireki, wareki

JST = ZoneInfo("Asia/Tokyo")
MAX_MESSAGE_CHARS = 1200  # a slip in the resident's language carries the Japanese of every line too
MAX_QR_BYTES = 500
QR_MODULE_DOTS = 6
# Characters that must not start a line (行頭禁則, the common subset).
NO_LINE_START = set("、。，．・：；？！ー)]｝〕〉》」』】ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ")


@dataclass(frozen=True)
class Slip:
    reception_number: str  # 受付番号, e.g. "A-012"
    department: str  # e.g. 市民登録課
    message: str = ""  # the officer's message to the resident
    issued_at: dt.datetime | None = None  # default: now (Asia/Tokyo)
    qr_data: str | None = None  # e.g. a URL with the procedure's guide
    city_name: str = "盛岡市"
    title: str = "リモート窓口 受付票"
    number_label: str = "受付番号"  # a localized slip: both languages, one per line
    qr_note: str = "下のQRコードで手続きの案内を見られます"

    def __post_init__(self) -> None:
        number = self.reception_number.strip()
        if not number or len(number) > 16:
            raise ValueError(f"reception number must be 1-16 characters, got {self.reception_number!r}")
        if not self.department.strip():
            raise ValueError("slip department is empty")
        if len(self.message) > MAX_MESSAGE_CHARS:
            raise ValueError(f"slip message is {len(self.message)} characters; at most {MAX_MESSAGE_CHARS}")
        for name in ("reception_number", "department", "message", "city_name", "title", "number_label"):
            value = getattr(self, name)
            if any(unicodedata.category(c) == "Cc" and c != "\n" for c in value):
                raise ValueError(f"slip {name} contains control characters")
        if self.qr_data is not None:
            size = len(self.qr_data.encode("utf-8"))
            if not 0 < size <= MAX_QR_BYTES:
                raise ValueError(f"slip QR data must be 1-{MAX_QR_BYTES} bytes, got {size}")

    @property
    def when(self) -> dt.datetime:
        issued = self.issued_at or dt.datetime.now(JST)
        return issued.astimezone(JST) if issued.tzinfo else issued.replace(tzinfo=JST)


def _wrap(text: str, font, width: int) -> list[str]:
    """Wrap text to `width` pixels: Japanese by character (。、 etc. kept off the start of a line), text
    with spaces at its spaces."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for char in paragraph:
            if font.getlength(line + char) <= width or not line:
                line += char
            elif char in NO_LINE_START:
                line += char  # hang the punctuation (ぶら下げ) rather than start a line with it
            elif char != " " and line.rfind(" ") > 0:  # words with spaces (en, vi, やさしい日本語) stay whole
                cut = line.rfind(" ")
                lines.append(line[:cut])
                line = line[cut + 1 :] + char
            else:
                lines.append(line)
                line = char.strip()
        lines.append(line)
    return lines


def paper_width(width_px: int) -> int:
    """Printable width in whole bytes (GS v 0 rows are bytes): 512 stays 512, 500 becomes 496."""
    if not 64 <= width_px <= 2048:
        raise ValueError(f"printer width must be between 64 and 2048 dots, got {width_px}")
    return width_px // 8 * 8


def render_slip_body(slip: Slip, width_px: int = 512) -> Image.Image:
    """Everything but the QR code, as a 1-bit image exactly as it is sent to the printer (black = 0)."""
    width = paper_width(width_px)
    pad = max(8, width // 32)
    inner = width - 2 * pad
    unit = width / 512  # sizes are designed for 512 dots (TM-T88, 80 mm paper)
    blocks: list[tuple[str, int, bool, str]] = [  # text, size, bold, align
        (f"{slip.city_name} {slip.title}", round(26 * unit), True, "center"),
        (slip.number_label, round(24 * unit), False, "center"),
        (slip.reception_number, round(88 * unit), True, "center"),
        (slip.department, round(34 * unit), True, "center"),
    ]
    when = slip.when
    time_text = when.strftime("%H:%M")
    lines: list[tuple[str, int, bool, str]] = []
    for text, size, bold, align in blocks:
        font = japanese_font(size, bold)
        lines += [(line, size, bold, align) for line in _wrap(text, font, inner)]
    rule = ("—", 0, False, "rule")
    lines.append(rule)
    if slip.message.strip():
        font = japanese_font(round(26 * unit))
        lines += [(line, round(26 * unit), False, "left") for line in _wrap(slip.message, font, inner)]
        lines.append(rule)
    lines.append((f"{wareki(when.date())} {time_text}", round(24 * unit), False, "left"))
    lines.append((f"（西暦 {seireki(when.date())}）", round(22 * unit), False, "left"))
    if slip.qr_data:
        font = japanese_font(round(20 * unit))
        lines += [(line, round(20 * unit), False, "left") for line in _wrap(slip.qr_note, font, inner)]

    gap = round(10 * unit)
    heights = [(round(18 * unit) if align == "rule" else round(size * 1.35)) for _, size, _, align in lines]
    height = pad + sum(heights) + gap * (len(lines) - 1) + pad
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    y = pad
    for (text, size, bold, align), line_h in zip(lines, heights, strict=True):
        if align == "rule":
            middle = y + line_h // 2
            draw.line((pad, middle, width - pad, middle), fill=0, width=max(2, round(2 * unit)))
        else:
            font = japanese_font(size, bold)
            x = pad if align == "left" else width // 2
            draw.text((x, y + line_h // 2), text, font=font, fill=0, anchor="lm" if align == "left" else "mm")
        y += line_h + gap
    # Hard black and white: thermal paper has no grey, and the printed raster must equal this picture.
    return image.point(lambda v: 255 if v >= 128 else 0, mode="1")


def render_qr(data: str, module_dots: int = QR_MODULE_DOTS) -> Image.Image:
    """The QR code as the printer draws it natively (model 2, error correction M), for the preview."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=module_dots, border=2)
    code.add_data(data)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("1")


def render_preview(slip: Slip, width_px: int = 512) -> Image.Image:
    """The whole slip (body + QR) as it comes out of the printer, for the screen."""
    body = render_slip_body(slip, width_px)
    if not slip.qr_data:
        return body
    qr = render_qr(slip.qr_data)
    margin = max(8, body.width // 32)
    page = Image.new("1", (body.width, body.height + qr.height + 2 * margin), 1)
    page.paste(body, (0, 0))
    page.paste(qr, ((body.width - qr.width) // 2, body.height + margin))
    return page


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def build_slip_job(slip: Slip, width_px: int = 512, profile: str = "TM-T88V") -> bytes:
    """The complete ESC/POS job: initialise, raster body, native QR, feed and cut."""
    body = render_slip_body(slip, width_px)
    printer = Dummy(profile=profile)
    printer.hw("INIT")
    # A width check against the profile would reject printers wider than 512: we already fit `width_px`.
    printer.profile.profile_data["media"]["width"]["pixels"] = body.width
    printer.image(body, impl="bitImageRaster", fragment_height=960)
    if slip.qr_data:
        printer.set(align="center")
        printer.qr(slip.qr_data, native=True, size=QR_MODULE_DOTS, ec=QR_ECLEVEL_M)
        printer.set(align="left")
    printer.cut()
    return bytes(printer.output)
