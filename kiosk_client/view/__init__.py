"""The PySide6 view of the kiosk: renders ``KioskController`` and forwards touches; no logic of its own."""
