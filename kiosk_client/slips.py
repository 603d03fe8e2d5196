"""The printed slip in the resident's language, with the Japanese always beside it for the counter.

The officer's ``PrintSlip`` names library phrases and the department by id; this module lays them out with
the slip template of the resident's language (config/defaults/phrases.toml ``[slip.<lang>]``): each line in
the resident's language, then its Japanese. What the officer typed (message, items, next steps) is printed
as typed, marked untranslated. For a Japanese-speaking resident the slip is Japanese only (ja-easy keeps
its readings in brackets: 窓口（まどぐち）).
"""

from __future__ import annotations

from config.phrasebook import JAPANESE, NameOf, PhraseBook, ruby_plain
from hardware.receipt import MAX_MESSAGE_CHARS, Slip
from remote_call.incall import PrintSlip


def _both(own: str, japanese: str, lang: str) -> str:
    """``own`` (the resident's language) and, unless it is Japanese already, the Japanese below it."""
    own, japanese = ruby_plain(own), ruby_plain(japanese)
    if lang in JAPANESE or own == japanese:
        return own
    return f"{own}\n{japanese}"


def _department(slip: PrintSlip, lang: str, name_of: NameOf) -> str:
    if slip.department_id is None:
        return slip.department
    japanese = name_of("department", slip.department_id, "ja") or slip.department
    own = name_of("department", slip.department_id, lang) or japanese
    return _both(own, japanese, lang)


def slip_body(slip: PrintSlip, lang: str, book: PhraseBook, name_of: NameOf) -> str:
    """The message block: phrases in both languages, then the officer's own words marked untranslated."""
    own, ja = book.slip.get(lang, book.slip["ja"]), book.slip["ja"]
    parts = [
        _both(
            book.render(ref.phrase_id, lang, ref.params, name_of),
            book.render(ref.phrase_id, "ja", ref.params, name_of),
            lang,
        )
        for ref in slip.phrases
    ]
    mark = "" if lang in JAPANESE else ruby_plain(own.untranslated) + " "
    if slip.message.strip():
        parts.append(mark + slip.message.strip())
    items = [item.strip() for item in slip.items_to_bring if item.strip()]
    if items:
        label = _both(own.items, ja.items, lang).replace("\n", " / ")
        parts.append(f"{label}: {mark}" + "、".join(items))
    if slip.next_steps.strip():
        label = _both(own.next_steps, ja.next_steps, lang).replace("\n", " / ")
        parts.append(f"{label}: {mark}{slip.next_steps.strip()}")
    body = "\n".join(parts)
    if len(body) > MAX_MESSAGE_CHARS:
        body = body[: MAX_MESSAGE_CHARS - 1] + "…"
    return "".join(c for c in body if c == "\n" or c >= " ")


def localized_slip(slip: PrintSlip, city_name: str, lang: str, book: PhraseBook, name_of: NameOf) -> Slip:
    """The printer's ``Slip`` for ``slip`` in ``lang`` (the resident's), Japanese included."""
    lang = slip.language or lang
    own, ja = book.slip.get(lang, book.slip["ja"]), book.slip["ja"]
    qr = slip.qr_url if slip.qr_url and len(slip.qr_url.encode()) <= 500 else None
    return Slip(
        reception_number=slip.slip_id[:16],
        department=_department(slip, lang, name_of)[:200] or "-",
        message=slip_body(slip, lang, book, name_of),
        qr_data=qr,
        city_name=city_name,
        title=_both(own.title, ja.title, lang),
        number_label=_both(own.number, ja.number, lang).replace("\n", " / "),
        qr_note=_both(own.qr_note, ja.qr_note, lang),
    )
