"""Regression guard for PySide6 6.12.0 on Python 3.11: every call of a Qt method returning nothing dropped
one reference of None and the interpreter aborted after ~5,000 calls (none_dealloc / bool_dealloc).
We pin PySide6-Essentials < 6.12 on Python < 3.12; this test fails (or crashes) if a bad build returns."""

from __future__ import annotations

import asyncio
import sys

import PySide6
import pytest
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

CALLS = 20_000


def test_pinned_version_on_python_3_11():
    major, minor = (int(x) for x in PySide6.__version__.split(".")[:2])
    if sys.version_info < (3, 12):
        assert (major, minor) < (6, 12), f"PySide6 {PySide6.__version__} is known to crash on Python 3.11"


def test_many_void_calls_keep_none_alive():
    obj = QObject()
    before = sys.getrefcount(None)
    for i in range(CALLS):
        obj.setObjectName(f"n{i % 10}")
    after = sys.getrefcount(None)
    assert after >= before - 100, f"None lost {before - after} references over {CALLS} calls"


def test_many_void_calls_under_qasync():
    import qasync

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    obj = QObject()

    async def hammer() -> int:
        before = sys.getrefcount(None)
        for i in range(CALLS):
            obj.setObjectName(f"n{i % 10}")
            if i % 2000 == 0:
                await asyncio.sleep(0)  # yield to the Qt-driven loop between batches
        return before - sys.getrefcount(None)

    try:
        lost = loop.run_until_complete(hammer())
    finally:
        loop.close()
    assert lost <= 100, f"None lost {lost} references under qasync"


@pytest.fixture(autouse=True, scope="module")
def _offscreen():
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    yield
