"""「その他の言語（通訳つき）」: a resident whose language is not one of the kiosk's six screens asks for an
interpreter before the call. The screens then go on in English, or in やさしい日本語 for Japanese Sign
Language (a signing resident reads Japanese); ``request_call`` carries ``interpreter_language`` and the
server requests the interpreter as soon as an officer answers (docs/kiosk.md)."""

from __future__ import annotations

from typing import Protocol

from kiosk_client.resident import ResidentSession
from remote_call.wire import INTERPRETER_LANGUAGES

SCREEN_LANGUAGE_FOR_SIGN = "ja-easy"
SCREEN_LANGUAGE_FOR_SPOKEN = "en"


class ChoosesLanguage(Protocol):
    resident: ResidentSession

    def choose_language(self, language: str) -> None: ...


def screen_language(interpreter_language: str) -> str:
    """The kiosk's own screen language while an interpreter of ``interpreter_language`` is asked for."""
    return SCREEN_LANGUAGE_FOR_SIGN if interpreter_language == "jsl" else SCREEN_LANGUAGE_FOR_SPOKEN


def choose_with_interpreter(controller: ChoosesLanguage, interpreter_language: str) -> None:
    """The resident chose ``interpreter_language`` under "other languages": screens in English or
    やさしい日本語, and the call will ask for that interpreter."""
    if interpreter_language not in INTERPRETER_LANGUAGES:
        raise ValueError(
            f"no interpreters for {interpreter_language!r}; one of {', '.join(INTERPRETER_LANGUAGES)}"
        )
    controller.resident.interpreter_language = interpreter_language
    controller.choose_language(screen_language(interpreter_language))
