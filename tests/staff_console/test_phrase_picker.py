"""The console's phrase picker on its own: categories and search narrow the list, the chosen phrase's
parameters get the right inputs, the preview shows both screens, and sending emits the id and parameters."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QSpinBox, QTimeEdit

from config.loader import load_config
from config.phrasebook import config_names, shipped_phrasebook
from staff_console.i18n import Messages
from staff_console.view.phrases import PhrasePicker


def make(qtbot, language: str = "ja") -> PhrasePicker:
    picker = PhrasePicker(Messages(language, strict=True), shipped_phrasebook())
    qtbot.addWidget(picker)
    config = load_config()
    departments = [(d.id, d.name_ja) for d in config.departments if d.remote]
    picker.set_context(
        departments, [(p.id, p.name_ja) for p in config.procedures], "vi", config_names(config)
    )
    return picker


def listed(picker: PhrasePicker) -> list[str]:
    return [picker.list.item(row).data(256) for row in range(picker.list.count())]


def test_category_and_search_narrow_the_list(qtbot):
    picker = make(qtbot)
    assert len(listed(picker)) == len(shipped_phrasebook().phrases)
    picker.category.setCurrentIndex(picker.category.findData("fee"))
    assert listed(picker) == ["fee.amount", "fee.free", "fee.pay_window", "fee.convenience_store"]
    picker.category.setCurrentIndex(0)
    picker.search.setText("コンビニ")
    assert listed(picker) == ["fee.convenience_store"]
    picker.search.setText("scanner")  # the English wording is searched too
    assert listed(picker) == ["scan.place_document", "scan.id_front"]
    picker.search.setText("いちど")  # and the readings of the easy Japanese
    assert listed(picker) == ["scan.again", "next.come_back"]


def test_parameters_get_inputs_of_their_kind_and_the_preview_shows_both_screens(qtbot):
    picker = make(qtbot)
    picker.choose("next.window")
    assert isinstance(picker.fields["window"], QSpinBox)
    assert picker.list.currentItem().text() == "市役所の〔窓口番号〕番窓口へお越しください。"
    picker.fields["window"].setValue(5)
    assert picker.preview.text() == (
        "職員の画面: 市役所の5番窓口へお越しください。\n"
        "住民の画面（ベトナム語）: Vui lòng đến quầy số 5 tại Tòa thị chính."
    )
    picker.choose("next.transfer")
    assert isinstance(picker.fields["department"], QComboBox)
    picker.fields["department"].setCurrentIndex(picker.fields["department"].findData("kenko-hoken"))
    assert picker.params() == {"department": "kenko-hoken"}
    assert "Ban Bảo hiểm Y tế Quốc dân" in picker.preview.text()
    picker.choose("next.come_back")
    assert isinstance(picker.fields["time"], QTimeEdit) and picker.params() == {"time": "13:00"}


def test_send_and_add_to_slip_emit_the_phrase_and_its_parameters(qtbot):
    picker = make(qtbot)
    picker.choose("fee.amount")
    picker.fields["fee"].setValue(1300)
    with qtbot.waitSignal(picker.phrase_sent) as sent:
        qtbot.mouseClick(picker.send, Qt.MouseButton.LeftButton)
    assert sent.args == ["fee.amount", {"fee": "1300"}]
    with qtbot.waitSignal(picker.slip_phrase_added) as added:
        qtbot.mouseClick(picker.add_to_slip, Qt.MouseButton.LeftButton)
    assert added.args == ["fee.amount", {"fee": "1300"}]


def test_an_english_console_lists_the_english_wording(qtbot):
    picker = make(qtbot, "en")
    picker.choose("fee.amount")
    assert picker.list.currentItem().text() == "The fee is 〔Amount (yen)〕 yen."


def test_a_scan_phrase_can_be_sent_as_the_scan_request(qtbot):
    picker = make(qtbot)
    picker.choose("fee.free")
    assert picker.request_scan.isHidden()
    picker.choose("scan.face_down")
    assert not picker.request_scan.isHidden()
    with qtbot.waitSignal(picker.scan_requested) as requested:
        qtbot.mouseClick(picker.request_scan, Qt.MouseButton.LeftButton)
    assert requested.args == ["scan.face_down", {}]
