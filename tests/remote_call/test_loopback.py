"""Test traffic stays on loopback: with ``restrict_to_loopback`` (on for the whole suite, see conftest) a
call's candidates and its selected pair are 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import os

import aioice.ice

from devtools.sessions import session_pair
from remote_call.session import LOOPBACK_ENV, CallSession, loopback_only, restrict_to_loopback

TIMEOUT = 20.0


def ice_connection(session: CallSession):
    transport = session.pc.getTransceivers()[0].receiver.transport.transport
    return transport, transport._connection  # aioice's Connection: the nominated pair lives there


async def test_a_call_uses_only_127_0_0_1():
    assert loopback_only() and os.environ[LOOPBACK_ENV] == "1"
    kiosk, officer = session_pair()
    try:
        await kiosk.start()
        await asyncio.wait_for(asyncio.gather(kiosk.connected.wait(), officer.connected.wait()), TIMEOUT)
        for session in (kiosk, officer):
            transport, connection = ice_connection(session)
            local = transport.iceGatherer.getLocalCandidates()
            assert local and {c.ip for c in local} == {"127.0.0.1"}
            assert {c.ip for c in transport.getRemoteCandidates()} == {"127.0.0.1"}
            pairs = list(connection._nominated.values())
            assert pairs, "no selected candidate pair"
            for pair in pairs:
                assert pair.local_candidate.host == "127.0.0.1"
                assert pair.remote_candidate.host == "127.0.0.1"
            sdp_hosts = {
                line.split()[4]
                for line in session.pc.localDescription.sdp.splitlines()
                if line.startswith("a=candidate:")
            }
            assert sdp_hosts == {"127.0.0.1"}
    finally:
        await asyncio.gather(kiosk.close(), officer.close())


def test_the_switch_restores_aioices_own_gathering():
    try:
        restrict_to_loopback(False)
        assert not loopback_only() and LOOPBACK_ENV not in os.environ
        assert aioice.ice.get_host_addresses.__module__ == "aioice.ice"
        assert "127.0.0.1" not in aioice.ice.get_host_addresses(True, False)  # aioice leaves it out
    finally:
        restrict_to_loopback()
    assert loopback_only() and aioice.ice.get_host_addresses(True, True) == ["127.0.0.1"]
