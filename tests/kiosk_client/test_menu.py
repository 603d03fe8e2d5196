"""What a kiosk offers: remote departments of its audience only, procedures by category, search."""

from __future__ import annotations

from config.loader import load_config
from config.schema import Audience
from devtools.kiosk_demo import demo_departments
from kiosk_client.menu import Menu


def menu(audience: Audience = Audience.RESIDENTS) -> Menu:
    config = load_config()
    return Menu(config, audience, demo_departments(config))


def test_only_remote_departments_of_the_kiosk_audience():
    residents = {d.id for d in menu().departments()}
    assert residents == {"kosodate", "shimin-toroku", "iryo-nenkin", "kenko-hoken", "okuyami"}
    businesses = {d.id for d in menu(Audience.BUSINESSES).departments()}
    assert businesses == {"kaigo-hoken", "kyuhaisui", "kenchiku-shido"}


def test_procedures_never_point_at_a_department_without_a_remote_counter():
    procedures = menu().procedures()
    ids = {p.id for p in procedures}
    assert "juminhyo" in ids and "tenshutsu" in ids
    assert (
        "shotoku-kazei-shomei" not in ids and "risai-shomei" not in ids
    )  # 市民税課, 防災: no remote counter
    assert "kyusui-koji" not in ids  # businesses only
    assert "税" not in menu().categories() and "子育て" in menu().categories()


def test_category_filter_and_search_in_japanese_english_and_translated_category_names():
    m = menu()
    assert {p.category for p in m.procedures("年金")} == {"年金"}
    assert [p.id for p in m.procedures(query="住民票の写し")] == ["juminhyo"]
    assert "juminhyo" in [p.id for p in m.procedures(query="CERTIFICATE OF RESIDENCE")]
    found = m.procedures(query="pension", extra_names={"年金": "Pension"})
    assert "年金" in {p.category for p in found}
    assert all("pension" in (p.name_en + p.department.name_en).lower() or p.category == "年金" for p in found)
    # Half-width katakana typed as a reading finds the category 住民票・戸籍 by its easy-Japanese furigana.
    found = m.procedures(query="ｺｾｷ")
    assert found and all(p.category == "住民票・戸籍" for p in found)
    assert {p.id for p in m.procedures(query="じゅうみんひょう")} == {p.id for p in found}
    assert m.procedures(query="ぜんぜんちがう") == []
    assert [p.id for p in m.procedures(query="戸籍謄本")] == ["koseki"]


def test_live_status_reaches_the_tiles():
    tile = menu().department("kenko-hoken")
    assert not tile.open and tile.next_open == "2026-11-30T08:30"
    assert menu().procedure("juminhyo").department.open


def test_kana_typed_on_the_keyboard_finds_a_procedure_by_its_reading():
    m = menu()
    juminhyo = next(p for p in m.procedures() if p.id == "juminhyo")
    assert juminhyo.readings and all("{" not in r for r in juminhyo.readings)  # from name_ja_easy
    reading = juminhyo.readings[0].replace(" ", "").replace("\u3000", "")
    typed = reading[:4]  # the first kana of the reading, as typed on the kana board
    assert "juminhyo" in {p.id for p in m.procedures(query=typed)}
    assert m.procedures(query=typed + "ゑゑ") == []
