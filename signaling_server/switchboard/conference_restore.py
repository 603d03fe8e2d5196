"""After a restart: the calls' waits for an interpreter back from the queue snapshot (``routing``'s
``interpreters_snapshot``), for the calls that were restored live. The interpreters' own stays in calls come
back from the call-party records (``Conference.restore``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from remote_call.protocol import CallState
from signaling_server.calls import Call
from signaling_server.routing.interpreters import InterpreterPool
from signaling_server.routing.interpreters_decisions import PoolDecision
from signaling_server.routing.interpreters_snapshot import (
    SNAPSHOT_KEY,
    InterpreterSnapshot,
    InterpreterSnapshotError,
)

log = logging.getLogger(__name__)

ANSWERED = (CallState.CONNECTING, CallState.IN_CALL)
WAITING = (CallState.QUEUED, CallState.RINGING)


def saved_snapshot(saved: Mapping[str, Any] | None) -> InterpreterSnapshot:
    """The interpreters' part of the saved queue snapshot; empty when there is none or it is unreadable."""
    try:
        return InterpreterSnapshot.from_json((saved or {}).get(SNAPSHOT_KEY))
    except InterpreterSnapshotError as exc:
        log.error("the saved interpreter requests cannot be restored (%s); they are dropped", exc)
        return InterpreterSnapshot()


def restore_waiting(
    pool: InterpreterPool,
    saved: Mapping[str, Any] | None,
    calls: Mapping[str, Call],
    hold_s: float,
) -> tuple[list[PoolDecision], dict[str, str]]:
    """The pool's decisions for the requests of calls still answered (held ``hold_s`` while interpreters
    sign in again), and the languages kiosks asked for whose calls still wait for an officer."""
    snapshot = saved_snapshot(saved)
    live = [
        r
        for r in snapshot.requests
        if (call := calls.get(r.call_id)) is not None and call.state in ANSWERED and call.record.officer
    ]
    asked = {
        call_id: language
        for call_id, language in (snapshot.asked or {}).items()
        if (call := calls.get(call_id)) is not None and call.state in WAITING
    }
    if len(live) < len(snapshot.requests):
        log.info(
            "%d interpreter requests of calls that ended are dropped", len(snapshot.requests) - len(live)
        )
    return pool.restore_requests(live, hold_s), asked
