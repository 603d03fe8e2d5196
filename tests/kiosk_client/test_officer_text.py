"""How the kiosk shows what the officer sent: a library phrase in the resident's language (やさしい日本語 with
its readings), free text as typed, marked untranslated only for a resident who does not read Japanese."""

from __future__ import annotations

from config.phrasebook import shipped_phrasebook
from kiosk_client.i18n import catalogs
from kiosk_client.view.base import Ctx
from kiosk_client.view.in_call import officer_html


def ctx(lang: str) -> Ctx:
    return Ctx(controller=None, catalogs=catalogs(), lang=lang)  # type: ignore[arg-type]


def test_a_phrase_in_easy_japanese_keeps_its_readings():
    text = shipped_phrasebook().render("wait.moment", "ja-easy", {}, lambda *_: None)
    assert officer_html(ctx("ja-easy"), text, "wait.moment") == (
        "すこし 待<span style='font-size:60%'>（ま）</span>ってください。"
    )


def test_free_text_is_marked_untranslated_in_the_residents_language():
    assert officer_html(ctx("ko"), "印鑑 <b>", None) == (
        "<span style='font-weight:normal'>［번역 없음］</span> 印鑑 &lt;b&gt;"
    )
    assert officer_html(ctx("zh"), "印鑑", None).startswith("<span style='font-weight:normal'>［未翻译］")


def test_free_text_to_a_japanese_reader_is_not_marked():
    assert officer_html(ctx("ja"), "印鑑をお持ちください", None) == "印鑑をお持ちください"
    assert officer_html(ctx("ja-easy"), "印鑑", None) == "印鑑"
