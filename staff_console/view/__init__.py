"""The PySide6 view of the officer console: a thin layer over ConsoleController, run under qasync."""
