"""Records in PostgreSQL vs SQLite on the call-record path (goal: PostgreSQL at most 5x SQLite's time).

Ours: the ``Store`` on PostgreSQL (psycopg 3, one connection in autocommit as the server holds it, over
the unix socket of a throw-away cluster started here: initdb in a temporary directory, fsync on,
synchronous_commit off). Baseline: the same ``Store`` on a SQLite file in WAL mode with synchronous=NORMAL,
the embedded default (durable against a crash of the process; neither waits for the disk at each commit).
The path is what one call writes and what the history page reads: ``save_call`` when it is queued, when
it is answered and when it ends, then ``call`` to read it back. Rounds alternate the engines; each round
runs ``CALLS`` calls; the figure is the median time per call's path, microseconds.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

try:
    from bench.common import bench_main, median, ratio_result
except ModuleNotFoundError:  # run as a script: bench/ is on sys.path, the project root is added by common
    from common import bench_main, median, ratio_result  # type: ignore[no-redef]

from devtools.postgres_engine import missing_reason, running_cluster
from signaling_server.store import CallRecord, Store

GOAL = 5.0


def call_path(store: Store, prefix: str, calls: int) -> float:
    """Seconds per call for ``calls`` calls' saves and read-back."""
    start = time.perf_counter()
    for n in range(calls):
        record = CallRecord(f"{prefix}-{n}", "kiosk-ueda", "kosodate", "児童手当", "ja", "queued", 1e9 + n)
        store.save_call(record)
        record.state, record.officer, record.answered_at = "in_call", "hanako", 1e9 + n + 30
        store.save_call(record)
        record.state, record.end_reason, record.ended_at = "ended", "completed", 1e9 + n + 300
        store.save_call(record)
        if store.call(record.call_id) != record:
            raise AssertionError(f"{record.call_id} did not read back as saved")
    return (time.perf_counter() - start) / calls


async def run(quick: bool) -> dict[str, Any]:
    reason = missing_reason()
    if reason is not None:
        raise SystemExit(f"bench_store_pg: {reason}")
    rounds, calls = (2, 50) if quick else (5, 300)
    with tempfile.TemporaryDirectory() as tmp, running_cluster(durable=True) as cluster:
        sqlite = Store(Path(tmp) / "madoguchi.sqlite3")
        postgres = Store(cluster.create_database())
        call_path(sqlite, "warm", 50)
        call_path(postgres, "warm", 50)
        ours, baseline = [], []
        for r in range(rounds):
            baseline.append(call_path(sqlite, f"r{r}", calls) * 1e6)
            ours.append(call_path(postgres, f"r{r}", calls) * 1e6)
        sqlite.close()
        postgres.close()
    return ratio_result(
        "records: call-record path (3 saves + read back), PostgreSQL vs SQLite",
        round(median(ours), 1),
        round(median(baseline), 1),
        "µs per call",
        goal=GOAL,
        higher_is_better=False,
        details={"rounds": rounds, "calls_per_round": calls, "postgresql_us": ours, "sqlite_us": baseline},
    )


if __name__ == "__main__":
    raise SystemExit(bench_main(__doc__ or "", run))
