"""The resident's in-call desk: chat with canned replies, scans, images the officer shows, slips to print.

Built on ``remote_call.desk.CallDesk`` (sending once the channel is open, the in-call dispatch table, chat
lines, shown documents), mirroring the console's ``staff_console.desk.CallDesk``. The desk's notes are the
resident's session (``ResidentSession.chat`` and ``.shown``), so the privacy reset forgets them with the rest;
scans are ``kiosk_client.scanning.Scanning``'s. Messages are logged by type only, never by content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from config.phrasebook import PhraseError, config_names, shipped_phrasebook
from config.schema import AppConfig, CityConfig
from kiosk_client.i18n import catalogs
from kiosk_client.peripherals import Peripherals, PrintOutcome
from kiosk_client.resident import ResidentSession
from kiosk_client.scanning import Scanning, Spawn
from kiosk_client.slips import localized_slip
from kiosk_client.sounds import CuePlayer
from remote_call import incall as ic
from remote_call.desk import CallDesk, ChatLine, Handler, ShownDocument
from remote_call.events import EventHub

log = logging.getLogger(__name__)

CANNED_REPLIES = (
    "reply.yes",
    "reply.no",
    "reply.again",
    "reply.slowly",
    "reply.write",
    "reply.wait",
    "reply.understood",
    "reply.not_understood",
    "reply.thanks",
)


def reply_text(lang: str, key: str) -> str:
    """A canned reply as sent: the resident's language, with the Japanese the officer reads after it."""
    text = catalogs().text(lang, key)
    if lang not in ("ja", "ja-easy"):
        text = f"{text}（{catalogs().text('ja', key)}）"
    return text


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
        serving: Callable[[], bool],
        spawn: Spawn,
        config: Callable[[], AppConfig | None],
    ) -> None:
        """``config``: the city (its name heads the slips) and the names of departments and procedures in
        each language; ``serving`` tells whether a printed slip is still the current resident's (a call, or
        its after-call screen)."""
        self._resident = resident
        self._peripherals = peripherals
        self._cues = cues
        self._serving = serving
        self._spawn = spawn
        self._config = config  # the city (heads the slips), its names of departments and procedures
        self.scanning = Scanning(self, peripherals, cues, events, resident, spawn)
        super().__init__(events, notes=resident)

    def handlers(self) -> dict[type[ic.InCall], Handler]:
        return {
            **super().handlers(),
            ic.ScanRequest: self._on_scan_request,
            ic.Phrase: self._on_phrase,
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
        self.say(reply_text(self._resident().language, key))
        self.events.emit("chat", sender="resident")

    def toggle_hearing(self) -> None:
        """The resident asks for written conversation (聴覚): the officer sees it among the 配慮, and the call
        opens on the handwriting pad and keyboard."""
        resident = self._resident()
        resident.hearing = not resident.hearing
        self.events.emit("preference", hearing=resident.hearing)

    def close_document(self, doc_id: str) -> None:
        if self.shown.pop(doc_id, None) is not None:
            self.events.emit("document", doc_id=doc_id, shown=False)

    # ------------------------------------------------------------------ from the officer

    def wrote(self, text: str) -> None:
        self.events.emit("chat", sender="resident")  # a line of real-time text, finished

    def heard(self, text: str) -> None:
        self._cues.play("chat")
        self.events.emit("chat", sender="officer")  # never the words: the view reads them from the session

    def _city_name(self) -> str:
        config = self._config()
        return (config.city if config is not None else CityConfig()).name_ja

    def phrase_text(self, ref: ic.PhraseRef) -> str | None:
        """A library phrase in the resident's language (ja-easy with {漢字|かんじ} readings), or None if
        this kiosk's library does not know it (an officer's console of a newer version)."""
        try:
            return shipped_phrasebook().render(
                ref.phrase_id, self._resident().language, ref.params, config_names(self._config())
            )
        except PhraseError as exc:
            log.warning("call %s: phrase not shown: %s", self.call_id, str(exc)[:200])
            return None

    def _on_phrase(self, message: ic.Phrase) -> None:
        text = self.phrase_text(message.phrase)
        if text is not None:
            self.chat.append(ChatLine("officer", text, phrase_id=message.phrase.phrase_id))
            self.heard(text)

    def _on_scan_request(self, request: ic.ScanRequest) -> None:
        """The officer asks for a scan; a library phrase replaces the free-text prompt, in the resident's
        language (the view marks a prompt without one as untranslated)."""
        text = self.phrase_text(request.phrase) if request.phrase is not None else None
        update = {"prompt": text} if text is not None else {"phrase": None}
        self.scanning.requested(request.model_copy(update=update))

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
            if slip.language is None:  # an older console: the slip as the officer typed it
                outcome = await self._peripherals.printer.print_slip(slip, self._city_name())
            else:
                receipt = localized_slip(
                    slip,
                    self._city_name(),
                    self._resident().language,
                    shipped_phrasebook(),
                    config_names(self._config()),
                )
                outcome = await self._peripherals.printer.print_receipt(receipt)
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
