"""The kana keyboard's marks (゛ ゜ 小) and the procedure search by name and by reading (Qt-free)."""

from __future__ import annotations

import pytest

from kiosk_client.search import (
    add_dakuten,
    add_handakuten,
    fold,
    matches,
    plain_of,
    reading_of,
    toggle_small,
)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("か", "が"),
        ("が", "か"),
        ("し", "じ"),
        ("つ", "づ"),
        ("は", "ば"),
        ("ぱ", "ば"),
        ("う", "ゔ"),
        ("あ", "あ"),
        ("", ""),
    ],
)
def test_dakuten_adds_or_removes_the_mark_on_the_last_character(before, after):
    assert add_dakuten("じゅう" + before)[3:] == after


@pytest.mark.parametrize(("before", "after"), [("は", "ぱ"), ("ぱ", "は"), ("ば", "ぱ"), ("か", "か")])
def test_handakuten_works_on_the_h_column_only(before, after):
    assert add_handakuten(before) == after


@pytest.mark.parametrize(("before", "after"), [("つ", "っ"), ("っ", "つ"), ("よ", "ょ"), ("か", "か")])
def test_small_kana_toggle(before, after):
    assert toggle_small("し" + before) == "し" + after


def test_readings_and_plain_text_come_from_furigana():
    easy = "{住民票|じゅうみんひょう}の{写|うつ}し"
    assert reading_of(easy) == "じゅうみんひょうのうつし"
    assert plain_of(easy) == "住民票の写し"


def test_fold_ignores_width_case_and_katakana():
    assert fold("ＡＢＣ") == "abc"
    assert fold("ジュウミンヒョウ") == "じゅうみんひょう"


def test_matches_a_reading_typed_in_kana_and_not_an_unrelated_word():
    texts = ["住民票の写しの交付", reading_of("{住民票|じゅうみんひょう}の{写|うつ}し")]
    assert matches("じゅうみん", texts)
    assert matches("ジュウミン", texts)
    assert matches("住民票", texts)
    assert not matches("ねんきん", texts)
    assert matches("", texts)
    assert matches("じゅうみん ひょう", texts)  # a space typed between words is ignored
