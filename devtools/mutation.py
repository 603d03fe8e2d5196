"""Mutation testing of the modules where a silent bug costs most: ``./run-mutation [MODULE ...]``.

mutmut (pinned in constraints.txt) plants one small change at a time in a module (``<`` for ``<=``,
``and`` for ``or``, a constant off by one, a string changed, a call's argument dropped ...) and runs the
tests that reach the changed function; a change no test notices "survives". Each module below runs in a
workspace of its own, ``var/mutation/<module>/`` (links to the packages and tests, and this repository's
pyproject.toml with a ``[tool.mutmut]`` section added), so it is tested against the fast tests chosen for it
only, and every run starts from nothing: the figures are always those of the code and tests as they are.

What it prints: one line per module (killed / timeout / survived / no tests / equivalent / total / score,
the score being (killed + timeout) / (total - equivalent)); the surviving mutants' diffs go to
``var/mutation/<module>/survivors.txt``. Mutants that cannot change behaviour are listed with their reason
in ``devtools/mutation_equivalents.toml``; docs/testing.md ("Mutation testing") keeps the figures.
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "var" / "mutation"
MUTMUT = Path(sys.executable).with_name("mutmut")
EQUIVALENTS = Path(__file__).with_name("mutation_equivalents.toml")
GOAL = 0.90

# Lines left alone (mutmut's do_not_mutate_patterns; every expression starting on a matching line):
# - log calls: their text and level are for people reading logs, not behaviour a test pins;
# - SQL text: SQLite ignores the case of keywords and names, so the case-changing string mutants are
#   equivalent, and any other change to a statement fails every test that runs it.
DO_NOT_MUTATE = [
    r"\blog\.(debug|info|warning|error|exception)\(",
    r"[\"']\s*(SELECT|INSERT|UPDATE|DELETE|BEGIN|COMMIT|ROLLBACK|CREATE|PRAGMA|ORDER BY|WHERE|FROM)\b",
]


@dataclass(frozen=True)
class Target:
    """A module under mutation: the files mutmut changes (glob patterns), the tests that must notice, and
    optionally only some of the files' functions (mutmut mutant-name patterns: one method of a big class)."""

    files: tuple[str, ...]
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()
    # "fork" forks each mutant's run from the process that ran the tests once; "forkserver" from a clean
    # one (needed where a test leaves a QApplication behind, which must not be forked).
    isolation: str = "fork"


# Ordered from the small security-critical modules to routing, the biggest.
TARGETS: dict[str, Target] = {
    "auth": Target(
        ("signaling_server/auth.py",),
        (
            "tests/security/test_auth.py",
            "tests/security/test_auth_business.py",
            "tests/signaling_server/test_rest_auth.py",
        ),
    ),
    "ratelimit": Target(
        ("signaling_server/ratelimit.py",),
        ("tests/security/test_ratelimit.py", "tests/security/test_ratelimit_summary.py"),
    ),
    "audit": Target(
        ("signaling_server/audit.py",),
        ("tests/security/test_audit.py", "tests/security/test_audit_open.py"),
    ),
    "documents": Target(
        ("remote_call/documents.py",),
        ("tests/remote_call/test_documents.py", "tests/remote_call/test_session.py"),
    ),
    "access": Target(
        ("signaling_server/access.py",),
        ("tests/signaling_server/test_rest_auth.py", "tests/signaling_server/test_case_documents.py"),
    ),
    "case_documents": Target(
        ("signaling_server/case_documents.py", "signaling_server/case_routes.py"),
        (
            "tests/signaling_server/test_case_documents.py",
            "tests/signaling_server/test_case_documents_routes.py",
        ),
    ),
    "resident": Target(
        ("kiosk_client/resident.py", "kiosk_client/controller.py"),
        ("tests/kiosk_client/test_reset.py",),
        functions=(
            "kiosk_client.resident.*",
            "kiosk_client.controller.xǁKioskControllerǁreset__mutmut_*",
            "kiosk_client.controller.xǁKioskControllerǁ_forget_call_data__mutmut_*",
        ),
        isolation="forkserver",
    ),
    "commands": Target(
        ("signaling_server/switchboard/commands.py",),
        (
            *(
                f"tests/signaling_server/test_switchboard_{part}.py"
                for part in (
                    "commands",
                    "commands_mutants",
                    "commands_mutants_parties",
                    "board",
                    "effects",
                    "presence",
                    "positions",
                    "restore",
                    "staff",
                )
            ),
            "tests/signaling_server/test_transfers.py",
            "tests/signaling_server/test_ratings_outcomes.py",
            "tests/appointments/test_check_in.py",
        ),
    ),
    "routing": Target(("signaling_server/routing/*.py",), ("tests/routing",)),
}

