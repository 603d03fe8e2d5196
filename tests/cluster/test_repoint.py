"""A term change moves a node's connections to the new leader instead of closing them
(``Gateway.repoint``), except a connection that may have lost something with the old leader: a request
the old leader never confirmed (``mark`` / ``marked``), or a connection of a switchboard this node ran.
No Redis here: the frames are read where the gateway publishes them."""

from __future__ import annotations

import asyncio
import json

from remote_call import protocol as p
from remote_call.protocol import Role
from signaling_server.auth import Principal
from signaling_server.cluster.bus import Channels, Frame
from signaling_server.cluster.gateway import Gateway
from signaling_server.cluster.lease import Holder
from signaling_server.store import CallRecord, Store
from signaling_server.switchboard import Client, Switchboard
from signaling_server.testing import test_config

NODE = "node-b"


class Bus:
    """The publisher's interface: frames by channel, in the order published."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, Frame]] = []

    def publish(self, channel: str, frame: Frame) -> None:
        self.frames.append((channel, frame))

    def to(self, channel: str, kind: str) -> list[Frame]:
        return [f for c, f in self.frames if c == channel and f.kind == kind]


class Connection:
    def __init__(self, principal: Principal) -> None:
        self.texts: list[str] = []
        self.closed = False
        self.client = Client(principal=principal, send_raw=self.texts.append, close=self._close)

    def _close(self) -> None:
        self.closed = True

    def types(self) -> list[str]:
        return [json.loads(t)["type"] for t in self.texts]


def kiosk(identity: str) -> Connection:
    return Connection(Principal(role=Role.KIOSK, identity=identity, display_name=identity, skills={}))


def officer(identity: str) -> Connection:
    skills = {"kosodate": "primary", "shimin-toroku": "primary"}
    return Connection(Principal(Role.OFFICER, identity, identity, skills, f"session-of-{identity}"))


def follower(board: Switchboard | None = None) -> tuple[Gateway, Bus, Channels]:
    """node-b, following node-a's term 1."""
    bus, channels = Bus(), Channels("test")
    board = board or Switchboard(test_config(), Store(":memory:"))
    gateway = Gateway(NODE, board, bus, channels, holds=lambda: True)  # type: ignore[arg-type]
    gateway.leader = Holder("node-a", 1)
    return gateway, bus, channels


def handle(gateway: Gateway, connection: Connection, message: p.Wire) -> None:
    gateway.handle(connection.client, message, p.encode(message))  # type: ignore[arg-type]


async def confirm(gateway: Gateway, bus: Bus, channels: Channels, epoch: int = 1) -> None:
    """The leader of ``epoch`` answers the node's last mark, as after handling every frame before it."""
    await asyncio.sleep(0)  # the mark goes out on the loop's next turn (one for a turn's requests)
    mark = bus.to(channels.leader(epoch), "mark")[-1]
    gateway.on_frame(channels.node(NODE), Frame("marked", epoch, NODE, "", mark.text))


async def test_a_follower_moves_its_confirmed_connections_to_a_new_leader():
    gateway, bus, channels = follower()
    waiting, calling = kiosk("kiosk-ueda"), kiosk("kiosk-tonan")
    for connection in (waiting, calling):
        gateway.attach(connection.client)
    handle(gateway, waiting, p.RequestCall(department="kosodate"))
    await confirm(gateway, bus, channels)
    handle(
        gateway, calling, p.IceCandidate(call_id="c1", candidate="candidate:0 1 udp 1 10.0.0.1 5 typ host")
    )
    gateway.leader = Holder("node-c", 2)  # node-a died; node-c restored the switchboard and listens
    assert gateway.stale()
    assert gateway.repoint() == 0  # nothing closed: a lost ICE candidate is repaired by a media restart
    assert not waiting.closed and not calling.closed and gateway.repointed == 2
    resumed = bus.to(channels.leader(2), "resume")
    assert [json.loads(f.text)["identity"] for f in resumed] == ["kiosk-ueda", "kiosk-tonan"]
    assert not bus.to(channels.leader(2), "attach")  # no second welcome
    assert not gateway.stale() and gateway.counts() == {"local": 0, "relayed": 2}
    # The old term's frames are fenced; the new term's reach the connection it had.
    conn = resumed[0].conn
    gateway.on_frame(channels.node(NODE), Frame("send", 1, NODE, conn, '{"type":"pong","nonce":"a"}'))
    gateway.on_frame(channels.node(NODE), Frame("send", 2, NODE, conn, '{"type":"pong","nonce":"b"}'))
    assert waiting.texts == ['{"type":"pong","nonce":"b"}']
    handle(
        gateway, waiting, p.CancelCall(call_id="c2")
    )  # after the move: to the new leader, after the resume
    assert [f.kind for c, f in bus.frames if c == channels.leader(2) and f.conn == conn] == [
        "resume",
        "message",
    ]


