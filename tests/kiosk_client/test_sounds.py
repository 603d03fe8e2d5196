"""Sound cues: real tones (the right pitch, valid WAV), played through the speaker interface at the right
moments."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from kiosk_client.sounds import CUES, SAMPLE_RATE, CuePlayer, tone

from .conftest import click, expect, settle


def dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(samples.size, 1 / SAMPLE_RATE)[np.argmax(spectrum)])


def test_each_cue_is_a_short_wav_of_its_notes():
    player = CuePlayer()
    for name, (notes, ms) in CUES.items():
        data = player.wav(name)
        with wave.open(io.BytesIO(data)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, SAMPLE_RATE)
            frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        assert frames.size == len(notes) * SAMPLE_RATE * ms // 1000
        assert 0.1 < np.abs(frames).max() / 32767 < 0.5  # audible, not clipping
        first = frames[: SAMPLE_RATE * ms // 1000]
        assert dominant_hz(first) == pytest.approx(notes[0], abs=1000 / ms + 1)
    with pytest.raises(ValueError):
        tone((), 100)


def test_cues_go_to_the_speaker_output_and_a_broken_speaker_is_harmless():
    got: list[np.ndarray] = []
    player = CuePlayer(got.append)
    player.play("chat")
    assert player.played == ["chat"] and got[0].dtype == np.int16 and got[0].ndim == 1
    with pytest.raises(KeyError):
        player.play("fanfare")

    def broken(_samples: np.ndarray) -> None:
        raise OSError("speaker unplugged")

    CuePlayer(broken).play("error")  # logged, not raised


async def test_the_controller_cues_the_resident(demo, qtbot):
    controller, window = demo
    heard: list[np.ndarray] = []
    controller.cues.output = heard.append
    click(qtbot, window, "lang-ja")
    click(qtbot, window, "mode-department")
    await settle(window)
    notice = expect(controller.events, "notice")
    click(qtbot, window, "tile-department-kenko-hoken")  # closed: an attention cue with the notice
    await notice
    assert controller.cues.played[-1] == "error" and len(heard) == 1
    controller.desk._on_control({"type": "chat", "id": "c1", "text": "こんにちは", "sender": "officer"})
    assert controller.cues.played[-1] == "chat"
