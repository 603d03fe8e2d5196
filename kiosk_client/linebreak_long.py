"""Where a Japanese phrase too long for a narrow label may still break; Qt-free.

BudouX's phrases are the first choice (``kiosk_client.linebreak``), but some procedure names hold one
phrase of 15 or 16 characters (「(介護予防)サービス計画作成」, 「国民健康保険被保険者資格確認書の」) that a
330 px label cannot hold. ``split_long`` cuts such a phrase where a Japanese typesetter would:

- after a closing bracket or before an opening one: 「(介護予防)｜サービス」;
- where kanji, katakana or Latin text begins after another script: 「サービス｜計画作成」 — but a kanji word
  keeps the hiragana that follow it (its okurigana and particle: 「依頼の」), so a line never starts with
  a particle;
- inside a long run of kanji, only after a character that commonly ends a word (者, 書, 課, 費, …);

and never inside a katakana word, never before small kana, ー, 々 or closing punctuation and never after
an opening bracket (kinsoku shori, JIS X 4051). Of these places it takes as few as it can: each piece is
as long as ``MAX_BOUND`` allows (greedy), so 「(介護予防)サービス」 stays one piece.
"""

from __future__ import annotations

MAX_BOUND = 12  # characters; about 330 px at the kiosk's 27 px font, the narrowest wrapping label

OPENING = "（(「『【〔［[〈《｛{“‘"
CLOSING = "）)」』】〕］]〉》｝}”’、。，,．.・：:；;！!？?"
# Kinsoku: a line never starts with these (small kana, the long-vowel mark, iteration marks).
NO_LINE_START = CLOSING + "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶーｰ々〻ゝゞヽヾ゛゜"
# Kanji that commonly end a word of an administrative name: a long kanji run may break after them.
WORD_ENDS = set("者書証課費料税等届票所局会険当金額度付籍類表")


def _kind(char: str) -> str:
    code = ord(char)
    if 0x3040 <= code <= 0x309F:
        return "hiragana"
    if 0x30A0 <= code <= 0x30FF or 0xFF66 <= code <= 0xFF9F or 0x31F0 <= code <= 0x31FF:
        return "katakana"
    if 0x3400 <= code <= 0x9FFF or char in "々〻":
        return "kanji"
    if char in OPENING or char in CLOSING:
        return "punctuation"
    return "latin"


def is_katakana_word(text: str) -> bool:
    """Katakana only (with ー and ・): one loanword, which is never broken inside."""
    return bool(text) and all(_kind(ch) == "katakana" for ch in text)


def may_break_before(text: str, i: int) -> bool:
    """Whether a line may end between ``text[i - 1]`` and ``text[i]``."""
    before, after = text[i - 1], text[i]
    if after in NO_LINE_START or before in OPENING:
        return False
    if before in CLOSING or after in OPENING:
        return True
    kind_before, kind_after = _kind(before), _kind(after)
    if kind_before != kind_after:
        return kind_after in ("kanji", "katakana", "latin")  # a new word begins; hiragana stay with theirs
    return kind_before == "kanji" and before in WORD_ENDS


def by_character(text: str) -> list[str]:
    """Chinese (and kanji-only text, which looks the same): every character may end a line, except that
    a closing bracket or punctuation mark stays with the character before it and an opening bracket with
    the one after it (the same kinsoku, 避头尾)."""
    pieces: list[str] = []
    for i, char in enumerate(text):
        if pieces and (char in NO_LINE_START or text[i - 1] in OPENING):
            pieces[-1] += char
        else:
            pieces.append(char)
    return pieces


def split_long(phrase: str) -> list[str]:
    """``phrase`` as it is when it fits ``MAX_BOUND``, else cut at the fewest places listed in the module's
    docstring; joined the pieces give ``phrase`` back. Trailing spaces stay on the last piece."""
    core = phrase.rstrip()
    if len(core) <= MAX_BOUND:
        return [phrase]
    places = [i for i in range(1, len(core)) if may_break_before(core, i)]
    pieces: list[str] = []
    start = 0
    while len(core) - start > MAX_BOUND:
        fitting = [i for i in places if start < i <= start + MAX_BOUND]
        later = [i for i in places if i > start]
        if not fitting and not later:
            break
        end = fitting[-1] if fitting else later[0]  # a piece longer than the bound only if it must be
        pieces.append(core[start:end])
        start = end
    pieces.append(core[start:] + phrase[len(core) :])
    return pieces
