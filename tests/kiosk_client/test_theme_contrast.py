"""Borders and text of both kiosk themes against what they sit on: WCAG 2 contrast, ≥ 3:1 for borders and
the edges of coloured buttons (1.4.11 non-text contrast), ≥ 4.5:1 for text (1.4.3)."""

from __future__ import annotations

import pytest

from kiosk_client.view.theme import HIGH_CONTRAST, NORMAL, Palette, contrast_ratio


def test_the_contrast_ratio_matches_known_values():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#9aa5b1", "#f4f6f8") < 3  # the old border: the test below would fail with it


@pytest.mark.parametrize("palette", [NORMAL, HIGH_CONTRAST], ids=["normal", "high_contrast"])
def test_borders_and_button_edges_reach_3_to_1(palette: Palette):
    for ground in (palette.background, palette.surface):
        for edge in (palette.border, palette.accent, palette.danger):
            assert contrast_ratio(edge, ground) >= 3, f"{edge} on {ground}"
    # The notice's and the help panel's edge: their frame (the text colour) or their fill on the background.
    edge = max(
        contrast_ratio(palette.text, palette.background),
        contrast_ratio(palette.warning_bg, palette.background),
    )
    assert edge >= 3


@pytest.mark.parametrize("palette", [NORMAL, HIGH_CONTRAST], ids=["normal", "high_contrast"])
def test_text_reaches_4_5_to_1(palette: Palette):
    pairs = [
        (palette.text, palette.background),
        (palette.text, palette.surface),
        (palette.muted, palette.background),
        (palette.accent_text, palette.accent),
        (palette.danger_text, palette.danger),
        (palette.warning_text, palette.warning_bg),
        (palette.open, palette.surface),
        (palette.closed, palette.surface),
    ]
    for text, ground in pairs:
        assert contrast_ratio(text, ground) >= 4.5, f"{text} on {ground}"
