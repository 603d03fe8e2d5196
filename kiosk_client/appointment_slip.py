"""The booking confirmation slip (予約受付票) a kiosk prints after a check-in: the department, the slot
time, the procedure and "please wait", in Japanese and, below it, in the resident's language; the PIN only
masked (its last two digits), so a slip left behind does not open the booking.

Printed through the kiosk's printer (``Peripherals.printer``: the ESC/POS driver in ``hardware.printer``),
rendered as a raster like every slip (``hardware.receipt``), so every language's script prints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from config.schema import AppConfig, localized_name
from hardware.receipt import MAX_MESSAGE_CHARS, Slip
from kiosk_client.i18n import RUBY, catalogs
from kiosk_client.peripherals import PrinterAdapter, PrintOutcome
from remote_call import protocol as p

SHOWN_DIGITS = 2  # of the PIN, for the resident to tell two slips apart


def masked_pin(pin: str) -> str:
    """The PIN as printed, e.g. ****56: never the whole PIN on paper."""
    return "*" * max(0, len(pin) - SHOWN_DIGITS) + pin[-SHOWN_DIGITS:] if pin else "-"


def _lines(language: str, when: str | None, procedure: str | None) -> list[str]:
    texts = catalogs()
    lines = [texts.text(language, "slip.appointment.time", when=texts.when(language, when))]
    if procedure:
        lines.append(texts.text(language, "slip.appointment.procedure", procedure=procedure))
    lines.append(texts.text(language, "slip.appointment.wait"))
    return lines


def booking_slip(
    checked: p.AppointmentCheckedIn,
    *,
    masked: str,
    language: str,
    city_name: str,
    department: Callable[[str], str],
    procedure: Callable[[str], str | None],
    issued_at: dt.datetime | None = None,
) -> Slip:
    """The slip for ``checked``; ``department(lang)`` and ``procedure(lang)`` give the names in a language."""
    parts = _lines("ja", checked.slot_start, procedure("ja"))
    name = department("ja")
    if language != "ja":
        parts += ["", *_lines(language, checked.slot_start, procedure(language))]
        local = department(language)
        name = name if local == name else f"{name} / {local}"
    message = "\n".join(parts)[:MAX_MESSAGE_CHARS]
    return Slip(
        reception_number=masked[:16],
        department=name[:100] or "-",
        message=message,
        issued_at=issued_at,
        city_name=city_name,
        title=catalogs().text("ja", "slip.appointment.title"),
    )


class BookingSlipPrinter:
    """Prints the booking slip on the kiosk's printer; the outcome says whether it came out."""

    def __init__(
        self,
        printer: PrinterAdapter,
        config: Callable[[], AppConfig | None],
        city_name: Callable[[], str],
    ) -> None:
        self._printer = printer
        self._config = config
        self._city_name = city_name

    def _name(self, kind: str, item_id: str | None, language: str) -> str | None:
        """A department's or procedure's name in ``language`` (readings in brackets), else its id."""
        config = self._config()
        items = [] if config is None else (config.departments if kind == "department" else config.procedures)
        for item in items:
            if item.id == item_id:
                return RUBY.sub(r"\1（\2）", localized_name(item, language))
        return item_id

    def slip(self, checked: p.AppointmentCheckedIn, masked: str, language: str) -> Slip:
        return booking_slip(
            checked,
            masked=masked,
            language=language,
            city_name=self._city_name(),
            department=lambda lang: self._name("department", checked.department, lang) or "-",
            procedure=lambda lang: self._name("procedure", checked.procedure, lang),
        )

    async def print(self, checked: p.AppointmentCheckedIn, masked: str, language: str) -> PrintOutcome:
        try:
            slip = self.slip(checked, masked, language)
            result = await self._printer.device.print_slip(slip)
        except (ValueError, OSError, RuntimeError) as exc:
            return PrintOutcome(False, "error", f"not printed: {exc}")
        status = result.status_after or result.status_before
        return PrintOutcome(result.ok, status.state, result.detail)
