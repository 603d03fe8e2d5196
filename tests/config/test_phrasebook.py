"""The phrase library: the shipped file is complete and valid; a phrase missing a language or with other
parameters than its Japanese is refused at load; rendering fills typed parameters per language; the in-call
message carrying a phrase; the slip laid out in the resident's language with the Japanese beside it."""

from __future__ import annotations

import tomllib

import pytest

from config.loader import load_config
from config.phrasebook import (
    PHRASES_PATH,
    Category,
    PhraseBookError,
    PhraseError,
    config_names,
    parse_phrasebook,
    shipped_phrasebook,
)
from kiosk_client.slips import localized_slip
from remote_call import incall as ic


@pytest.fixture(scope="module")
def names():
    return config_names(load_config())


def raw() -> dict:
    return tomllib.loads(PHRASES_PATH.read_text(encoding="utf-8"))


def test_the_shipped_library_covers_every_category_in_every_language():
    book = shipped_phrasebook()
    assert len(book.phrases) >= 25
    for category in Category:
        assert book.by_category(category), f"no phrase for {category}"
    assert any(p.params == ["department"] for p in book.phrases)
    assert any(p.params == ["fee"] for p in book.phrases)
    assert any(p.params == ["window"] for p in book.phrases)


def test_a_phrase_missing_a_language_is_refused_with_its_id():
    data = raw()
    del data["phrases"][3]["text"]["vi"]
    with pytest.raises(PhraseBookError, match=rf"phrase '{data['phrases'][3]['id']}': missing vi"):
        parse_phrasebook(data)


def test_a_translation_with_other_parameters_than_the_japanese_is_refused():
    data = raw()
    fee = next(p for p in data["phrases"] if p["id"] == "fee.amount")
    fee["text"]["en"] = "The fee is {amount} yen."
    with pytest.raises(PhraseBookError, match=r"en has parameters \['amount'\], ja has \['fee'\]"):
        parse_phrasebook(data)


def test_unknown_parameters_and_missing_slip_templates_are_refused():
    data = raw()
    data["phrases"][0]["text"] = {lang: "{name}" for lang in data["phrases"][0]["text"]}
    del data["slip"]["ko"]
    with pytest.raises(PhraseBookError) as error:
        parse_phrasebook(data)
    text = str(error.value)
    assert "unknown parameters ['name']" in text and "missing ['ko']" in text


def test_rendering_fills_names_numbers_and_keeps_readings(names):
    book = shipped_phrasebook()
    assert book.render("next.department", "vi", {"department": "kenko-hoken"}, names) == (
        "Tiếp theo, thủ tục sẽ được thực hiện tại Ban Bảo hiểm Y tế Quốc dân."
    )
    assert book.render("next.department", "ko", {"department": "kenko-hoken"}, names) == (
        "다음은 건강보험과에서 절차를 진행합니다."
    )
    assert book.render("fee.amount", "vi", {"fee": "1300"}, names) == "Lệ phí là 1.300 yên."
    assert book.render("fee.amount", "en", {"fee": "1300"}, names) == "The fee is 1,300 yen."
    assert book.render("wait.minutes", "ja-easy", {"minutes": "10"}, names) == (
        "10{分|ふん}ぐらい {待|ま}ってください。"
    )


@pytest.mark.parametrize(
    "phrase_id, params",
    [
        ("fee.amount", {"fee": "三百"}),
        ("fee.amount", {}),
        ("fee.amount", {"fee": "300", "window": "2"}),
        ("next.department", {"department": "<b>x</b>"}),
        ("next.come_back", {"time": "25:00"}),
        ("no.such.phrase", {}),
    ],
)
def test_parameters_must_be_exactly_the_phrases_and_of_their_kind(phrase_id, params, names):
    with pytest.raises(PhraseError):
        shipped_phrasebook().render(phrase_id, "en", params, names)


def test_the_phrase_message_on_the_wire():
    message = ic.Phrase(id="p-1", phrase=ic.PhraseRef(phrase_id="fee.amount", params={"fee": "300"}))
    data = ic.incall_dict(message)
    assert data == {
        "type": "phrase",
        "id": "p-1",
        "phrase": {"phrase_id": "fee.amount", "params": {"fee": "300"}},
    }
    assert ic.parse_incall(data) == message
    with pytest.raises(ic.InCallError):
        ic.parse_incall({**data, "phrase": {"phrase_id": "Fee Amount", "params": {}}})


def test_a_slip_for_a_japanese_resident_is_japanese_only_and_free_text_is_not_marked(names):
    slip = ic.PrintSlip(
        slip_id="slip-1",
        department="市民登録課",
        message="窓口でお待ちください",
        language="ja",
        department_id="shimin-toroku",
        phrases=[ic.PhraseRef(phrase_id="fee.amount", params={"fee": "300"})],
    )
    receipt = localized_slip(slip, "盛岡市", "ja", shipped_phrasebook(), names)
    assert (receipt.title, receipt.number_label, receipt.department) == (
        "リモート窓口 受付票",
        "受付番号",
        "市民登録課",
    )
    assert receipt.message == "手数料は300円です。\n窓口でお待ちください"


def test_a_slip_in_korean_carries_the_japanese_and_marks_the_officers_own_words(names):
    slip = ic.PrintSlip(
        slip_id="slip-2",
        department="市民登録課",
        next_steps="来週もう一度",
        language="ko",
        department_id="shimin-toroku",
        phrases=[ic.PhraseRef(phrase_id="next.mail")],
    )
    receipt = localized_slip(slip, "盛岡市", "ja", shipped_phrasebook(), names)
    assert receipt.department == "시민등록과\n市民登録課"
    assert receipt.title == "원격 창구 접수표\nリモート窓口 受付票"
    assert receipt.message.splitlines() == [
        "서류는 나중에 우편으로 보내 드리겠습니다.",
        "書類は後日郵送します。",
        "다음 절차 / 次の手続き: (번역 없음) 来週もう一度",
    ]
