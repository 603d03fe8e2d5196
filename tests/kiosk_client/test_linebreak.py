"""Japanese and Chinese lines break between phrases (BudouX), never inside a word: checked with Qt's own
text layout, which without the joiners breaks 住民票 after 住."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFont, QTextLayout, QTextOption

from kiosk_client.linebreak import WORD_JOINER, bind, bind_html, phrases, unbind

SENTENCE = "住民票の写しの交付を申し込みたいときは、職員にお伝えください"


def _lines(text: str, width: int) -> list[str]:
    font = QFont("Noto Sans CJK JP")
    font.setPixelSize(27)
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap)  # what a word-wrapping QLabel uses
    layout.setTextOption(option)
    layout.beginLayout()
    lines = []
    while (line := layout.createLine()).isValid():
        line.setLineWidth(width)
        lines.append(unbind(text[line.textStart() : line.textStart() + line.textLength()]))
    layout.endLayout()
    return lines


def test_phrases_give_the_text_back_and_cut_between_words():
    cut = phrases(SENTENCE)
    assert "".join(cut) == SENTENCE
    assert "住民票の" in cut and "職員に" in cut
    assert phrases("ことばを　えらんで　ください") == ["ことばを　", "えらんで　", "ください"]
    assert phrases("Please choose your language") == ["Please ", "choose ", "your ", "language"]


@pytest.mark.parametrize("width", [200, 260, 300, 420])
def test_qt_breaks_bound_text_only_between_phrases(qapp, width):
    boundaries = set()
    position = 0
    for phrase in phrases(SENTENCE):
        position += len(phrase)
        boundaries.add(position)
    bound_lines = _lines(bind(SENTENCE), width)
    assert "".join(bound_lines) == SENTENCE
    ends = [sum(len(line) for line in bound_lines[: i + 1]) for i in range(len(bound_lines))]
    assert set(ends) <= boundaries, f"a line ends inside a phrase: {bound_lines}"
    # Without the joiners Qt does break inside a word at one of these widths (the check can fail).
    if width == 300:
        plain_ends = {sum(len(x) for x in _lines(SENTENCE, width)[: i + 1]) for i in range(3)}
        assert not plain_ends <= boundaries


def test_html_keeps_tags_and_latin_text_is_untouched():
    markup = "<b>住民票の写し</b>&nbsp;を<span style='font-size:60%'>（じゅうみんひょう）</span>"
    bound = bind_html(markup)
    assert unbind(bound) == markup
    assert "<span style='font-size:60%'>" in bound and "&nbsp;" in bound
    assert bind("Please choose your language") == "Please choose your language"
    assert WORD_JOINER not in bind("한국어 문장입니다")
    assert bind(bind(SENTENCE)) == bind(SENTENCE)


def test_easy_japanese_breaks_at_its_spaces_and_chinese_anywhere():
    assert phrases("児童手当：名前や 住所が かわったときの 届け") == [
        "児童手当：",
        "名前や ",
        "住所が ",
        "かわったときの ",
        "届け",
    ]  # BudouX alone would cut か / わった; a line may end after ：
    assert phrases("学校午餐费") == list("学校午餐费")
    assert bind("学校午餐费") == "学校午餐费"
