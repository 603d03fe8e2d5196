"""Pytest fixtures for the GUI suites: Python's cyclic garbage is collected between tests, on the main thread.

Left to itself, the cyclic collector runs in whichever thread happens to allocate when its threshold is
crossed: a video view's conversion worker, a timer thread, or the main thread in the middle of a Qt
callback. A PySide6 wrapper collected there destroys its Qt object outside the GUI thread, or under a
callback still using it. The kiosk suite crashed inside Qt's event loop (SIGSEGV, a different test each time)
in two of six fresh-clone CI runs on 2026-12-02, which fits that; it is not proven. With automatic
collection off during the suite, a collection runs after each test, outside the event loop and on the main
thread; reference counting still frees everything else at once.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def collect_garbage_between_tests_only() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test(collect_garbage_between_tests_only: None) -> Iterator[None]:
    yield
    gc.collect()
