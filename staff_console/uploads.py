"""A business's uploads (purpose ``upload``): what the console checks beyond the SHA-256, and PDF pages.

The documents channel already guarantees that every announced byte arrived and matches the SHA-256
(``remote_call.documents``). An upload comes from an outside computer, not from our kiosk's scanner, so the
console also checks that the bytes are what the offer says they are (a renamed ``.exe`` announced as a PDF
is refused: its first bytes are ``MZ``, not ``%PDF-``), and that a PDF opens; an offer that does not even
parse (larger than 40 MiB, a type other than PDF, PNG or JPEG) is answered too, so the browser never waits
for a verdict that does not come. Reasons are short codes (``too_large``, ``wrong_type``, ``unreadable``,
``damaged``) that the browser translates, followed by an English sentence for the log.

PDF pages are rendered with PDFium (``pypdfium2``) one page at a time, in memory; Qt-free.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

from PIL import Image

from remote_call import incall as ic

MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
VIEW_DPI = 150  # a page rendered for the viewer: A4 at 150 dpi is 1240 x 1754, ~60 ms with PDFium here
MAX_PAGES = 500


class UploadRefused(ValueError):
    """An upload that arrived whole but is not what it claims to be; ``reason`` is the code sent back."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def sniff(data: bytes) -> str | None:
    """The type the first bytes say, or None when they are none of PDF, PNG, JPEG."""
    for mime, prefixes in MAGIC.items():
        if any(data.startswith(prefix) for prefix in prefixes):
            return mime
    return None


def check_upload(offer: ic.DocumentOffer, data: bytes) -> int:
    """The number of pages of a verified upload (1 for an image); ``UploadRefused`` when it is not the
    announced type or cannot be opened."""
    found = sniff(data)
    if found != offer.mime:
        shown = data[:4].hex() if found is None else found
        raise UploadRefused("wrong_type", f"announced {offer.mime}, the content is {shown}")
    if offer.mime != "application/pdf":
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
        except Exception as exc:  # PIL raises many types for a broken image
            raise UploadRefused("unreadable", f"the image cannot be opened ({type(exc).__name__})") from exc
        return 1
    with PdfPages(data) as pages:
        return pages.count


def refused_offer(raw: bytes | str) -> tuple[str, str, str] | None:
    """For an offer frame (``b"O" + JSON``) the DocumentReceiver will drop because it does not validate:
    (doc_id, file name, reason) to answer with; None for every other frame, including valid offers."""
    if isinstance(raw, str) or raw[:1] != b"O":
        return None
    try:
        fields = json.loads(raw[1:].decode())
    except ValueError:
        return None
    if not isinstance(fields, dict) or fields.get("type") != "document_offer":
        return None
    try:
        ic.parse_incall(fields)
        return None  # valid: the receiver takes it
    except ic.InCallError:
        pass
    doc_id = fields.get("doc_id")
    if not isinstance(doc_id, str) or not _valid_doc_id(doc_id):
        return None  # nothing to answer to
    name = str(fields.get("name") or "")[:200]
    size = fields.get("size")
    if isinstance(size, int) and size > ic.MAX_DOCUMENT_BYTES:
        return doc_id, name, f"too_large: {size} bytes; at most {ic.MAX_DOCUMENT_BYTES} (40 MiB)"
    if fields.get("mime") not in MAGIC:
        return doc_id, name, f"wrong_type: {str(fields.get('mime'))[:60]!r} is not a PDF, PNG or JPEG"
    return doc_id, name, "refused: the document offer is not valid"


def _valid_doc_id(doc_id: str) -> bool:
    try:
        ic.DocumentReceived(doc_id=doc_id, ok=False)
    except ValueError:
        return False
    return True


@dataclass
class PdfPages:
    """A PDF opened in memory; ``render(i)`` gives page i as a PIL image at ``VIEW_DPI``."""

    data: bytes

    def __post_init__(self) -> None:
        import pypdfium2 as pdfium

        try:
            self._pdf = pdfium.PdfDocument(self.data)
        except pdfium.PdfiumError as exc:
            raise UploadRefused("unreadable", f"the PDF cannot be opened ({exc})") from exc
        self.count = len(self._pdf)
        if self.count == 0 or self.count > MAX_PAGES:
            self.close()
            raise UploadRefused("unreadable", f"the PDF has {self.count} pages (1 to {MAX_PAGES})")

    def render(self, index: int, dpi: int = VIEW_DPI) -> Image.Image:
        page = self._pdf[index]
        try:
            return page.render(scale=dpi / 72).to_pil().convert("RGB")
        finally:
            page.close()

    def close(self) -> None:
        self._pdf.close()

    def __enter__(self) -> PdfPages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