async def test_a_request_the_old_leader_did_not_confirm_closes_its_connection():
    """The request may have died with the leader (or its answer did): a reconnect and a full resume,
    whose ``sync_call`` and repeated request the clients already do, instead of a silent move."""
    gateway, bus, channels = follower()
    asked, quiet = officer("hanako"), kiosk("kiosk-ueda")
    gateway.attach(asked.client)
    gateway.attach(quiet.client)
    await confirm(gateway, bus, channels)
    handle(gateway, asked, p.AcceptCall(call_id="c1"))  # in flight when node-a died: never marked
    handle(gateway, quiet, p.Ping(nonce=1))
    gateway.leader = Holder("node-c", 2)
    assert gateway.repoint() == 1
    assert asked.closed and not quiet.closed
    assert [json.loads(f.text)["identity"] for f in bus.to(channels.leader(2), "resume")] == ["kiosk-ueda"]


async def test_a_mark_of_another_term_confirms_nothing_of_this_one():
    gateway, bus, channels = follower()
    asked = kiosk("kiosk-ueda")
    gateway.attach(asked.client)
    handle(gateway, asked, p.RequestCall(department="kosodate"))
    await asyncio.sleep(0)
    mark = bus.to(channels.leader(1), "mark")[-1]
    gateway.on_frame(channels.node(NODE), Frame("marked", 2, NODE, "", mark.text))  # not node-a's answer
    gateway.leader = Holder("node-c", 2)
    assert gateway.repoint() == 1 and asked.closed


async def test_an_unheard_request_closes_at_once_an_unheard_heartbeat_does_not():
    """Between the leader's death and the next term nobody listens to its channel: a connection whose
    request reached nobody reconnects now; one that only lost a repaired message waits for the move."""
    gateway, bus, channels = follower()
    asked, beating = kiosk("kiosk-ueda"), kiosk("kiosk-tonan")
    gateway.attach(asked.client)
    gateway.attach(beating.client)
    await confirm(gateway, bus, channels)
    bus.frames.clear()
    handle(gateway, asked, p.RequestCall(department="kosodate"))
    handle(gateway, beating, p.Heartbeat(uptime_s=5.0, cpu_percent=1.0, memory_percent=1.0, disk_percent=1.0))
    gateway.unheard([f for _c, f in bus.frames])
    assert asked.closed and not beating.closed


async def test_a_new_leader_takes_its_own_relayed_connections_without_a_welcome():
    """On the node that takes the lease: its connections relayed to the dead leader attach to its own
    switchboard, restored from the store; the officer's shift, told to the old leader, is told again."""
    board = Switchboard(test_config(), Store(":memory:"))
    gateway, bus, channels = follower(board)
    staff = officer("hanako")
    gateway.attach(staff.client)
    handle(gateway, staff, p.SetShift(departments=["kosodate"]))
    await confirm(gateway, bus, channels)
    board.restore()
    gateway.leader = Holder(NODE, 2)  # this node leads now
    assert gateway.repoint() == 0
    await asyncio.wait_for(gateway.moves.drained.wait(), 2.0)  # after any returning client (test_backlog)
    assert board.officers["hanako"] is staff.client and not staff.closed
    assert "welcome" not in staff.types() and "officer_state" in staff.types()
    assert set(board.router.officer_info("hanako")["skills"]) == {"kosodate"}  # the shift, not both
    assert gateway.counts() == {"local": 1, "relayed": 0}