KILLED = {"killed"}
TIMEOUT = {"timeout", "segfault"}  # "segfault" is mutmut's name for SIGKILL, sent after a CPU-time limit


class MutmutFailed(Exception):
    """mutmut could not run a module (its clean test run failed, or it crashed)."""


@dataclass
class Outcome:
    module: str
    statuses: dict[str, str]  # mutant name -> mutmut status (or "equivalent")
    seconds: float
    survivors: list[str] = field(default_factory=list)

    def count(self, *statuses: str) -> int:
        return sum(1 for status in self.statuses.values() if status in statuses)

    @property
    def score(self) -> float:
        counted = len(self.statuses) - self.count("equivalent")
        detected = self.count(*KILLED, *TIMEOUT)
        return detected / counted if counted else 1.0


def _workspace(name: str, target: Target, *, again: bool = False) -> Path:
    """var/mutation/<name>/: links to the packages and tests, pyproject.toml with this module's section.
    ``again`` keeps the last run's workspace (its mutants, results and test timings)."""
    workspace = WORK / name
    packages = sorted({Path(file).parts[0] for file in target.files})
    if not again:
        shutil.rmtree(workspace, ignore_errors=True)
        workspace.mkdir(parents=True)
        for entry in [*packages, "tests"]:
            (workspace / entry).symlink_to(ROOT / entry, target_is_directory=True)
    section = {
        "source_paths": packages,
        "only_mutate": list(target.files),
        "do_not_mutate_patterns": DO_NOT_MUTATE,
        "pytest_add_cli_args_test_selection": list(target.tests),
        "pytest_add_cli_args": ["-p", "devtools.mutation_hypothesis"],  # fewer Hypothesis examples (its doc)
        "process_isolation": target.isolation,
    }
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    text += "\n# Added by devtools/mutation.py for this workspace only.\n"
    text += tomli_w.dumps({"tool": {"mutmut": section}})
    (workspace / "pyproject.toml").write_text(text, encoding="utf-8")
    return workspace


def _run_mutmut(workspace: Path, target: Target, jobs: int, mutants: list[str] | None = None) -> int:
    """mutmut over the module (or over ``mutants`` only, in a workspace that has run before)."""
    log = workspace / "mutmut.log"
    command = [str(MUTMUT), "run", "--max-children", str(jobs), *(mutants or target.functions)]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(command, cwd=workspace, stdout=out, stderr=subprocess.STDOUT, env=env)
    return done.returncode


def _files(target: Target) -> list[str]:
    return [str(path.relative_to(ROOT)) for pattern in target.files for path in sorted(ROOT.glob(pattern))]


def _statuses(workspace: Path, target: Target) -> dict[str, str]:
    from mutmut.stats import status_by_exit_code

    statuses = {}
    for file in _files(target):
        meta = json.loads((workspace / "mutants" / f"{file}.meta").read_text(encoding="utf-8"))
        for mutant, exit_code in meta["exit_code_by_key"].items():
            if not target.functions or any(fnmatch.fnmatch(mutant, p) for p in target.functions):
                statuses[mutant] = status_by_exit_code[exit_code]
    return statuses


