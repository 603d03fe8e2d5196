"""The test suite's own rules (docs/testing.md, "Rules"), checked on the syntax tree of every test module:
every test asserts something that could fail, nothing sleeps to wait, no assertion reads a stopwatch."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"

# Sleeps that are not synchronisation, each with its reason (path relative to the root: count allowed).
ALLOWED_SLEEPS = {
    # the fault schedule: calm between faults and how long a fault lasts; the test waits on outcomes
    "tests/chaos/test_chaos.py": 3,
    # a fake network track delivers audio in real time into a real (PulseAudio) device; nothing timed
    "tests/hardware/test_audio.py": 1,
}
# Names that make a test fail without a bare ``assert``.
FAILING_CALLS = {"raises", "fail", "warns", "deprecated_call"}


def modules(under: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(under.rglob("*.py")):
        yield path, parsed(path)


@functools.cache
def parsed(path: Path) -> ast.Module:
    """Each file parsed once for the rules below (each took ~1.5 s parsing the suite again)."""
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


@functools.cache
def fails_by_itself(node: ast.AST) -> bool:
    """An ``assert`` or ``pytest.raises/fail/warns`` anywhere in it (a bare ``raise`` does not count: fakes
    raise on purpose)."""
    return any(
        isinstance(n, ast.Assert) or (isinstance(n, ast.Call) and call_name(n) in FAILING_CALLS)
        for n in ast.walk(node)
    )


@functools.cache
def names_called(node: ast.AST) -> frozenset[str]:
    """Cached: the conftests' helpers are looked at again for every test module (9.6 s uncached)."""
    return frozenset(call_name(c) for c in ast.walk(node) if isinstance(c, ast.Call))


def asserting_helpers(functions: dict[str, list[ast.AST]]) -> set[str]:
    """Names of ``functions`` that assert, directly or through another of them."""
    found = {
        name
        for name, defs in functions.items()
        if not name.startswith("__") and any(fails_by_itself(d) for d in defs)
    }
    while True:
        more = {
            name
            for name, defs in functions.items()
            if name not in found and not name.startswith("__") and any(names_called(d) & found for d in defs)
        }
        if not more:
            return found
        found |= more


def functions_of(tree: ast.Module) -> dict[str, list[ast.AST]]:
    found: dict[str, list[ast.AST]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.setdefault(node.name, []).append(node)
    return found


def test_every_test_asserts_something():
    """Directly, or through a helper of its own module or of a conftest that asserts."""
    trees = dict(modules(TESTS))
    shared: dict[str, list[ast.AST]] = {}
    for path, tree in trees.items():
        if path.name == "conftest.py":
            for name, defs in functions_of(tree).items():
                shared.setdefault(name, []).extend(defs)
    silent, tests = [], 0
    for path, tree in trees.items():
        if not path.name.startswith("test_"):
            continue
        local = functions_of(tree)
        helpers = asserting_helpers({**shared, **{k: v + shared.get(k, []) for k, v in local.items()}})
        for name, defs in local.items():
            for node in defs if name.startswith("test_") else ():
                tests += 1
                if not fails_by_itself(node) and not names_called(node) & helpers:
                    silent.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert tests > 400  # test functions, before parametrisation
    assert silent == [], "a test that cannot fail: assert what it proves"


def test_nothing_sleeps_to_wait():
    found: dict[str, list[str]] = {}
    for path, tree in modules(TESTS):
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and call_name(node) == "sleep" and node.args):
                continue
            delay = node.args[0]
            if isinstance(delay, ast.Constant) and delay.value == 0:
                continue  # yielding once (a fake sleep's own turn), not waiting
            found.setdefault(str(path.relative_to(ROOT)), []).append(f"{node.lineno}: {ast.unparse(node)}")
    unexplained = {p: lines for p, lines in found.items() if len(lines) != ALLOWED_SLEEPS.get(p, 0)}
    assert unexplained == {}, "sleep used to wait (wait on the condition or use a fake clock)"


def test_no_assertion_reads_a_stopwatch():
    stopwatches = {"monotonic", "perf_counter", "monotonic_ns", "perf_counter_ns"}
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in modules(TESTS)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert)
        and any(isinstance(c, ast.Call) and call_name(c) in stopwatches for c in ast.walk(node))
    ]
    assert found == [], "a duration asserted on the wall clock: drive the code with a fake clock"
