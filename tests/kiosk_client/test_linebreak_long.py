"""A Japanese phrase longer than MAX_BOUND breaks at a sensible place: BudouX's phrase first, then between
brackets and where a new kanji/katakana word begins, never inside a katakana word and never against kinsoku
(tested on the shipped procedure and department names and with Qt's own text layout)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from PySide6.QtGui import QFont, QTextLayout, QTextOption

from kiosk_client.linebreak import bind, phrases, unbind
from kiosk_client.linebreak_long import (
    MAX_BOUND,
    NO_LINE_START,
    OPENING,
    is_katakana_word,
    may_break_before,
    split_long,
)

DEFAULTS = Path(__file__).resolve().parents[2] / "config" / "defaults" / "morioka.toml"


def _shipped_names() -> list[str]:
    config = tomllib.loads(DEFAULTS.read_text(encoding="utf-8"))
    return [item["name_ja"] for kind in ("procedures", "departments") for item in config[kind]]


NAMES = _shipped_names()


def _katakana_words(text: str) -> list[tuple[int, int]]:
    """(start, end) of every run of two or more katakana in ``text``."""
    runs, start = [], None
    for i, ch in enumerate(text + " "):
        if is_katakana_word(ch):
            start = i if start is None else start
        elif start is not None:
            if i - start >= 2:
                runs.append((start, i))
            start = None
    return runs


def test_the_shipped_names_include_phrases_too_long_for_a_narrow_label():
    """Without the second cut these names held a phrase over MAX_BOUND (the check below could not fail)."""
    import budoux

    parser = budoux.load_default_japanese_parser()
    too_long = [n for n in NAMES if any(len(p) > MAX_BOUND for p in parser.parse(n))]
    assert "居宅(介護予防)サービス計画作成(変更)依頼の届" in too_long
    assert len(too_long) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_name_breaks_only_at_sensible_places(name):
    cut = phrases(name)
    assert "".join(cut) == name
    ends = [sum(len(p) for p in cut[: i + 1]) for i in range(len(cut) - 1)]
    for end in ends:
        assert name[end] not in NO_LINE_START, f"{name}: a line would start with {name[end]} ({cut})"
        assert name[end - 1] not in OPENING, f"{name}: a line would end with {name[end - 1]} ({cut})"
        for start, stop in _katakana_words(name):
            assert not start < end < stop, f"{name}: {name[start:stop]} broken inside ({cut})"
    for phrase in cut:
        assert len(phrase.rstrip()) <= MAX_BOUND or is_katakana_word(phrase.rstrip()), (name, cut)


def test_the_long_phrases_of_the_shipped_names_are_cut_where_a_word_begins():
    assert phrases("居宅(介護予防)サービス計画作成(変更)依頼の届") == [
        "居宅",
        "(介護予防)サービス",
        "計画作成",
        "(変更)依頼の",
        "届",
    ]
    assert phrases("居宅介護(介護予防)福祉用具購入費の支給申請") == [
        "居宅介護",
        "(介護予防)",
        "福祉用具購入費の",
        "支給申請",
    ]
    # A long run of kanji breaks after a word's last character, the particle stays with its word.
    assert split_long("国民健康保険被保険者資格確認書の") == ["国民健康保険被保険者", "資格確認書の"]


def test_kinsoku_and_katakana_words():
    assert not may_break_before("サービス", 2)  # inside a katakana word
    assert not may_break_before("計画（変更）", 3)  # after an opening bracket
    assert not may_break_before("計画（変更）", 5)  # before a closing one
    assert not may_break_before("チェックする", 3)  # before a small ッ
    assert not may_break_before("依頼の届", 2)  # a particle stays with its word
    assert may_break_before("依頼の届", 3) and may_break_before("サービス計画", 4)
    # A katakana word longer than the bound is left whole (glued) rather than broken inside.
    word = "インフォメーションセンター"
    assert len(word) > MAX_BOUND and split_long(word) == [word]
    assert unbind(bind(word + "の")) == word + "の" and "\u2060" in bind(word)
    assert split_long("短い名前 ") == ["短い名前 "]
    # Kanji-only text breaks by character as Chinese does, but brackets stay with their words.
    assert phrases("関係届書（申出書）")[-4:] == ["書", "（申", "出", "書）"]


def _lines(text: str, width: int) -> list[str]:
    font = QFont("Noto Sans CJK JP")
    font.setPixelSize(27)
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap)
    layout.setTextOption(option)
    layout.beginLayout()
    lines = []
    while (line := layout.createLine()).isValid():
        line.setLineWidth(width)
        lines.append(unbind(text[line.textStart() : line.textStart() + line.textLength()]))
    layout.endLayout()
    return lines


@pytest.mark.parametrize("width", [250, 330, 400])
def test_qt_wraps_the_longest_names_only_between_the_pieces(qapp, width):
    for name in (
        "居宅(介護予防)サービス計画作成(変更)依頼の届",
        "居宅介護(介護予防)福祉用具購入費の支給申請",
    ):
        boundaries, position = set(), 0
        for phrase in phrases(name):
            position += len(phrase)
            boundaries.add(position)
        lines = _lines(bind(name), width)
        assert "".join(lines) == name
        ends = {sum(len(line) for line in lines[: i + 1]) for i in range(len(lines))}
        assert ends <= boundaries, f"a line ends inside a piece at {width} px: {lines}"
        assert len(lines) >= 2
