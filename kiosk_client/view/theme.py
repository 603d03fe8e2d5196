"""Colours, fonts and sizes: a normal and a high-contrast theme, a normal and a larger text size.

Every size that a finger has to hit derives from ``min_touch_px`` (15 mm on the configured screen).
"""

from __future__ import annotations

from dataclasses import dataclass

# Font steps of a wrapping button whose longest phrase does not fit its width (``widgets.WrapButton``):
# the text shrinks, down to 75 %, before a word would be cut.
FIT_STEPS = {"90": 0.9, "82": 0.82, "75": 0.75}

FONT_FAMILIES = {
    "ja": "Noto Sans CJK JP",
    "ja-easy": "Noto Sans CJK JP",
    "en": "Noto Sans CJK JP",
    "zh": "Noto Sans CJK SC",
    "ko": "Noto Sans CJK KR",
    "vi": "Noto Sans CJK JP",
}


@dataclass(frozen=True)
class Palette:
    background: str
    surface: str
    text: str
    muted: str
    accent: str
    accent_text: str
    danger: str
    danger_text: str
    warning_bg: str
    warning_text: str
    open: str
    closed: str
    border: str


NORMAL = Palette(
    background="#f4f6f8",
    surface="#ffffff",
    text="#1b1f24",
    muted="#4a5360",
    accent="#0b5cad",
    accent_text="#ffffff",
    danger="#b3261e",
    danger_text="#ffffff",
    warning_bg="#fff4cc",
    warning_text="#3d2e00",
    open="#17692f",
    closed="#8a1c1c",
    border="#737e8a",  # 3.8:1 on the background, 4.1:1 on white (WCAG 1.4.11 asks ≥ 3:1)
)
HIGH_CONTRAST = Palette(
    background="#000000",
    surface="#000000",
    text="#ffffff",
    muted="#ffff00",
    accent="#ffff00",
    accent_text="#000000",
    danger="#ff4040",
    danger_text="#000000",
    warning_bg="#ffff00",
    warning_text="#000000",
    open="#7dff7d",
    closed="#ff9d9d",
    border="#ffffff",
)


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a ``#rrggbb`` colour."""
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours, 1 to 21."""
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@dataclass(frozen=True)
class Theme:
    palette: Palette
    font_px: int
    title_px: int
    min_touch_px: int
    family: str
    border_px: int

    @classmethod
    def make(
        cls,
        *,
        high_contrast: bool,
        large_text: bool,
        min_touch_px: int,
        screen_height_px: int,
        language: str = "ja",
    ) -> Theme:
        base = max(18, round(screen_height_px / 40))  # 27 px on a 1080 p screen
        if large_text:
            base = round(base * 1.3)
        return cls(
            HIGH_CONTRAST if high_contrast else NORMAL,
            base,
            round(base * 1.6),
            min_touch_px,
            FONT_FAMILIES.get(language, "Noto Sans CJK JP"),
            3 if high_contrast else 1,
        )

    def _fit_rules(self) -> str:
        rules = []
        for step, factor in FIT_STEPS.items():
            rules.append(f'QPushButton[fit="{step}"] {{ font-size: {round(self.font_px * factor)}px; }}')
            rules.append(
                f'QPushButton[big="true"][fit="{step}"] {{ font-size: {round(self.title_px * factor)}px; }}'
            )
        return "\n".join(rules)

    def stylesheet(self) -> str:
        c = self.palette
        pad = max(8, self.min_touch_px // 6)
        return f"""
QWidget {{ background: {c.background}; color: {c.text}; font-family: "{self.family}";
          font-size: {self.font_px}px; }}
QLabel {{ background: transparent; }}
QLabel[role="title"] {{ font-size: {self.title_px}px; font-weight: bold; }}
QLabel[role="subtitle"] {{ color: {c.muted}; }}
QLabel[role="big"] {{ font-size: {round(self.title_px * 1.4)}px; font-weight: bold; }}
QFrame[role="panel"] {{ background: {c.surface}; border: {self.border_px}px solid {c.border};
                       border-radius: 12px; }}
QFrame[role="notice"] {{ background: {c.warning_bg}; border: {self.border_px + 1}px solid {c.text};
                        border-radius: 8px; }}
QFrame[role="notice"] QLabel {{ color: {c.warning_text}; font-weight: bold; }}
QPushButton {{ background: {c.surface}; color: {c.text}; border: {self.border_px + 1}px solid {c.border};
              border-radius: 12px; padding: {pad}px {pad * 2}px; min-height: {self.min_touch_px}px;
              min-width: {self.min_touch_px}px; }}
QPushButton:checked {{ background: {c.accent}; color: {c.accent_text}; border-color: {c.accent}; }}
RubyButton {{ qproperty-checkedTextColor: {c.accent_text}; }}
QPushButton:disabled {{ color: {c.muted}; }}
QPushButton[role="primary"] {{ background: {c.accent}; color: {c.accent_text}; font-weight: bold;
                              border-color: {c.accent}; }}
QPushButton[role="danger"] {{ background: {c.danger}; color: {c.danger_text}; font-weight: bold;
                             border-color: {c.danger}; }}
QPushButton[role="tile"] {{ text-align: left; }}
{self._fit_rules()}
QPushButton[role="key"] {{ font-size: {round(self.font_px * 1.4)}px; padding: 2px; }}
QPushButton[role="key-control"] {{ font-weight: bold; }}
QPushButton[role="help"] {{ background: {c.warning_bg}; color: {c.warning_text}; font-weight: bold;
                           border: {self.border_px + 1}px solid {c.text}; }}
QFrame[role="muted"] {{ background: {c.danger}; border-radius: 10px; }}
QFrame[role="muted"] QLabel {{ color: {c.danger_text}; font-weight: bold; font-size: {self.title_px}px; }}
QPushButton[big="true"] {{ min-height: {round(self.min_touch_px * 1.8)}px; font-size: {self.title_px}px; }}
QPushButton[role="tile"] QLabel {{ background: transparent; }}
QPushButton[role="tile"] QLabel[on="true"] {{ color: {c.accent_text}; }}
QPushButton[role="tile"]:disabled {{ background: {c.background}; }}
QLabel[role="open"] {{ color: {c.open}; font-weight: bold; }}
QLabel[role="closed"] {{ color: {c.closed}; font-weight: bold; }}
QLineEdit {{ background: {c.surface}; border: {self.border_px + 1}px solid {c.border}; border-radius: 10px;
            padding: {pad}px; min-height: {self.min_touch_px}px; }}
QProgressBar {{ border: {self.border_px}px solid {c.border}; border-radius: 6px; background: {c.surface};
               min-height: {self.min_touch_px // 2}px; }}
QProgressBar::chunk {{ background: {c.open}; }}
QScrollArea {{ border: none; }}
QScrollBar:vertical {{ width: {max(24, self.min_touch_px // 2)}px; }}
"""
