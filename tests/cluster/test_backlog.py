"""Moved connections wait behind the clients that wait for a welcome (``cluster/backlog.py``): a new
leader handles the surviving connections' resumes a slice at a time, after the returning clients'
sign-ins and attaches, and at once for a connection that asks something first. No Redis here: frames are
read where the gateway publishes them, and handed to the desk as its subscription would."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from remote_call import protocol as p
from signaling_server.cluster.backlog import Backlog
from signaling_server.cluster.bus import Channels, Frame
from signaling_server.cluster.lease import Holder
from signaling_server.cluster.relay import LeaderDesk, principal_json
from signaling_server.store import Store
from signaling_server.switchboard import Switchboard
from signaling_server.testing import test_config
from tests.cluster.test_repoint import NODE, Bus, Connection, confirm, follower, handle, kiosk, officer

DRAIN_S = 2.0


class Clock:
    """Each resume takes ``step`` seconds of it."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        return self.now


async def test_resumes_run_in_order_a_slice_at_a_time_between_the_loops_other_work():
    clock = Clock(step=0.004)  # 3 fit in the first 10 ms slice
    backlog = Backlog("test", clock=clock)
    done: list[str] = []

    def resume(name: str) -> None:
        clock.now += clock.step
        done.append(name)

    for i in range(8):
        backlog.add(f"c{i}", lambda i=i: resume(f"c{i}"))
    assert len(backlog) == 8 and not backlog.drained.is_set() and done == []  # nothing before the loop turns

    async def other_work() -> None:
        while not backlog.drained.is_set():
            done.append("turn")
            await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(other_work(), backlog.drained.wait()), DRAIN_S)
    resumes = [d for d in done if d != "turn"]
    assert resumes == [f"c{i}" for i in range(8)]
    first_turn = done.index("turn", done.index("c0"))
    assert done[done.index("c0") : first_turn] == ["c0", "c1", "c2"]  # one slice, then the loop's turn
    assert backlog.handled == 8 and len(backlog) == 0


async def test_a_promoted_resume_runs_at_once_and_dropped_ones_never():
    backlog = Backlog("test")
    done: list[str] = []
    for key in ("a", "b", "c", ("node-x", "1"), ("node-x", "2")):
        backlog.add(key, lambda key=key: done.append(str(key)))
    backlog.promote("b")
    backlog.promote("nobody")  # not waiting: nothing to do
    assert done == ["b"] and "b" not in backlog
    assert backlog.drop("c") and not backlog.drop("c")
    assert backlog.drop_where(lambda key: isinstance(key, tuple) and key[0] == "node-x") == 2
    await asyncio.wait_for(backlog.drained.wait(), DRAIN_S)
    assert done == ["b", "a"]


async def test_a_failing_resume_is_logged_and_the_others_go_on(caplog: pytest.LogCaptureFixture):
    backlog = Backlog("test")
    done: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    backlog.add("a", broken)
    backlog.add("b", lambda: done.append("b"))
    with caplog.at_level(logging.WARNING):
        await asyncio.wait_for(backlog.drained.wait(), DRAIN_S)
    assert done == ["b"] and "resuming a moved connection failed" in caplog.text


async def test_clear_forgets_what_waits_and_stops_the_task():
    backlog = Backlog("test")
    done: list[str] = []
    backlog.add("a", lambda: done.append("a"))
    task = backlog._task
    backlog.clear()
    assert backlog.drained.is_set() and len(backlog) == 0
    assert task is not None
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, DRAIN_S)
    backlog.add("b", lambda: done.append("b"))  # a new term's backlog works as before
    await asyncio.wait_for(backlog.drained.wait(), DRAIN_S)
    assert done == ["b"]


# ---------------------------------------------------------------------- the new leader's own connections


async def _leading(board: Switchboard, *connections):
    """node-b's connections, relayed to node-a's term 1 and confirmed, then node-b leads term 2."""
    gateway, bus, channels = follower(board)
    for connection in connections:
        gateway.attach(connection.client)
    await confirm(gateway, bus, channels)
    board.restore()
    gateway.leader = Holder(NODE, 2)
    assert gateway.repoint() == 0
    return gateway


async def test_a_returning_client_is_welcomed_before_the_moved_connections_resume():
    board = Switchboard(test_config(), Store(":memory:"))
    moved = [officer(f"officer-{i}") for i in range(3)]
    gateway = await _leading(board, *moved)
    assert len(gateway.moves) == 3 and not any(m.texts for m in moved)  # nothing decided yet for them
    returning = kiosk("kiosk-ueda")  # a client of the dead node, signing in here
    gateway.attach(returning.client)
    assert returning.types() == ["welcome"] and "officer-0" not in board.officers
    await asyncio.wait_for(gateway.moves.drained.wait(), DRAIN_S)
    for m in moved:  # resumed without a second welcome
        assert "officer_state" in m.types() and "welcome" not in m.types()
        assert board.officers[m.client.identity] is m.client


