"""The resident's in-call desk: chat with canned replies, scans, images the officer shows, slips to print.

Built on ``remote_call.desk.CallDesk`` (sending once the channel is open, the in-call dispatch table, chat
lines, shown documents), mirroring the console's ``staff_console.desk.CallDesk``. The desk's notes are the
resident's session (``ResidentSession.chat`` and ``.shown``), so the privacy reset forgets them with the rest;
scans are ``kiosk_client.scanning.Scanning``'s. Messages are logged by type only, never by content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kiosk_client.i18n import catalogs
from kiosk_client.peripherals import Peripherals, PrintOutcome
from kiosk_client.resident import ResidentSession
from kiosk_client.scanning import Scanning, Spawn
from kiosk_client.sounds import CuePlayer
from remote_call import incall as ic
from remote_call.desk import CallDesk, Handler, ShownDocument
from remote_call.events import EventHub

log = logging.getLogger(__name__)

CANNED_REPLIES = ("reply.yes", "reply.no", "reply.again", "reply.wait")


class KioskDesk(CallDesk):
    me = "resident"
    peer = "officer"

    def __init__(
        self,
        events: EventHub,
        resident: Callable[[], ResidentSession],
        peripherals: Peripherals,
        cues: CuePlayer,
        *,
        city_name: Callable[[], str],
        serving: Callable[[], bool],
        spawn: Spawn,
    ) -> None:
        """``city_name`` heads the slips; ``serving`` tells whether a printed slip is still the current
        resident's (a call, or its after-call screen)."""
        self._resident = resident
        self._peripherals = peripherals
        self._cues = cues
        self._city_name = city_name
        self._serving = serving
        self._spawn = spawn
        self.scanning = Scanning(self, peripherals, cues, events, resident, spawn)
        super().__init__(events, notes=resident)

    def handlers(self) -> dict[type[ic.InCall], Handler]:
        return {
            **super().handlers(),
            ic.ScanRequest: self.scanning.requested,
            ic.DocumentReceived: self.scanning.verdict,
            ic.DocumentWithdrawn: self._on_withdrawn,
            ic.PrintSlip: self._on_print,
        }

    def detach(self) -> None:
        """The call is over: chat, shown documents, the scan and partial transfers are forgotten."""
        super().detach()
        self.scanning.forget()

    # ------------------------------------------------------------------ the resident's touches

    def reply(self, key: str) -> None:
        """A canned reply in the resident's language (with the Japanese the officer reads)."""
        if key not in CANNED_REPLIES:
            raise ValueError(f"unknown canned reply {key!r}")
        lang = self._resident().language
        text = catalogs().text(lang, key)
        if lang not in ("ja", "ja-easy"):
            text = f"{text}（{catalogs().text('ja', key)}）"  # the officer reads Japanese
        self.say(text)
        self.events.emit("chat", sender="resident")

    def close_document(self, doc_id: str) -> None:
        if self.shown.pop(doc_id, None) is not None:
            self.events.emit("document", doc_id=doc_id, shown=False)

    # ------------------------------------------------------------------ from the officer

    def heard(self, text: str) -> None:
        self._cues.play("chat")
        self.events.emit("chat", sender="officer")  # never the words: the view reads them from the session

    def _on_withdrawn(self, message: ic.DocumentWithdrawn) -> None:
        self.close_document(message.doc_id)

    def take_document(self, offer: ic.DocumentOffer, data: bytes | None, detail: str) -> str | None:
        if offer.purpose != "show" or data is None:
            return detail
        if not offer.mime.startswith("image/"):
            return f"received, but a {offer.mime} cannot be shown on the kiosk"
        self.shown[offer.doc_id] = ShownDocument(offer, data)
        self._cues.play("document")
        self.events.emit("document", doc_id=offer.doc_id, shown=True)
        return detail

    def _on_print(self, slip: ic.PrintSlip) -> None:
        self._spawn(self._print(slip), f"print {slip.slip_id}")

    async def _print(self, slip: ic.PrintSlip) -> None:
        try:
            outcome = await self._peripherals.printer.print_slip(slip, self._city_name())
        except Exception as exc:
            outcome = PrintOutcome(False, "error", f"printing failed: {exc}")
        if self._serving():
            self._resident().slip = outcome
        self.send_soon(
            ic.PrintResult(
                slip_id=slip.slip_id,
                ok=outcome.ok,
                printer_status=outcome.printer_status[:40],
                detail=outcome.detail[:2000],
            )
        )
        self.events.emit("print", ok=outcome.ok, printer_status=outcome.printer_status)
