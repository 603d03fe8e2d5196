"""After a restart: the queue snapshot reconciled with the call records; the live calls rebuilt."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

from remote_call import protocol as p
from remote_call.protocol import Role
from signaling_server.calls import Call
from signaling_server.routing import Router, RouterError
from signaling_server.routing.snapshot import CallerSnapshot, QueueSnapshot, reconcile
from signaling_server.store import CallRecord, Store
from signaling_server.switchboard.roster import Party, caller_role

log = logging.getLogger(__name__)

LONGEST_CALL_S = 4 * 3600.0  # ended records are looked up by their start: one ending now began within this


def restore_calls(
    router: Router,
    store: Store,
    departments: Collection[str],
    clock: Callable[[], float],
    saved: Mapping[str, Any] | None,
) -> dict[str, Call]:
    """After a restart (clean or kill -9): waiting callers get their places back with their original
    join times; calls that were connected are held for their officer (media is peer to peer and goes
    on) until the parties reconnect within the grace. The queue snapshot gives order and priorities;
    call records, saved at every change, say where each call stood; ``saved`` is the queue snapshot as the
    store holds it (``Store.load_queue``). Returns the live calls."""
    active = {
        r.call_id: r
        for state in ("queued", "ringing", "connecting", "in_call")
        for r in store.calls(state=state)
    }
    try:  # SnapshotError (unreadable, another version) is a RouterError too
        snapshot = reconcile(QueueSnapshot.from_json(saved) if saved else None, active.values(), departments)
        router.restore(snapshot)
    except RouterError as exc:
        log.error("the saved queue cannot be restored (%s); waiting callers rejoin by join time", exc)
        snapshot = reconcile(None, active.values(), departments)
        router.restore(snapshot)
    restored = {c.call_id: c for c in snapshot.callers}
    calls: dict[str, Call] = {}
    # One commit, not one per call (3,000 calls: 5 s on a loaded machine), of the records the restore
    # changed only: writing back every active one held the database's write lock for a third of a new
    # leader's restore (20,000 calls: 0.53 of 1.6 s), and on SQLite every other node's writes waited for it.
    with store.conn.transaction():
        for record in active.values():
            before = (record.state, record.officer, record.end_reason)
            call = _restored_call(record, restored.get(record.call_id), clock)
            log.debug("restored call %s: %s, officer %s", record.call_id, record.state, record.officer)
            if call is not None:
                calls[record.call_id] = call
            if (record.state, record.officer, record.end_reason) != before:
                store.save_call(record)
    if active:
        log.info("restored %d calls after a restart", len(calls))
    return calls


def _restored_call(
    record: CallRecord, caller: CallerSnapshot | None, clock: Callable[[], float]
) -> Call | None:
    """The live call of a record the restore found active; None (the record ended) when its department is
    gone from the configuration."""
    if caller is None:
        record.state, record.end_reason, record.ended_at = "ended", "kiosk_disconnected", clock()
        return None
    if caller.queued:
        record.state, record.officer = "queued", None
    try:
        info = p.CallerInfo.model_validate(caller.info or {})
    except ValueError:
        info = p.CallerInfo()
    return Call(record, caller=info)


def recent_ends(store: Store, since: float) -> dict[Party, str]:
    """Each party's latest call that ended since ``since``: its caller's and its officer's."""
    latest: dict[Party, CallRecord] = {}
    for record in store.calls(state="ended", since=since - LONGEST_CALL_S):
        ended = record.ended_at
        if ended is None or ended < since:
            continue
        parties = [(caller_role(record), record.kiosk_id)]
        if record.officer is not None:
            parties.append((Role.OFFICER, record.officer))
        for party in parties:
            known = latest.get(party)
            if known is None or (known.ended_at or 0.0) < ended:
                latest[party] = record
    return {party: record.call_id for party, record in latest.items()}
