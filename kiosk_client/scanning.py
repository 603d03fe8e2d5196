"""The officer's scan requests at the kiosk: live guidance, the scan, its transfer and the officer's verdict.

A ``ScanRequest`` puts a prompt on the resident's screen (``ResidentSession.scan``); every stage goes back to
the officer as a ``ScanStatus``. "読み取る" scans (``Peripherals.scanner``), sends the page on the call's
documents channel (chunked, SHA-256 checked) and waits for the officer's ``document_received``. What was sent
stays on the kiosk only as a small thumbnail until the privacy reset; the page itself is dropped at once.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Coroutine
from typing import Any

from kiosk_client.peripherals import DeviceUnavailable, Peripherals, ScannedPage
from kiosk_client.resident import ResidentSession, ScanTask
from kiosk_client.sounds import CuePlayer
from remote_call import incall as ic
from remote_call.desk import CHANNEL_TIMEOUT_S, CallDesk, new_id
from remote_call.documents import sha256_hex
from remote_call.events import EventHub
from remote_call.tasks import cancel_and_wait

SCAN_VERDICT_TIMEOUT_S = 30.0
THUMBNAIL_PX = 360
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "application/pdf": "pdf"}
Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


def scan_name(mime: str) -> str:
    """The scan's file name, with the extension of its real type (a JPEG page is not "scan.png")."""
    extension = EXTENSIONS.get(mime)
    if extension is None:
        raise ValueError(f"a scan of type {mime!r} cannot be sent")
    return f"scan.{extension}"


def thumbnail(data: bytes) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG")
    return out.getvalue()


class Scanning:
    def __init__(
        self,
        desk: CallDesk,
        peripherals: Peripherals,
        cues: CuePlayer,
        events: EventHub,
        resident: Callable[[], ResidentSession],
        spawn: Spawn,
    ) -> None:
        self._desk = desk
        self._peripherals = peripherals
        self._cues = cues
        self._events = events
        self._resident = resident
        self._spawn = spawn
        self._task: asyncio.Task[Any] | None = None
        self._verdicts: dict[str, asyncio.Future[ic.DocumentReceived]] = {}

    # ------------------------------------------------------------------ from the officer

    def requested(self, request: ic.ScanRequest) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        phrase_id = request.phrase.phrase_id if request.phrase is not None else None
        self._resident().scan = ScanTask(request.request_id, request.prompt, phrase_id=phrase_id)
        self._cues.play("scan_request")
        health = self._peripherals.scanner.health()
        if health.status in ("absent", "error"):
            self._stage("failed", f"scanner {health.status}: {health.detail}", "scan.unavailable")
            self._cues.play("error")
        else:
            self._stage("placing")

    def verdict(self, message: ic.DocumentReceived) -> None:
        future = self._verdicts.get(message.doc_id)
        if future is not None and not future.done():
            future.set_result(message)

    # ------------------------------------------------------------------ the resident's touches

    def scan_now(self) -> None:
        """The resident touched "読み取る" (or "もう一度")."""
        scan = self._resident().scan
        if scan is None or scan.stage in ("scanning", "sending") or self._task is not None:
            return
        self._task = self._spawn(self._scan(scan), f"scan {scan.request_id}")

    def cancel(self) -> None:
        scan = self._resident().scan
        if scan is None:
            return
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if scan.stage not in ("done", "failed", "cancelled"):
            self._stage("cancelled")
        self._resident().scan = None
        self._events.emit("scan", stage="closed", request_id=scan.request_id)

    # ------------------------------------------------------------------ the end of the call

    async def stop(self) -> None:
        """Stop a scan in progress (the privacy reset) and wait until it has."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    def forget(self) -> None:
        """The call is over: drop the scan prompt and the verdicts still awaited."""
        self._resident().scan = None
        for future in self._verdicts.values():
            future.cancel()
        self._verdicts.clear()

    # ------------------------------------------------------------------ the work

    def _stage(self, stage: ic.ScanStage, detail: str = "", error_key: str | None = None) -> None:
        scan = self._resident().scan
        if scan is None:
            return
        scan.stage = stage
        scan.error_key = error_key
        self._desk.send_soon(ic.ScanStatus(request_id=scan.request_id, stage=stage, detail=detail[:2000]))
        self._events.emit("scan", stage=stage, request_id=scan.request_id)

    def _failed(self, detail: str, error_key: str) -> None:
        self._stage("failed", detail, error_key)
        self._cues.play("error")

    async def _scan(self, scan: ScanTask) -> None:
        try:
            self._stage("scanning")
            try:
                page = await self._peripherals.scanner.scan()
            except DeviceUnavailable as exc:
                self._failed(str(exc), "scan.unavailable")
                return
            self._stage("sending")
            try:
                verdict = await self._send(scan, page)
            except (TimeoutError, ConnectionError, RuntimeError, ValueError) as exc:
                self._failed(f"sending failed: {exc}", "scan.failed")
                return
            if not verdict.ok:
                self._failed(verdict.detail, "scan.failed")
                return
            scan.thumbnail = await asyncio.to_thread(thumbnail, page.data)
            if getattr(page, "card_like", False):
                self._stage("done", "card-shaped: possibly a マイナンバーカード", "scan.card_warning")
            else:
                self._stage("done")
            self._cues.play("scan_done")
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    async def _send(self, scan: ScanTask, page: ScannedPage) -> ic.DocumentReceived:
        session = self._desk.session
        if session is None:
            raise ConnectionError("the call has ended")
        await asyncio.wait_for(session.documents_open.wait(), CHANNEL_TIMEOUT_S)
        if session.documents is None:
            raise ConnectionError("no documents channel")
        doc_id = new_id("scan")
        offer = ic.DocumentOffer.model_validate(
            {
                "doc_id": doc_id,
                "purpose": "scan",
                "request_id": scan.request_id,
                "name": scan_name(page.mime),
                "mime": page.mime,
                "size": len(page.data),
                "sha256": sha256_hex(page.data),
                "width": page.width,
                "height": page.height,
                "dpi": page.dpi,
                # Both screens warn: the back of a マイナンバーカード must not be copied or kept.
                "warning": "mynumber_back" if getattr(page, "card_like", False) else None,
            }
        )
        future: asyncio.Future[ic.DocumentReceived] = asyncio.get_running_loop().create_future()
        self._verdicts[doc_id] = future
        try:
            await self._desk.send_document(session, offer, page.data)  # the interpreter sees it too
            return await asyncio.wait_for(future, SCAN_VERDICT_TIMEOUT_S)
        finally:
            self._verdicts.pop(doc_id, None)