def test_a_moved_connection_costs_no_welcome(monkeypatch):
    """``reattach`` registers a connection that has its welcome without building one: a new leader moved
    some 14,000 at 20,000 kiosks, and each welcome carries every department's live status."""
    board = Switchboard(test_config(), Store(":memory:"))
    built: list[Client] = []
    welcome = board._presence._welcome
    monkeypatch.setattr(board._presence, "_welcome", lambda client: built.append(client) or welcome(client))
    moved, new = kiosk("kiosk-ueda"), kiosk("kiosk-kita")
    board.reattach(moved.client)
    board.resume(moved.client)
    assert board.kiosks["kiosk-ueda"] is moved.client and built == [] and "welcome" not in moved.types()
    assert board.attach(new.client).identity == "kiosk-kita" and built == [new.client]


async def test_the_switchboards_own_connections_close_when_it_is_deposed():
    """A deposed leader forgot its switchboard: its clients reconnect, whatever they asked."""
    board = Switchboard(test_config(), Store(":memory:"))
    gateway, _bus, _channels = follower(board)
    gateway.leader = Holder(NODE, 1)
    resident = kiosk("kiosk-ueda")
    gateway.attach(resident.client)
    assert resident.types() == ["welcome"]
    gateway.leader = Holder("node-a", 2)
    assert gateway.repoint() == 1 and resident.closed


async def test_an_attach_that_reached_nobody_waits_for_the_next_leader():
    """A client of the dead node reconnecting here before the next leader listens is held, not closed (its
    retries backed off for seconds, most of a failover's resume time), and attached once one listens."""
    now = [100.0]
    bus, channels = Bus(), Channels("test")
    board = Switchboard(test_config(), Store(":memory:"))
    gateway = Gateway(NODE, board, bus, channels, holds=lambda: True, hold_s=9.0, clock=lambda: now[0])
    gateway.leader = Holder("node-a", 1)
    moving, impatient, late = kiosk("kiosk-ueda"), kiosk("kiosk-tonan"), kiosk("kiosk-morioka")
    for connection in (moving, impatient, late):
        gateway.attach(connection.client)
    gateway.unheard([f for _c, f in bus.frames])  # node-a is dead: nobody welcomed them
    assert not any(c.closed for c in (moving, impatient, late)) and len(gateway.held) == 3
    handle(gateway, impatient, p.RequestCall(department="kosodate"))  # asked before its welcome
    assert impatient.closed and len(gateway.held) == 2
    now[0] += 5.0
    assert gateway.expire_held() == 0
    gateway.detach(late.client)  # gave up and went elsewhere
    gateway.leader = Holder("node-c", 2)
    assert gateway.repoint() == 0 and not gateway.held
    attached = bus.to(channels.leader(2), "attach")
    assert [json.loads(f.text)["identity"] for f in attached] == ["kiosk-ueda"] and not moving.closed


async def test_a_held_connection_closes_when_no_leader_listens_in_time():
    now = [100.0]
    bus, channels = Bus(), Channels("test")
    board = Switchboard(test_config(), Store(":memory:"))
    gateway = Gateway(NODE, board, bus, channels, holds=lambda: True, hold_s=9.0, clock=lambda: now[0])
    gateway.leader = Holder("node-a", 1)
    resident = kiosk("kiosk-ueda")
    gateway.attach(resident.client)
    gateway.unheard([f for _c, f in bus.frames])
    now[0] += 9.0
    assert gateway.expire_held() == 1 and resident.closed and not gateway.held


