"""What a node's REST answers read: its own switchboard while it leads (or runs alone), the leader's
snapshot while it follows.

The leader writes a compact snapshot of its switchboard to Redis about once a second
(``cluster.sharing``); a follower keeps the last one it read in ``LeaderView`` and serves it, so that
``/healthz``, ``/api/departments``, ``/api/stats``, ``/api/board`` and the queue series of ``/metrics``
answer the same on every node. Both sources are read through one small interface (``LiveView``).
This module imports nothing heavy: ``metrics.py`` and the REST modules import it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from remote_call import protocol as p
from signaling_server.appkeys import SWITCHBOARD


class LiveView(Protocol):
    """The switchboard's live figures, wherever they come from."""

    @property
    def source(self) -> str | None:
        """The leader's node id when read from its snapshot; None: this process's own switchboard."""
        ...

    def department_infos(self) -> list[p.DepartmentInfo]: ...
    def stats(self) -> dict[str, Any]: ...
    def counts(self) -> dict[str, int]: ...
    def calls_by_state(self) -> dict[str, int]: ...


class LocalView:
    """This process's switchboard (a single node, or the leader)."""

    def __init__(self, board: Any) -> None:
        self.board = board

    @property
    def source(self) -> str | None:
        return None

    def department_infos(self) -> list[p.DepartmentInfo]:
        return list(self.board.department_infos())

    def stats(self) -> dict[str, Any]:
        """``Router.stats()`` with its history, and the interpreter pool's per language (``/api/stats``)."""
        return {**self.board.router.stats(), "interpretation": self.board.interpreters.stats()}

    def counts(self) -> dict[str, int]:
        board = self.board
        return {"kiosks": len(board.kiosks), "officers": len(board.officers), "calls": len(board.calls)}

    def calls_by_state(self) -> dict[str, int]:
        return dict(Counter(call.state.value for call in self.board.calls.values()))


class SnapshotView:
    """The leader's snapshot as a follower read it (``snapshot_data`` wrote it), with the statistics the
    leader writes apart and less often (``Router.stats()``: see ``cluster/sharing.py``)."""

    def __init__(self, data: dict[str, Any], stats: dict[str, Any] | None = None) -> None:
        self.data = data
        self.statistics = stats or {}

    @property
    def source(self) -> str | None:
        return str(self.data["node"])

    def department_infos(self) -> list[p.DepartmentInfo]:
        return [p.DepartmentInfo.model_validate(d) for d in self.data["departments"]]

    def stats(self) -> dict[str, Any]:
        return dict(self.statistics)

    def counts(self) -> dict[str, int]:
        return dict(self.data["counts"])

    def calls_by_state(self) -> dict[str, int]:
        return dict(self.data["calls_by_state"])


def snapshot_data(board: Any, *, node: str, epoch: int, now: float) -> dict[str, Any]:
    """The leader's snapshot (JSON-ready): what the followers' REST answers need but the statistics (the
    leader writes ``LocalView.stats()`` apart), no personal data."""
    view = LocalView(board)
    return {
        "node": node,
        "epoch": epoch,
        "at": now,
        "counts": view.counts(),
        "calls_by_state": view.calls_by_state(),
        "departments": [d.model_dump(mode="json") for d in view.department_infos()],
    }


@dataclass
class LeaderView:
    """On every node of a cluster: whether it follows now, and the leader's last snapshot it read."""

    following: Callable[[], bool]
    epoch: Callable[[], int | None]  # the term this node follows
    snapshot: SnapshotView | None = None
    fleet: dict[str, Any] = field(default_factory=dict)  # the leader's alerts and actions (IT dashboard)
    followed: bool = False  # has followed since its kiosk watch last (re)started

    def current(self) -> SnapshotView | None:
        """The snapshot to serve while following; None while leading, or when there is none of the term
        followed (a new leader has not written one yet)."""
        snapshot = self.snapshot
        if not self.following() or snapshot is None or snapshot.data.get("epoch") != self.epoch():
            return None
        return snapshot

    def age_s(self) -> float | None:
        """How old the snapshot served is, by the leader's clock and this node's (display only)."""
        snapshot = self.current()
        return None if snapshot is None else round(max(0.0, time.time() - float(snapshot.data["at"])), 3)


LEADER_VIEW = web.AppKey("leader_view", LeaderView)


def live_view(app: web.Application) -> LiveView:
    """What this node serves: the leader's snapshot while following one, else its own switchboard."""
    shared = app.get(LEADER_VIEW)
    if shared is not None:
        snapshot = shared.current()
        if snapshot is not None:
            return snapshot
    return LocalView(app[SWITCHBOARD])


def watches_kiosks(app: web.Application, kiosks: Iterable[Any], now: float) -> bool:
    """Whether this node's monitor looks for kiosks gone offline: not while it follows (the leader hears
    their heartbeats; a follower's registry would mark every kiosk offline and alert). A node that takes
    the lead starts watching afresh from now, as a server does at its start."""
    shared = app.get(LEADER_VIEW)
    if shared is None:
        return True
    if shared.following():
        shared.followed = True
        return False
    if shared.followed:
        shared.followed = False
        for kiosk in kiosks:
            if kiosk.watch_from is not None:
                kiosk.watch_from = max(kiosk.watch_from, now)
    return True


def view_status(app: web.Application) -> dict[str, Any]:
    """For /healthz on a follower: ``leader_view`` {node, age_s} when it serves the leader's snapshot."""
    shared = app.get(LEADER_VIEW)
    snapshot = shared.current() if shared is not None else None
    if shared is None or snapshot is None:
        return {}
    return {"leader_view": {"node": snapshot.source, "age_s": shared.age_s()}}
