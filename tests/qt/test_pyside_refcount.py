"""Regression guard for PySide6 6.12.0 on Python 3.11: every call of a Qt method returning nothing dropped
one reference of None and the interpreter aborted after ~5,000 calls (none_dealloc / bool_dealloc).
We pin PySide6-Essentials < 6.12 on Python < 3.12. The calls run in a child interpreter, so a bad build
shows as a failed test (the child's abort), not as a crashed test run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import PySide6

CALLS = 20_000

CHILD = textwrap.dedent(f"""
    import asyncio, sys
    from PySide6.QtCore import QObject
    from PySide6.QtWidgets import QApplication
    import qasync

    obj = QObject()
    before = sys.getrefcount(None)
    for i in range({CALLS}):
        obj.setObjectName(f"n{{i % 10}}")
    plain_lost = before - sys.getrefcount(None)

    app = QApplication([])
    loop = qasync.QEventLoop(app)

    async def hammer():
        before = sys.getrefcount(None)
        for i in range({CALLS}):
            obj.setObjectName(f"q{{i % 10}}")
            if i % 2000 == 0:
                await asyncio.sleep(0)
        return before - sys.getrefcount(None)

    qasync_lost = loop.run_until_complete(hammer())
    print(plain_lost, qasync_lost)
""")


def test_pinned_version_on_python_3_11():
    major, minor = (int(x) for x in PySide6.__version__.split(".")[:2])
    if sys.version_info < (3, 12):
        assert (major, minor) < (6, 12), f"PySide6 {PySide6.__version__} is known to crash on Python 3.11"


def test_many_void_calls_keep_none_alive():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, f"the interpreter died ({result.returncode}): {result.stderr[-2000:]}"
    plain_lost, qasync_lost = (int(x) for x in result.stdout.split())
    assert plain_lost <= 100 and qasync_lost <= 100, (plain_lost, qasync_lost)