def _diff(workspace: Path, mutant: str) -> list[str]:
    """The mutant's change as a unified diff of its function (from mutmut's index of the mutated file)."""
    module, _, function = mutant.rpartition(".")
    file = next(
        path
        for path in (f"{module.replace('.', '/')}.py", f"{module.replace('.', '/')}/__init__.py")
        if (workspace / "mutants" / path).exists()
    )
    spans = json.loads((workspace / "mutants" / f"{file}.spans").read_text(encoding="utf-8"))["spans"]
    lines = (workspace / "mutants" / file).read_text(encoding="utf-8").splitlines()
    original = function.partition("__mutmut_")[0] + "__mutmut_orig"

    def source(name: str) -> list[str]:
        start, end = spans[name]
        return [line.replace(name, "") for line in lines[start - 1 : end]]

    return list(difflib.unified_diff(source(original), source(function), lineterm="", n=1))[2:]


def _change(diff: list[str]) -> str:
    """The mutated line(s), stripped: how an equivalent mutant is recognised even if renumbered."""
    return " / ".join(line[1:].strip() for line in diff if line.startswith("+"))


def _equivalents() -> dict[str, dict[str, str]]:
    with EQUIVALENTS.open("rb") as f:
        return {entry["name"]: entry for entry in tomllib.load(f).get("equivalent", [])}


def _not_killed(name: str, target: Target) -> list[str]:
    """The mutants the module's last run found undetected (survived, no tests, or listed as equivalent);
    not those it never got to (a run stopped early)."""
    workspace = WORK / name
    if not (workspace / "mutants").is_dir():
        raise MutmutFailed(f"{name}: no earlier run in {workspace} to run again")
    statuses = _statuses(workspace, target)
    done = KILLED | TIMEOUT | {"not checked"}
    return sorted(m for m, status in statuses.items() if status not in done)


