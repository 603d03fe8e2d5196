"""The server's own record of calls whose kiosk heard them end but never heard them start.

When a cluster's leader is killed, the messages it had decided but not yet sent are lost with it. A call it
put into progress in its last second leaves a kiosk that never heard ``call_started``; the new leader tells
a returning party where its live calls stand, but an officer who came back first (the new leader's own
connections are moved before the other nodes' are read) may end the call before the kiosk's turn, and
then the kiosk hears only the end. Seen at 20,000 kiosks: 66 to 231 calls a run, each started 0.6-1 s
before the kill (server trace: both ``media_connected`` handled by the dead leader). Such a call counts as
completed only when the records say so: started before the kill (``started_at``, by the leader that died),
ended ``completed`` with the officer's outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def start_unheard(calls: Iterable[dict[str, Any]]) -> list[str]:
    """The calls whose kiosk heard ``call_ended`` (completed) and never ``call_started``."""
    return [
        c["call_id"] for c in calls if c["call_id"] and not c["started"] and c["end_reason"] == "completed"
    ]


def started_on_record(database: str, call_ids: list[str], killed_at: float | None) -> set[str]:
    """Of ``call_ids``, those the store shows started before ``killed_at`` (the wall clock of a node's
    kill; None, no kill: none) and completed with an outcome."""
    if not call_ids or killed_at is None:
        return set()
    from signaling_server.store import Store  # the simulator reads the records as an auditor would

    store = Store(database)
    try:
        confirmed = set()
        for call_id in call_ids:
            record = store.call(call_id)
            if (
                record is not None
                and record.started_at is not None
                and record.end_reason == "completed"
                and record.outcome
                and record.started_at <= killed_at
            ):
                confirmed.add(call_id)
        return confirmed
    finally:
        store.close()