async def test_a_moved_party_hears_again_the_end_of_a_call_the_dead_leader_may_not_have_sent():
    """The old leader ended the call (its record says so) and died before the call_ended left it: a party
    moved over without reconnecting never asks (``sync_call``), so the new leader tells it. An end older
    than the window is not told again."""
    store = Store(":memory:")
    now = 1_000_000.0
    for call_id, kiosk_id, ended_at in (
        ("c-late", "kiosk-ueda", now - 5),
        ("c-old", "kiosk-tonan", now - 60),
    ):
        store.save_call(
            CallRecord(
                call_id, kiosk_id, "kosodate", None, "ja", "ended", created_at=now - 100, officer="hanako",
                end_reason="completed", ended_at=ended_at,
            )
        )  # fmt: skip
    board = Switchboard(test_config(), store)
    board.restore()
    assert board.recall_ended(since=now - 24) == 2  # kiosk-ueda and hanako
    gateway, bus, channels = follower(board)
    ueda, tonan, staff = kiosk("kiosk-ueda"), kiosk("kiosk-tonan"), officer("hanako")
    for connection in (ueda, tonan, staff):
        gateway.attach(connection.client)
    await confirm(gateway, bus, channels)
    gateway.leader = Holder(NODE, 2)
    assert gateway.repoint() == 0
    await asyncio.wait_for(gateway.moves.drained.wait(), 2.0)
    assert [json.loads(t) for t in ueda.texts] == [
        {"type": "call_ended", "call_id": "c-late", "reason": "completed"}
    ]
    assert tonan.texts == [] and "call_ended" in staff.types()


async def test_a_restored_call_that_ends_before_its_party_is_moved_here_is_told_on_arrival():
    """The officer (moved first, or on the new leader's node) ends a restored call before the kiosk's node
    has moved it: the kiosk was attached nowhere when the end was sent, so it hears it on arrival (before:
    never; 7 of 3,000 kiosks in a run waited 600 s)."""
    store = Store(":memory:")
    store.save_call(
        CallRecord(
            "c-live", "kiosk-ueda", "kosodate", None, "ja", "in_call", created_at=1.0, officer="hanako",
            answered_at=2.0, started_at=3.0,
        )
    )  # fmt: skip
    board = Switchboard(test_config(), store)
    board.restore()
    board.recall_ended(since=0.0)
    gateway, bus, channels = follower(board)
    staff, ueda = officer("hanako"), kiosk("kiosk-ueda")
    gateway.attach(staff.client)
    await confirm(gateway, bus, channels)
    gateway.leader = Holder(NODE, 2)
    gateway.repoint()
    handle(gateway, staff, p.EndCall(call_id="c-live", outcome="resolved"))  # the kiosk is not here yet
    assert "call_ended" in staff.types()
    gateway.leader = Holder(NODE, 2)
    gateway.attach(ueda.client)  # as its node's resume arrives: attached here now
    assert {"type": "call_ended", "call_id": "c-live", "reason": "completed"} in [
        json.loads(t) for t in ueda.texts
    ]


async def test_held_clients_are_attached_before_the_moved_ones_resume():
    """The dead node's clients held here wait for a welcome; the moved connections have theirs. A party
    held here whose older connection is also here has come back: the older one is closed, not moved (its
    resume would replace the new connection on the leader)."""
    gateway, bus, channels = follower()
    settled = [kiosk(f"kiosk-{i}") for i in range(3)]
    stale_ueda, waiting = kiosk("kiosk-ueda"), kiosk("kiosk-tonan")
    for connection in (*settled, stale_ueda):
        gateway.attach(connection.client)
    await confirm(gateway, bus, channels)
    gateway.leader = Holder("node-a", 1)
    ueda_again = kiosk("kiosk-ueda")
    for connection in (waiting, ueda_again):
        gateway.attach(connection.client)
    gateway.unheard([f for _c, f in bus.frames if f.kind == "attach" and f.conn in ("5", "6")])
    assert len(gateway.held) == 2
    bus.frames.clear()
    gateway.leader = Holder("node-c", 2)
    assert gateway.repoint() == 1 and stale_ueda.closed and not ueda_again.closed
    order = [(f.kind, json.loads(f.text)["identity"]) for c, f in bus.frames if c == channels.leader(2)]
    assert order[:2] == [("attach", "kiosk-tonan"), ("attach", "kiosk-ueda")]
    assert order[2:] == [("resume", f"kiosk-{i}") for i in range(3)]
