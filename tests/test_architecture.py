"""The architecture's written rules (docs/architecture.md, "Import rules" and "Size"), checked on the source.

Imports are read from the syntax tree, so a rule is broken by any import anywhere in a module: at the top,
inside a function, or under `if TYPE_CHECKING`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT_PACKAGES = ("signaling_server", "kiosk_client", "staff_console", "remote_call", "hardware", "config")
DEV_PACKAGES = ("simulator", "devtools")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80

# package -> top-level packages it must never import
FORBIDDEN_IMPORTS = {
    "kiosk_client": {"signaling_server", "simulator", "devtools", "staff_console", "tests", "bench"},
    "staff_console": {"signaling_server", "simulator", "devtools", "kiosk_client", "tests", "bench"},
    "remote_call": {"signaling_server", "simulator", "devtools", "hardware", "kiosk_client", "staff_console"},
    "hardware": {"signaling_server", "simulator", "devtools", "kiosk_client", "staff_console", "remote_call"},
    "config": {"signaling_server", "simulator", "devtools", "kiosk_client", "staff_console", "remote_call"},
    "signaling_server": {
        "simulator",
        "devtools",
        "kiosk_client",
        "staff_console",
        "hardware",
        "tests",
        "bench",
    },
}


def _modules(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports (absolute imports; relative ones stay inside the package)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN_IMPORTS))
def test_packages_import_only_what_the_layering_allows(package: str) -> None:
    broken = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN_IMPORTS[package])
        for path in _modules(package)
    }
    assert {module: names for module, names in broken.items() if names} == {}


def test_the_import_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from signaling_server.testing import x\n    import simulator.fleet\n")
    assert imported_packages(module) == {"signaling_server", "simulator"}


def test_no_module_is_longer_than_the_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in _modules(*PRODUCT_PACKAGES, *DEV_PACKAGES)
        if (lines := path.read_text(encoding="utf-8").count("\n")) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_longer_than_the_limit() -> None:
    assert [f for path in _modules(*PRODUCT_PACKAGES, *DEV_PACKAGES) for f in long_functions(path)] == []
