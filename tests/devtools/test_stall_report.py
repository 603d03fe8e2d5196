"""A test stuck on an unbounded await is reported with its task's stack before pytest-timeout stops it
(devtools/stall_report.py): a real pytest run in a subprocess, on a test that awaits a future nobody sets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CONFTEST = "from devtools.stall_report import report_stalled_tasks  # noqa: F401\n"
STUCK_TEST = """
import asyncio
import pytest


async def wait_for_a_reply_that_never_comes():
    await read_the_socket()


async def read_the_socket():
    await asyncio.get_running_loop().create_future()


@pytest.mark.asyncio
async def test_stuck():
    await wait_for_a_reply_that_never_comes()


def test_quick():
    assert True
"""


def run_pytest(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", str(folder / "pytest.ini")]
    return subprocess.run(
        [*command, "--rootdir", str(folder), *args, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", **env},
    )


def test_a_stuck_test_is_reported_with_the_await_it_is_stuck_on(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_stuck.py").write_text(STUCK_TEST)
    log = tmp_path / "stalls.log"
    result = run_pytest(
        tmp_path, "--timeout=4", "--timeout-method=thread", "-k", "stuck", MADOGUCHI_STALL_LOG=str(log)
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "asyncio task(s) pending in test_stuck.py::test_stuck =====" in output, output  # names the test
    assert "in read_the_socket\n" in log.read_text()  # kept for run-tests to print again at its end
    assert "in wait_for_a_reply_that_never_comes\n" in output, output  # each await of the chain,
    assert "in read_the_socket\n" in output, output  # down to the one that waits
    assert output.index("asyncio task(s) pending") < output.index("Timeout"), output  # before the dump


def test_a_test_that_ends_in_time_reports_nothing(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_stuck.py").write_text(STUCK_TEST)
    result = run_pytest(tmp_path, "--timeout=4", "-k", "quick")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pending" not in result.stdout + result.stderr
