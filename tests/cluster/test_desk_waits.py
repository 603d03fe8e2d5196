"""A new leader listens before it restores (``Node._take_over``): the other nodes move their connections
and attach the clients they hold while it restores, and its desk keeps their frames, in order, until the
switchboard is ready (``LeaderDesk.open``). No Redis here: a follower's gateway publishes the frames to a
list, and the desk is handed them as its subscription would."""

from __future__ import annotations

import asyncio
import json

from remote_call import protocol as p
from signaling_server.cluster.bus import Channels, Frame
from signaling_server.cluster.lease import Holder
from signaling_server.cluster.relay import LeaderDesk
from signaling_server.store import Store
from signaling_server.switchboard import Switchboard
from signaling_server.testing import test_config
from tests.cluster.test_repoint import NODE, Bus, follower, handle, kiosk


def _desk(board: Switchboard, channels: Channels) -> tuple[LeaderDesk, Bus]:
    out = Bus()
    desk = LeaderDesk(
        board,
        out,
        channels,
        epoch=2,
        parse=p.parse_message,
        holds=lambda: True,  # type: ignore[arg-type]
    )
    return desk, out


async def test_frames_that_come_while_the_leader_restores_wait_and_are_handled_in_order():
    gateway, follower_bus, channels = follower()
    gateway.leader = Holder("node-c", 2)  # node-c took the lease and listens; it has not restored yet
    resident = kiosk("kiosk-ueda")
    gateway.attach(resident.client)
    handle(gateway, resident, p.RequestCall(department="kosodate"))
    await asyncio.sleep(0)  # the turn's mark goes out
    sent = [f for c, f in follower_bus.frames if c == channels.leader(2)]
    assert [f.kind for f in sent] == ["attach", "message", "mark"]

    board = Switchboard(test_config(), Store(":memory:"))
    desk, leader_bus = _desk(board, channels)
    for frame in sent:
        desk.on_frame(channels.leader(2), frame)
    assert not leader_bus.frames and "kiosk-ueda" not in board.kiosks  # nothing decided before the restore

    assert desk.open() == 3
    assert "kiosk-ueda" in board.kiosks
    back = [f for c, f in leader_bus.frames if c == channels.node(NODE)]
    kinds = [f.kind if f.kind != "send" else json.loads(f.text)["type"] for f in back]
    assert kinds[0] == "welcome" and "queued" in kinds and kinds[-1] == "marked"  # in the order they came
    assert back[-1].text == sent[-1].text  # every frame up to the mark was handled before it is confirmed

    desk.on_frame(channels.leader(2), Frame("detach", 2, NODE, sent[0].conn))  # open: handled at once
    assert "kiosk-ueda" not in board.kiosks
    assert desk.open() == 0
