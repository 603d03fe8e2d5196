"""A family member's chat line (typed on the guest page, docs/guests.md) on the kiosk's call screen, named as
the family's in the resident's language; and every sender a chat line may name has its words on the kiosk
and the console, so no line is ever shown with a raw key."""

from __future__ import annotations

import typing

import pytest

from devtools.kiosk_demo import stage, view_stage
from kiosk_client.i18n import catalogs
from kiosk_client.view.in_call import THIRD_PARTY_SAID
from remote_call.desk import ChatLine, ChatSender
from staff_console.i18n import Messages

from .conftest import settle

LINE = "母の保険証は私が預かっています"


@pytest.mark.parametrize(
    ("language", "said"),
    [("ja", f"ご家族：{LINE}"), ("ja-easy", f"かぞく：{LINE}"), ("vi", f"Người nhà: {LINE}")],
)
async def test_the_family_members_line_is_shown_as_theirs_on_the_call_screen(demo, language, said, shots):
    controller, window = demo
    window.frozen = True
    await stage(controller, "in_call_chat", language)
    window.frozen = False
    view_stage(window, "in_call_chat")
    controller.resident.chat.append(ChatLine("guest", LINE))
    window.refresh()
    await settle(window)
    text = window.screens["in_call"].chat.text()
    assert said in text and "call.guest_said" not in text
    shots.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(shots / f"kiosk-guest-chat-{language}.png"))


def test_every_chat_sender_has_its_words_on_the_kiosk_and_the_console():
    senders = typing.get_args(ChatSender)
    assert "guest" in senders
    for sender in senders:
        for language in ("ja", "en"):
            words = Messages(language, strict=True)(f"chat.{sender}", text="x")
            assert words.endswith("x") and not words.startswith("chat."), (sender, language)
    for language, catalog in catalogs().messages.items():
        for sender, key in THIRD_PARTY_SAID.items():
            assert "{text}" in catalog[key], (language, sender, key)
