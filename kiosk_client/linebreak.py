"""Japanese line breaking between phrases, never inside a word; Qt-free.

Qt breaks CJK text between any two characters (UAX #14 gives ideographs and kana a break opportunity on
each side), so 「住民票の写し」 could end a line after 「住」. ``phrases()`` cuts a text into phrases with
BudouX (Google's ML segmenter; easy Japanese, already written phrase by phrase, at its spaces) and
``bind()`` glues the characters of each phrase with WORD JOINER (U+2060, zero width, "no break here"), so Qt
may only break between phrases. A phrase longer than ``MAX_BOUND`` characters (it could not fit a narrow
label) is cut again by ``split_long()`` (``kiosk_client/linebreak_long.py``): between a closing bracket and
what follows, before an opening one, where kanji, katakana or Latin text begins after another script (a
kanji word keeps the kana that follow it: 依頼の), and in a long run of kanji after a character that ends a
word (者, 書, 課, …); never inside a katakana word, never before small kana, ー or closing punctuation and
never after an opening bracket (kinsoku). ``bind_html()`` does the same to the text of Qt rich text,
leaving tags and entities alone. ``unbind()`` removes the joiners again.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import budoux

from kiosk_client.linebreak_long import MAX_BOUND, by_character, is_katakana_word, split_long

WORD_JOINER = "\u2060"
IDEOGRAPHIC_SPACE = "\u3000"
_SPACES = re.compile(r"(\s+)")
_AFTER = re.compile(r"(?<=[・／/、。，,：])")  # punctuation that may end a line inside a chunk
_TAG = re.compile(r"(<[^>]*>|&[#a-zA-Z0-9]+;)")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u3400-\u9fff]")


@cache
def _parser(kind: str) -> Any:
    return budoux.load_default_japanese_parser()


def _script(text: str) -> str | None:
    """Whether a text is Japanese (has kana): "ja", else None. Latin, Vietnamese and Korean break at spaces
    already; Chinese breaks between any two characters by convention, which Qt does (BudouX's Chinese
    model cut procedure names such as 学校午餐费 into 学 / 校午 / 餐费, worse than no help)."""
    return "ja" if _KANA.search(text) else None


def _spaced(text: str) -> bool:
    """Japanese written phrase by phrase (分かち書き, as easy Japanese is): a full-width space, or two
    spaces or more between Japanese words."""
    return IDEOGRAPHIC_SPACE in text or len(re.findall(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])", text)) >= 2


def phrases(text: str) -> list[str]:
    """``text`` cut into phrases; joined again they give ``text`` back exactly (spaces stay with the
    phrase before them). Easy Japanese is already written phrase by phrase with full-width spaces
    (分かち書き): there the spaces alone cut (BudouX would cut おねがいします after おねが)."""
    kind = None if _spaced(text) else _script(text)
    result: list[str] = []
    for chunk in _SPACES.split(text):
        if not chunk:
            continue
        if chunk.isspace() and result:
            result[-1] += chunk
            continue
        if chunk.isspace() or kind is None:
            # Chinese: every character may end a line; other scripts: the word between spaces.
            if _HAN.search(chunk) and not _spaced(text):
                result += by_character(chunk)
            else:
                result += [part for part in _AFTER.split(chunk) if part]
            continue
        for piece in _parser(kind).parse(chunk):
            result += [cut for part in _AFTER.split(piece) if part for cut in split_long(part)]
    return result


def _glue(phrase: str) -> str:
    core = phrase.rstrip()
    if len(core) < 2 or (len(core) > MAX_BOUND and not is_katakana_word(core)):
        return phrase
    return WORD_JOINER.join(core) + phrase[len(core) :]


def bind(text: str) -> str:
    """Plain text in which a line may break only between phrases (see the module's docstring)."""
    if not text or _script(text) is None:
        return text  # Latin, Vietnamese: Qt already breaks at spaces only
    return "".join(_glue(p) for p in phrases(unbind(text)))


def bind_html(markup: str) -> str:
    """``bind`` applied to the text between the tags and entities of Qt rich text."""
    if _script(markup) is None:
        return markup
    return "".join(part if _TAG.fullmatch(part) else bind(part) for part in _TAG.split(markup))


def unbind(text: str) -> str:
    return text.replace(WORD_JOINER, "")
