"""The browser's document code (signaling_server/web/business/documents.js) run in Chromium against the
Python side of the framing (remote_call/documents.py): what the page sends the console's receiver reads,
flow control keeps the buffer bounded, what the console sends the page verifies, and the file check refuses
what is not really a PDF, PNG or JPEG whatever its name."""

from __future__ import annotations

import base64
import json
from typing import Any

from remote_call import incall as ic
from remote_call.documents import CHUNK_BYTES, HIGH_WATER, DocumentReceiver, sha256_hex

from .test_browser_flow import MS, NEEDS_CHROMIUM, chromium

# A fake RTCDataChannel: bufferedAmount grows with every send and drains (firing bufferedamountlow) only
# when the sender waits, so the test sees how far the sender lets the buffer fill.
SEND = """async ([size, highWater]) => {
  const { sendDocument, sha256Hex } = await import("./documents.js");
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >> 8)) & 255;
  const channel = new EventTarget();
  Object.assign(channel, { readyState: "open", bufferedAmount: 0, bufferedAmountLowThreshold: 0 });
  const sent = [];
  let peak = 0;
  channel.send = (message) => {
    sent.push(message.slice());
    channel.bufferedAmount += message.length;
    peak = Math.max(peak, channel.bufferedAmount);
    if (channel.bufferedAmount > highWater) {
      setTimeout(() => {
        channel.bufferedAmount = 0;
        channel.dispatchEvent(new Event("bufferedamountlow"));
      }, 0);
    }
  };
  const offer = {
    type: "document_offer", doc_id: "up-0123abcd", purpose: "upload", name: "配管図.pdf",
    mime: "application/pdf", size, sha256: await sha256Hex(data),
  };
  let progress = 0;
  await sendDocument(channel, offer, data.buffer, (done, total) => (progress = done / total));
  const b64 = (bytes) => { let s = ""; for (const b of bytes) s += String.fromCharCode(b); return btoa(s); };
  return { frames: sent.map(b64), peak, progress, threshold: channel.bufferedAmountLowThreshold };
}"""

RECEIVE = """async (framesB64) => {
  const { DocumentReceiver } = await import("./documents.js");
  const results = [];
  const done = new Promise((resolve) => {
    const receiver = new DocumentReceiver((offer, bytes, detail) => {
      results.push({ id: offer.doc_id, ok: bytes !== null, size: bytes ? bytes.length : 0, detail });
      if (results.length === 2) resolve();
    });
    for (const b64 of framesB64) {
      const raw = atob(b64);
      const bytes = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
      receiver.feed(bytes.buffer);
    }
  });
  await done;
  return results;
}"""

CHECK = """async () => {
  const { checkFile } = await import("./documents.js");
  const file = (bytes, name) => new File([new Uint8Array(bytes)], name);
  const pdf = [0x25, 0x50, 0x44, 0x46, 0x2d, 0x31];
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0];
  const jpeg = [0xff, 0xd8, 0xff, 0xe0];
  const cases = {
    pdf: file(pdf, "plan.pdf"), png: file(png, "photo.PNG"), jpeg: file(jpeg, "site.jpeg"),
    noExtension: file(pdf, "scan"), exeAsPdf: file([0x4d, 0x5a, 0x90, 0], "plan.pdf"),
    pngAsPdf: file(png, "plan.pdf"), empty: file([], "plan.pdf"),
    tooLarge: new File([new Uint8Array(40 * 1024 * 1024 + 1)], "big.pdf"),
  };
  const out = {};
  for (const [name, f] of Object.entries(cases)) out[name] = await checkFile(f);
  return out;
}"""

pytestmark = NEEDS_CHROMIUM


async def _page(browser: Any, server: Any) -> Any:
    page = await browser.new_page()
    await page.goto(f"{server.http_url}/b/")  # the page with no link: its modules load from /b/
    await page.wait_for_selector("body[data-screen='link_error']", timeout=MS)
    return page


async def test_an_upload_from_the_page_is_read_whole_by_the_python_receiver(make_server):
    size = 3 * 1024 * 1024 + 12345  # several times the high-water mark, and a partial last chunk
    async with make_server() as server, chromium() as browser:
        page = await _page(browser, server)
        sent = await page.evaluate(SEND, [size, HIGH_WATER])
    verdicts: list[tuple[ic.DocumentOffer, bytes | None, bool, str]] = []
    receiver = DocumentReceiver(lambda offer, data, ok, detail: verdicts.append((offer, data, ok, detail)))
    frames = [base64.b64decode(frame) for frame in sent["frames"]]
    for frame in frames:
        receiver.feed(frame)
    assert len(verdicts) == 1
    offer, data, ok, detail = verdicts[0]
    assert ok and detail == "" and data is not None and len(data) == size
    assert offer.purpose == "upload" and offer.name == "配管図.pdf" and offer.sha256 == sha256_hex(data)
    chunks = frames[1:]
    assert len(chunks) == -(-size // CHUNK_BYTES)
    assert all(c[:1] == b"C" and c[1] == len(b"up-0123abcd") and c[2:13] == b"up-0123abcd" for c in chunks)
    assert max(len(c) for c in chunks) == 13 + CHUNK_BYTES
    # Flow control: the sender never let more than the high-water mark plus one chunk pile up.
    assert sent["peak"] <= HIGH_WATER + 13 + CHUNK_BYTES
    assert sent["threshold"] == 256 * 1024 and sent["progress"] == 1


def _show_frames(doc_id: str, data: bytes, *, damage: bool = False) -> list[str]:
    """What the console's send_document puts on the channel for a shown image (damaged: one byte flipped)."""
    fields = {"doc_id": doc_id, "purpose": "show", "name": "記入例.png", "mime": "image/png"}
    offer = ic.DocumentOffer.model_validate(fields | {"size": len(data), "sha256": sha256_hex(data)})
    body = bytes([data[0] ^ 0xFF]) + data[1:] if damage else data
    prefix = b"C" + bytes([len(doc_id)]) + doc_id.encode()
    frames = [b"O" + json.dumps(ic.incall_dict(offer)).encode()]
    frames += [prefix + body[i : i + CHUNK_BYTES] for i in range(0, len(body), CHUNK_BYTES)]
    return [base64.b64encode(frame).decode() for frame in frames]


async def test_the_page_verifies_what_the_console_shows(make_server):
    data = bytes(range(256)) * 200
    frames = _show_frames("show-good", data) + _show_frames("show-bad", data, damage=True)
    async with make_server() as server, chromium() as browser:
        page = await _page(browser, server)
        results = await page.evaluate(RECEIVE, frames)
    assert results == [
        {"id": "show-good", "ok": True, "size": len(data), "detail": ""},
        {"id": "show-bad", "ok": False, "size": 0, "detail": "SHA-256 mismatch: the document was damaged"},
    ]


async def test_the_file_check_trusts_the_content_not_the_name(make_server):
    async with make_server() as server, chromium() as browser:
        page = await _page(browser, server)
        checked = await page.evaluate(CHECK)
    assert checked == {
        "pdf": {"mime": "application/pdf"},
        "png": {"mime": "image/png"},
        "jpeg": {"mime": "image/jpeg"},
        "noExtension": {"mime": "application/pdf"},
        "exeAsPdf": {"error": "upload.type"},
        "pngAsPdf": {"error": "upload.typeMismatch", "arg": "PNG"},
        "empty": {"error": "upload.empty"},
        "tooLarge": {"error": "upload.tooLarge"},
    }
