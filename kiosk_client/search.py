"""Kana input and procedure search, Qt-free: what the on-screen keyboard's ゛ ゜ 小 keys do to the last
character, the folded form text is compared in, and readings taken from easy-Japanese furigana.

A resident who cannot type 住民票 types じゅうみんひょう on the kiosk's kana keyboard; the procedure's
reading (from its ``{住民票|じゅうみんひょう}`` easy-Japanese name, or an explicit reading in the config)
matches it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

RUBY = re.compile(r"\{([^{}|]+)\|([^{}|]+)\}")

# The gojūon as the keyboard lays it out: one column per consonant, five rows (a i u e o); "" is a blank key.
GOJUON: tuple[tuple[str, ...], ...] = (
    ("あ", "い", "う", "え", "お"),
    ("か", "き", "く", "け", "こ"),
    ("さ", "し", "す", "せ", "そ"),
    ("た", "ち", "つ", "て", "と"),
    ("な", "に", "ぬ", "ね", "の"),
    ("は", "ひ", "ふ", "へ", "ほ"),
    ("ま", "み", "む", "め", "も"),
    ("や", "", "ゆ", "", "よ"),
    ("ら", "り", "る", "れ", "ろ"),
    ("わ", "", "を", "", "ん"),
)
ALPHANUMERIC: tuple[str, ...] = ("1234567890", "QWERTYUIOP", "ASDFGHJKL-", "ZXCVBNM.@")

_DAKUTEN = dict(
    zip(
        "かきくけこさしすせそたちつてとはひふへほう",
        "がぎぐげござじずぜぞだぢづでどばびぶべぼゔ",
        strict=True,
    )
)
_HANDAKUTEN = dict(zip("はひふへほ", "ぱぴぷぺぽ", strict=True))
_SMALL = dict(zip("あいうえおつやゆよわ", "ぁぃぅぇぉっゃゅょゎ", strict=True))


def _cycle(char: str, table: dict[str, str]) -> str:
    """``char`` with the mark of ``table`` added, or removed when it has it already; else unchanged."""
    if char in table:
        return table[char]
    for plain, marked in table.items():
        if char == marked:
            return plain
    return char


def _base(char: str) -> str:
    """The unmarked kana of ``char`` (が → か, ぱ → は, っ → つ)."""
    for table in (_DAKUTEN, _HANDAKUTEN, _SMALL):
        for plain, marked in table.items():
            if char == marked:
                return plain
    return char


def add_dakuten(text: str) -> str:
    """The ゛ key: か → が (again: back to か); ぱ → ば."""
    if not text:
        return text
    return text[:-1] + _cycle(_base(text[-1]) if text[-1] in _HANDAKUTEN.values() else text[-1], _DAKUTEN)


def add_handakuten(text: str) -> str:
    """The ゜ key: は → ぱ (again: back to は); ば → ぱ."""
    if not text:
        return text
    last = _base(text[-1]) if text[-1] in _DAKUTEN.values() and _base(text[-1]) in _HANDAKUTEN else text[-1]
    return text[:-1] + _cycle(last, _HANDAKUTEN)


def toggle_small(text: str) -> str:
    """The 小 key: つ → っ, や → ゃ (again: back)."""
    if not text:
        return text
    return text[:-1] + _cycle(text[-1], _SMALL)


def fold(text: str) -> str:
    """Case-, width- and kana-insensitive form (全角 ＡＢＣ matches abc; カタカナ matches ひらがな; spaces
    and the long-vowel mark's neighbours are kept)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in folded).replace("　", " ")


def reading_of(easy: str) -> str:
    """The all-kana reading of an easy-Japanese text: ``{住民票|じゅうみんひょう}の{写|うつ}し`` →
    じゅうみんひょうのうつし (text outside the furigana is kept as is)."""
    return RUBY.sub(lambda m: m.group(2), easy)


def plain_of(easy: str) -> str:
    """The text without its furigana: ``{住民票|じゅうみんひょう}`` → 住民票."""
    return RUBY.sub(lambda m: m.group(1), easy)


def matches(query: str, texts: Iterable[str]) -> bool:
    """Whether the folded ``query`` (spaces ignored) occurs in one of ``texts`` (folded, spaces ignored)."""
    needle = fold(query).replace(" ", "")
    if not needle:
        return True
    return any(needle in fold(text).replace(" ", "") for text in texts if text)