def run_module(
    name: str, jobs: int, *, again: bool = False, resume: bool = False, only: tuple[str, ...] = ()
) -> Outcome:
    target = TARGETS[name]
    rerun = _not_killed(name, target) if again else None
    if rerun is not None and only:
        rerun = [m for m in rerun if any(fnmatch.fnmatch(m, pattern) for pattern in only)]
    if resume and not (WORK / name / "mutants").is_dir():
        raise MutmutFailed(f"{name}: no earlier run in {WORK / name} to resume")
    workspace = _workspace(name, target, again=again or resume)
    print(f"{name}: mutating {', '.join(target.files)} against {' '.join(target.tests)}", flush=True)
    if rerun is not None:
        print(f"  again: the {len(rerun)} mutants the last run did not kill, with the tests as they are now")
    if resume:
        print("  resumed: the mutants the last run did not get to (its verdicts stand)")
    started = time.monotonic()
    code = _run_mutmut(workspace, target, jobs, rerun)
    seconds = time.monotonic() - started
    if code != 0:
        tail = (workspace / "mutmut.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise MutmutFailed(f"{name}: mutmut failed (exit {code}); the end of {workspace}/mutmut.log:\n{tail}")
    return _classify(name, target, workspace, seconds)


def report_module(name: str) -> Outcome:
    """The table row and survivors.txt from the module's last verdicts, without running mutmut (after a run
    was stopped, or after the equivalents list changed)."""
    target = TARGETS[name]
    workspace = WORK / name
    if not (workspace / "mutants").is_dir():
        raise MutmutFailed(f"{name}: no earlier run in {workspace} to report")
    return _classify(name, target, workspace, 0.0)


def _classify(name: str, target: Target, workspace: Path, seconds: float) -> Outcome:
    """Sort the verdicts: listed equivalents (whose mutated line still matches) apart, the rest's diffs to
    survivors.txt."""
    outcome = Outcome(name, _statuses(workspace, target), seconds)
    equivalents = _equivalents()
    report = []
    for mutant, status in sorted(outcome.statuses.items()):
        if status == "not checked":
            continue  # a stopped run's untried mutants: counted in the table, no diff yet
        if status in KILLED or status in TIMEOUT:
            if mutant in equivalents:
                print(f"  note: {mutant} is listed as equivalent but was killed: remove it from the list")
            continue
        diff = _diff(workspace, mutant)
        listed = equivalents.get(mutant)
        if listed is not None and status == "survived" and listed["change"] == _change(diff):
            outcome.statuses[mutant] = "equivalent"
            continue
        if listed is not None:
            print(f"  note: {mutant} is listed as equivalent but its change is now: {_change(diff)}")
        outcome.survivors.append(mutant)
        report += [f"{mutant}: {status}", *diff, ""]
    (workspace / "survivors.txt").write_text("\n".join(report), encoding="utf-8")
    return outcome


HEADER = "| module | killed | timeout | survived | no tests | equivalent | total | score | time |"


def row(outcome: Outcome) -> str:
    """One table row; "survived" counts every mutant no test noticed that some test reached."""
    killed, timeout = outcome.count(*KILLED), outcome.count(*TIMEOUT)
    untested, equivalent = outcome.count("no tests"), outcome.count("equivalent")
    survived = len(outcome.statuses) - killed - timeout - untested - equivalent
    return (
        f"| {outcome.module} | {killed} | {timeout} | {survived} | {untested} | {equivalent} "
        f"| {len(outcome.statuses)} | {outcome.score:.1%} | {outcome.seconds / 60:.1f} min |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run-mutation", description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=f"any of: {', '.join(TARGETS)}")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="mutants tested at once")
    parser.add_argument("--list", action="store_true", help="name each module, its files and tests")
    parser.add_argument(
        "--again",
        action="store_true",
        help="run only the mutants the module's last run did not kill, in its workspace (after adding tests; "
        "the code mutated must not have changed since)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="go on with a run that was stopped (Ctrl-C), in its workspace"
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="run nothing: the table and survivors.txt from each module's last verdicts (a stopped run's)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GLOB",
        help="with --again: only the undetected mutants whose names match (e.g. '*transfers*'); repeatable",
    )
    args = parser.parse_args(argv)
    if args.list:
        for name, target in TARGETS.items():
            print(f"{name}: {' '.join(target.files)} <- {' '.join(target.tests)}")
        return 0
    if args.only and not args.again:
        parser.error("--only goes with --again")
    unknown = [name for name in args.modules if name not in TARGETS]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    outcomes, failed = [], []
    for name in args.modules or list(TARGETS):
        try:
            if args.report:
                outcome = report_module(name)
            else:
                outcome = run_module(
                    name, args.jobs, again=args.again, resume=args.resume, only=tuple(args.only)
                )
        except MutmutFailed as exc:
            print(exc, flush=True)
            failed.append(name)
            continue
        outcomes.append(outcome)
        print(f"  {row(outcome)}", flush=True)
        if unchecked := outcome.count("not checked"):
            print(
                f"  {unchecked} of them not tried yet (a run stopped early): ./run-mutation --resume {name}"
            )
        if outcome.survivors:
            print(f"  {len(outcome.survivors)} not killed: var/mutation/{name}/survivors.txt", flush=True)
    print()
    print(f"mutation testing, {time.strftime('%Y-%m-%d %H:%M %Z')}, {args.jobs} jobs:")
    print(HEADER)
    print("| --- " * 9 + "|")
    for outcome in outcomes:
        print(row(outcome))
    below = [o.module for o in outcomes if o.score < GOAL]
    if below:
        print(f"below the goal of {GOAL:.0%} killed: {', '.join(below)}")
    if failed:
        print(f"not measured (mutmut failed, see above): {', '.join(failed)}")
    return 1 if below or failed else 0


if __name__ == "__main__":
    sys.exit(main())
