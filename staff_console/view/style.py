"""The console's look: one stylesheet, large clear controls, a ring panel that cannot be missed."""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

STYLESHEET = """
QWidget { font-size: 15px; }
QLabel#title { font-size: 22px; font-weight: bold; }
QLabel#heading { font-size: 18px; font-weight: bold; }
QLabel#muted { color: #555; }
QLabel#error { color: #b00020; font-weight: bold; }
QLabel#badge { border-radius: 6px; padding: 4px 12px; color: white; font-weight: bold; font-size: 16px; }
QLabel#wrapup { color: #8a4b00; font-weight: bold; font-size: 16px; }
QFrame#header { background: #eef2f7; border-bottom: 1px solid #c9d2de; }
QPushButton { padding: 6px 14px; }
QPushButton#primary { background: #1565c0; color: white; font-weight: bold; border-radius: 4px; }
QPushButton#primary:disabled { background: #9bb3cf; }
QPushButton#accept { background: #2e7d32; color: white; font-size: 26px; font-weight: bold;
                     padding: 18px 40px; border-radius: 8px; }
QPushButton#decline { background: #757575; color: white; font-size: 20px; padding: 18px 30px;
                      border-radius: 8px; }
QPushButton#danger { background: #c62828; color: white; font-weight: bold; border-radius: 4px; }
QPushButton:checked { background: #c62828; color: white; }
QFrame#ringPanel { background: #fff3e0; border: 10px solid #ef6c00; border-radius: 14px; }
QFrame#ringPanel[flash="true"] { border-color: #ffb74d; }
QLabel#ringTitle { font-size: 40px; font-weight: bold; color: #e65100; }
QLabel#ringField { font-size: 22px; }
QLabel#ringValue { font-size: 24px; font-weight: bold; }
QLabel#ringWait { font-size: 30px; font-weight: bold; color: #b71c1c; }
QFrame#callInfo { background: #f5f5f5; border-radius: 6px; }
QListWidget#chat { font-size: 16px; }
QLabel#businessBadge { background: #263238; color: white; font-weight: bold; border-radius: 6px;
                       padding: 4px 12px; }
QFrame#ringPanel QLabel#businessBadge { font-size: 24px; padding: 6px 18px; }
QLabel#sharingBadge { background: #00695c; color: white; font-weight: bold; border-radius: 6px;
                      padding: 4px 10px; }
QLabel#problem { color: #b00020; font-weight: bold; }
"""

STATE_COLOURS = {
    "offline": "#616161",
    "available": "#2e7d32",
    "ringing": "#ef6c00",
    "in_call": "#1565c0",
    "wrap_up": "#8a4b00",
    "away": "#6a1b9a",
    "monitoring": "#00695c",
}


def apply_style(app: QApplication) -> None:
    app.setStyleSheet(STYLESHEET)
    font = QFont()
    font.setFamilies(["Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "sans-serif"])
    app.setFont(font)