async def test_a_moved_connection_that_asks_something_is_resumed_first():
    board = Switchboard(test_config(), Store(":memory:"))
    waiting, asking = officer("officer-a"), kiosk("kiosk-ueda")
    gateway = await _leading(board, waiting, asking)
    handle(gateway, asking, p.RequestCall(department="kosodate"))
    assert "kiosk-ueda" in board.kiosks and "queued" in asking.types()  # resumed, then its request
    assert len(gateway.moves) == 1 and waiting.texts == []
    gateway.detach(waiting.client)  # gone before its turn: resumed, then detached as any other
    assert len(gateway.moves) == 0 and "officer-a" not in board.officers


async def test_a_moved_connection_whose_party_came_back_meanwhile_is_closed_not_resumed():
    board = Switchboard(test_config(), Store(":memory:"))
    stale = kiosk("kiosk-ueda")
    gateway = await _leading(board, stale)
    again = kiosk("kiosk-ueda")  # the same kiosk reconnected here before the old connection's turn
    gateway.attach(again.client)
    await asyncio.wait_for(gateway.moves.drained.wait(), DRAIN_S)
    assert stale.closed and not again.closed and board.kiosks["kiosk-ueda"] is again.client


# ---------------------------------------------------------------------- the other nodes' connections


def _desk(board: Switchboard, channels: Channels) -> tuple[LeaderDesk, Bus]:
    out = Bus()
    desk = LeaderDesk(board, out, channels, epoch=2, parse=p.parse_message, holds=lambda: True)  # type: ignore[arg-type]
    desk.open()
    return desk, out


def _frame(kind: str, conn: str, text: str = "", node: str = NODE) -> Frame:
    return Frame(kind, 2, node, conn, text)


def _principal(connection: Connection) -> str:
    return principal_json(connection.client.principal)


def _welcomed(out: Bus, channels: Channels, node: str = NODE) -> list[str]:
    sent = [f for f in out.to(channels.node(node), "send") if json.loads(f.text)["type"] == "welcome"]
    return [json.loads(f.text)["identity"] for f in sent]


async def test_the_desk_attaches_a_returning_client_before_the_resumes_that_came_first():
    channels = Channels("test")
    board = Switchboard(test_config(), Store(":memory:"))
    board.restore()
    desk, out = _desk(board, channels)
    moved = [kiosk(f"kiosk-{i}") for i in range(3)]
    for i, connection in enumerate(moved):
        desk.on_frame(
            channels.leader(2), _frame("resume", str(i), principal_json(connection.client.principal))
        )
    returning = kiosk("kiosk-ueda")
    desk.on_frame(channels.leader(2), _frame("attach", "9", principal_json(returning.client.principal)))
    assert _welcomed(out, channels) == ["kiosk-ueda"] and set(board.kiosks) == {"kiosk-ueda"}
    await asyncio.wait_for(desk.moves.drained.wait(), DRAIN_S)
    assert set(board.kiosks) == {"kiosk-ueda", "kiosk-0", "kiosk-1", "kiosk-2"}
    assert _welcomed(out, channels) == ["kiosk-ueda"]  # the moved ones have their welcome


async def test_the_desk_resumes_a_connection_before_its_message_and_forgets_a_dead_nodes():
    channels = Channels("test")
    board = Switchboard(test_config(), Store(":memory:"))
    board.restore()
    desk, out = _desk(board, channels)
    asking, lost = kiosk("kiosk-ueda"), kiosk("kiosk-tonan")
    desk.on_frame(channels.leader(2), _frame("resume", "1", principal_json(asking.client.principal)))
    desk.on_frame(channels.leader(2), _frame("resume", "1", principal_json(lost.client.principal), "node-x"))
    request = p.encode(p.RequestCall(department="kosodate"))
    desk.on_frame(channels.leader(2), _frame("message", "1", request))
    assert "kiosk-ueda" in board.kiosks and board.calls  # resumed, then its request handled
    assert desk.node_gone("node-x") == 0 and len(desk.moves) == 0  # never registered: nothing to detach
    stale, again = kiosk("kiosk-kita"), kiosk("kiosk-kita")
    desk.on_frame(channels.leader(2), _frame("resume", "2", principal_json(stale.client.principal)))
    desk.on_frame(channels.leader(2), _frame("attach", "3", principal_json(again.client.principal)))
    await asyncio.wait_for(desk.moves.drained.wait(), DRAIN_S)
    closed = [f.conn for f in out.to(channels.node(NODE), "close")]
    assert closed == ["2"]  # the older connection of a kiosk that came back meanwhile
    desk.on_frame(
        channels.leader(2), _frame("resume", "4", principal_json(kiosk("kiosk-x").client.principal))
    )
    desk.close()  # the term ended: the next leader resumes it
    assert len(desk.moves) == 0 and "kiosk-x" not in board.kiosks
