"""pytest plugin for ./run-mutation: Hypothesis tests run fewer examples, never shrunk, always the same ones.

Under mutation every Hypothesis test runs once per mutant its functions reach, and a mutant no test kills
runs all of them to the end: routing's three state machines (120, 100 and 150 examples) alone take about
18 s per surviving mutant, over an hour on 2 cores for a few hundred routing survivors. A mutant
only needs one failing example to count as killed, so under mutation each Hypothesis test is capped at
``MUTATION_EXAMPLES`` examples, drawn derandomized (the same ones for every mutant, so runs are comparable),
with no database (one mutant's failures are not replayed against the next) and without the shrink phase
(a minimal example is for a person reading a failure; mutmut only needs the failure). ``./run-tests`` keeps
the tests' own settings. devtools/mutation.py passes ``-p devtools.mutation_hypothesis`` to every pytest
run it starts; docs/testing.md ("Mutation testing") says what this costs in mutants found.
"""

from __future__ import annotations

from typing import Any

from hypothesis import Phase, settings

MUTATION_EXAMPLES = 25


def lighter(original: settings) -> settings:
    """The test's own settings, capped for mutation runs (idempotent: applied again, nothing changes)."""
    return settings(
        original,
        max_examples=min(original.max_examples, MUTATION_EXAMPLES),
        phases=(Phase.explicit, Phase.generate),
        database=None,
        derandomize=True,
    )


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        cls: Any = getattr(item, "cls", None)
        if isinstance(getattr(cls, "settings", None), settings):  # a RuleBasedStateMachine's TestCase
            cls.settings = lighter(cls.settings)
            continue
        test: Any = getattr(item, "obj", None)
        if getattr(test, "is_hypothesis_test", False):  # @given: read from the wrapper at each call
            test._hypothesis_internal_use_settings = lighter(test._hypothesis_internal_use_settings)
