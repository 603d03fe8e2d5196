"""TURN REST-API credentials: known vectors, expiry, and a real coturn relaying a real aiortc call."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from aioice import stun
from aioice import turn as aioice_turn
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    VideoStreamTrack,
)
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from config.schema import IceServer, TurnConfig
from signaling_server.turn import coturn_config, ice_servers_for_call, new_turn_secret, turn_credentials

_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/bin", "/usr/sbin"])
TURNSERVER = shutil.which("turnserver", path=_SEARCH_PATH)
REALM = "madoguchi.test"


# --------------------------------------------------------------------------- pure credential logic


def test_credentials_match_an_independent_hmac_sha1() -> None:
    creds = turn_credentials("s3cr3t-shared-with-coturn", "kiosk-ueda", ttl_s=600, now=1_700_000_000.9)
    assert creds.username == "1700000600:kiosk-ueda"
    assert creds.expires_at == 1_700_000_600.0
    # Independent computation with the standard library primitives spelled out differently.
    mac = hmac.HMAC(b"s3cr3t-shared-with-coturn", digestmod="sha1")
    mac.update(b"1700000600:kiosk-ueda")
    assert creds.password == base64.standard_b64encode(mac.digest()).decode()
    assert len(base64.b64decode(creds.password)) == hashlib.sha1().digest_size


def test_known_vector() -> None:
    # From: printf '%s' 1600000000:alice | openssl dgst -sha1 -hmac secret -binary | base64
    creds = turn_credentials("secret", "alice", ttl_s=1, now=1_599_999_999)
    assert creds.username == "1600000000:alice"
    assert creds.password == "UQpbzqLy8wUgAxlVOh3KKXno2lk="


def test_expiry_moves_with_now_and_ttl() -> None:
    a = turn_credentials("secret", "u1", ttl_s=60, now=1000)
    b = turn_credentials("secret", "u1", ttl_s=60, now=1001)
    assert (a.expires_at, b.expires_at) == (1060.0, 1061.0)
    assert a.password != b.password
    before = time.time()
    c = turn_credentials("secret", "u1", ttl_s=3600)
    assert int(before) + 3600 <= c.expires_at <= time.time() + 3600


@pytest.mark.parametrize(
    ("secret", "user", "ttl", "error", "fragment"),
    [
        ("", "u", 60, ValueError, "secret"),
        ("s", "", 60, ValueError, "user id"),
        ("s", "a:b", 60, ValueError, "':'"),
        ("s", "a b", 60, ValueError, "spaces"),
        ("s", "u", 0, ValueError, "ttl_s"),
        ("s", "u", 86_401, ValueError, "ttl_s"),
        ("s", "u", 1.5, TypeError, "ttl_s"),
    ],
)
def test_bad_input_is_named(secret: str, user: str, ttl: int, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        turn_credentials(secret, user, ttl_s=ttl)


def test_ice_servers_for_call() -> None:
    static = [IceServer(urls=["stun:10.0.0.1:3478"])]
    turn = TurnConfig(urls=["turn:10.0.0.1:3478?transport=udp"], secret="x" * 32, ttl_s=120)
    servers = ice_servers_for_call(turn, static, "officer-7", now=5000)
    assert servers[0] == {"urls": ["stun:10.0.0.1:3478"], "username": None, "credential": None}
    assert servers[1]["urls"] == ["turn:10.0.0.1:3478?transport=udp"]
    assert servers[1]["username"] == "5120:officer-7"
    assert servers[1]["credential"] == turn_credentials("x" * 32, "officer-7", 120, now=5000).password
    assert ice_servers_for_call(None, [], "officer-7") == []
    # Usable directly by aiortc.
    RTCConfiguration(iceServers=[RTCIceServer(**s) for s in servers])


# --------------------------------------------------------------------------- real coturn


@dataclass
class Coturn:
    port: int
    secret: str
    min_port: int
    max_port: int
    log: Path

    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"


def _free_udp_tcp_port() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port found on 127.0.0.1")


def _free_udp_range(size: int) -> tuple[int, int]:
    rng = secrets.SystemRandom()
    for _ in range(100):
        start = rng.randrange(40_000, 60_000 - size)
        socks = []
        try:
            for p in range(start, start + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return start, start + size - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port range found")


def _stun_binding_answers(port: int, timeout_s: float) -> bool:
    """One STUN Binding request to coturn; True if a matching success response arrives in time."""
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        s.sendto(bytes(request), ("127.0.0.1", port))
        try:
            data, _ = s.recvfrom(2048)
        except (TimeoutError, ConnectionRefusedError):
            return False
    response = stun.parse_message(data)
    return response.transaction_id == request.transaction_id and response.message_class == stun.Class.RESPONSE


@contextlib.contextmanager
def run_coturn(
    tmp: Path, shared_secrets: list[str], config_file: Callable[[int, int, int], str] | None = None
) -> Iterator[Coturn]:
    """Start coturn on loopback with the TURN REST API enabled; yield once it answers STUN.

    Without ``config_file`` the options go on the command line (``-n``: no config file); with it, the
    callable gets (port, min_port, max_port) and returns the text of a turnserver.conf to run with ``-c``.
    """
    if TURNSERVER is None:
        pytest.skip("coturn's turnserver is not installed (Debian package 'coturn'); real TURN test skipped")
    port = _free_udp_tcp_port()
    min_port, max_port = _free_udp_range(40)
    log = tmp / "turn.log"
    if config_file is None:
        args = [
            TURNSERVER, "-n",
            "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
            "--use-auth-secret", *(f"--static-auth-secret={s}" for s in shared_secrets), f"--realm={REALM}",
            "--no-tls", "--no-dtls", "--allow-loopback-peers", "--no-cli",
            f"--min-port={min_port}", f"--max-port={max_port}",
            f"--pidfile={tmp / 'turn.pid'}", f"--db={tmp / 'turndb'}",
            f"--log-file={log}", "--simple-log", "--no-stdout-log",
        ]  # fmt: skip
    else:
        conf = tmp / "turnserver.conf"
        conf.write_text(config_file(port, min_port, max_port))
        conf.chmod(0o600)
        args = [TURNSERVER, "-c", str(conf), "--no-stdout-log"]
    with open(tmp / "stdio.log", "wb") as stdio:
        proc = subprocess.Popen(args, stdout=stdio, stderr=subprocess.STDOUT, cwd=tmp)
    try:
        deadline = time.monotonic() + 15
        ready = False
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            # Each probe blocks on the reply (up to 0.2 s): readiness is an answer, not an elapsed time.
            if _stun_binding_answers(port, timeout_s=0.2):
                ready = True
                break
        if not ready:
            output = (tmp / "stdio.log").read_text(errors="replace")
            output += log.read_text(errors="replace") if log.exists() else ""
            pytest.fail(
                f"turnserver did not answer STUN on 127.0.0.1:{port} (exit={proc.poll()}):\n{output[-3000:]}"
            )
        yield Coturn(port=port, secret=shared_secrets[0], min_port=min_port, max_port=max_port, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    with run_coturn(tmp_path_factory.mktemp("coturn"), [secrets.token_urlsafe(32)]) as server:
        yield server


class PatternTrack(VideoStreamTrack):
    """A small generated video source: solid frames of one colour, so the far end can check what it got."""

    def __init__(self, rgb: tuple[int, int, int]) -> None:
        super().__init__()
        self._image = np.empty((240, 320, 3), dtype=np.uint8)
        self._image[:, :] = rgb

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(self._image, format="rgb24")
        frame.pts = pts
        frame.time_base = time_base
        return frame


def _nominated_pair(pc: RTCPeerConnection):  # type: ignore[no-untyped-def]
    """The ICE pair aioice nominated for the (bundled) transport; aiortc has no public stats for it."""
    assert pc.sctp is not None
    connection = pc.sctp.transport.transport._connection
    return connection._nominated[1]


def _config(username: str, credential: str, port: int) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[RTCIceServer(f"turn:127.0.0.1:{port}?transport=udp", username, credential)],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY,
    )


async def _negotiate(pc1: RTCPeerConnection, pc2: RTCPeerConnection) -> None:
    await pc1.setLocalDescription(await pc1.createOffer())
    await pc2.setRemoteDescription(pc1.localDescription)
    await pc2.setLocalDescription(await pc2.createAnswer())
    await pc1.setRemoteDescription(pc2.localDescription)


def _state_waiter(pc: RTCPeerConnection, states: set[str]) -> asyncio.Future[str]:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @pc.on("connectionstatechange")
    def _changed() -> None:
        if pc.connectionState in states and not future.done():
            future.set_result(pc.connectionState)

    return future


async def test_call_through_real_coturn_relay(coturn: Coturn) -> None:
    kiosk = turn_credentials(coturn.secret, "kiosk-ueda", ttl_s=300)
    officer = turn_credentials(coturn.secret, "officer-7", ttl_s=300)
    pc1 = RTCPeerConnection(_config(kiosk.username, kiosk.password, coturn.port))
    pc2 = RTCPeerConnection(_config(officer.username, officer.password, coturn.port))
    try:
        loop = asyncio.get_running_loop()
        got_message: asyncio.Future[str] = loop.create_future()
        got_reply: asyncio.Future[str] = loop.create_future()
        got_frame: asyncio.Future[av.VideoFrame] = loop.create_future()

        pc1.addTrack(PatternTrack((200, 40, 40)))
        channel = pc1.createDataChannel("chat")

        @channel.on("open")
        def _open() -> None:
            channel.send("こんにちは from the kiosk")

        @channel.on("message")
        def _reply(message: str) -> None:
            if not got_reply.done():
                got_reply.set_result(message)

        @pc2.on("datachannel")
        def _datachannel(remote) -> None:  # type: ignore[no-untyped-def]
            @remote.on("message")
            def _message(message: str) -> None:
                if not got_message.done():
                    got_message.set_result(message)
                    remote.send("officer here")

        async def _read_video(track) -> None:  # type: ignore[no-untyped-def]
            # Wait for a frame that decodes to the full picture (the first may precede a keyframe).
            while not got_frame.done():
                frame = await track.recv()
                if frame.width == 320:
                    got_frame.set_result(frame)

        reader: list[asyncio.Task[None]] = []

        @pc2.on("track")
        def _track(track) -> None:  # type: ignore[no-untyped-def]
            if track.kind == "video":
                reader.append(asyncio.ensure_future(_read_video(track)))

        connected = _state_waiter(pc1, {"connected", "failed"})
        await _negotiate(pc1, pc2)
        assert await asyncio.wait_for(connected, 20) == "connected"
        assert await asyncio.wait_for(got_message, 20) == "こんにちは from the kiosk"
        assert await asyncio.wait_for(got_reply, 20) == "officer here"
        frame = await asyncio.wait_for(got_frame, 20)
        mean = frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
        assert abs(mean[0] - 200) < 20 and abs(mean[1] - 40) < 20 and abs(mean[2] - 40) < 20, mean

        # Both sides use only relayed candidates, allocated by coturn inside its configured port range.
        for pc in (pc1, pc2):
            pair = _nominated_pair(pc)
            assert pair.local_candidate.type == "relay"
            assert pair.remote_candidate.type == "relay"
            assert pair.local_candidate.host == "127.0.0.1"
            assert coturn.min_port <= pair.local_candidate.port <= coturn.max_port
        # The video transceiver is bundled on the same relayed transport.
        video_transport = pc1.getTransceivers()[0].sender.transport.transport
        assert video_transport._connection._nominated[1].local_candidate.type == "relay"
        for task in reader:
            task.cancel()
    finally:
        await pc1.close()
        await pc2.close()


async def _allocate(coturn: Coturn, username: str, password: str) -> tuple[str, int]:
    transport, _protocol = await aioice_turn.create_turn_endpoint(
        asyncio.DatagramProtocol, ("127.0.0.1", coturn.port), username, password
    )
    try:
        return transport.get_extra_info("sockname")
    finally:
        transport.close()


@pytest.mark.parametrize("kind", ["wrong_secret", "expired", "tampered_user"])
async def test_bad_credentials_are_refused_by_coturn(coturn: Coturn, kind: str) -> None:
    # Positive control: the same allocation path works with good credentials.
    good = turn_credentials(coturn.secret, "kiosk-ueda", ttl_s=300)
    host, port = await asyncio.wait_for(_allocate(coturn, good.username, good.password), 10)
    assert host == "127.0.0.1" and coturn.min_port <= port <= coturn.max_port

    if kind == "wrong_secret":
        bad = turn_credentials("not-the-" + coturn.secret, "kiosk-ueda", ttl_s=300)
        username, password = bad.username, bad.password
    elif kind == "expired":
        bad = turn_credentials(coturn.secret, "kiosk-ueda", ttl_s=60, now=time.time() - 3600)
        username, password = bad.username, bad.password
    else:
        username, password = good.username.replace("kiosk-ueda", "kiosk-odate"), good.password
    with pytest.raises(stun.TransactionFailed) as refused:
        await asyncio.wait_for(_allocate(coturn, username, password), 10)
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401


async def test_expired_credentials_give_no_connection(coturn: Coturn) -> None:
    expired = turn_credentials(coturn.secret, "kiosk-ueda", ttl_s=60, now=time.time() - 3600)
    good = turn_credentials(coturn.secret, "officer-7", ttl_s=300)
    pc1 = RTCPeerConnection(_config(expired.username, expired.password, coturn.port))
    pc2 = RTCPeerConnection(_config(good.username, good.password, coturn.port))
    try:
        pc1.createDataChannel("chat")
        outcome = _state_waiter(pc1, {"connected", "failed"})
        await _negotiate(pc1, pc2)
        # coturn refused the kiosk's allocation (401): relay-only policy leaves it without any candidate.
        assert "typ relay" not in pc1.localDescription.sdp
        # The connection must not come up within a bounded wait (it either fails or stays pending).
        with contextlib.suppress(TimeoutError):
            assert await asyncio.wait_for(outcome, 2) == "failed"
        assert pc1.connectionState != "connected"
        assert pc2.connectionState != "connected"
    finally:
        await pc1.close()
        await pc2.close()


async def test_secret_rotation_overlap(tmp_path: Path) -> None:
    """The rotation procedure in docs/security.md: coturn runs with the old and the new secret while the
    server switches over, so credentials handed out before and after the switch both work."""
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with run_coturn(tmp_path, [new, old]) as server:
        for secret in (old, new):
            creds = turn_credentials(secret, "kiosk-ueda", ttl_s=300)
            await asyncio.wait_for(_allocate(server, creds.username, creds.password), 10)
        stranger = turn_credentials(secrets.token_urlsafe(32), "kiosk-ueda", ttl_s=300)
        with pytest.raises(stun.TransactionFailed):
            await asyncio.wait_for(_allocate(server, stranger.username, stranger.password), 10)


class _PeerSocket(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Future[tuple[bytes, tuple[str, int]]] = (
            asyncio.get_running_loop().create_future()
        )

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.received.done():
            self.received.set_result((data, addr))


def _generated_config(tmp: Path, secret: str, allowed: list[str]) -> Callable[[int, int, int], str]:
    def make(port: int, min_port: int, max_port: int) -> str:
        return coturn_config(
            [secret],
            realm=REALM,
            listening_ip="127.0.0.1",
            relay_ip="127.0.0.1",
            listening_port=port,
            min_port=min_port,
            max_port=max_port,
            allowed_peer_networks=allowed,
            log_file=str(tmp / "turn.log"),
            userdb=str(tmp / "turndb"),
            pidfile=str(tmp / "turn.pid"),
            allow_loopback_peers=True,  # tests run on one machine; never in production
        )

    return make


async def _relay_to(server: Coturn, secret: str, peer: tuple[str, int]) -> tuple[str, int]:
    """Allocate on coturn and send one datagram to ``peer`` through the relay; returns the relayed address."""
    creds = turn_credentials(secret, "kiosk-ueda", ttl_s=300)
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: aioice_turn.TurnClientUdpProtocol(
            ("127.0.0.1", server.port), username=creds.username, password=creds.password,
            lifetime=600, channel_refresh_time=500,
        ),
        remote_addr=("127.0.0.1", server.port),
    )  # fmt: skip
    try:
        relayed = await asyncio.wait_for(protocol.connect(), 10)
        await asyncio.wait_for(protocol.send_data(b"via the relay", peer), 10)
        return relayed
    finally:
        if protocol.refresh_task is not None:
            protocol.refresh_task.cancel()
        transport.close()


async def test_generated_config_relays_to_allowed_peers_only(tmp_path: Path) -> None:
    secret = new_turn_secret()
    loop = asyncio.get_running_loop()
    peer_transport, peer = await loop.create_datagram_endpoint(_PeerSocket, local_addr=("127.0.0.1", 0))
    peer_addr = peer_transport.get_extra_info("sockname")
    try:
        allowed_dir = tmp_path / "allowed"
        allowed_dir.mkdir()
        with run_coturn(
            allowed_dir, [secret], _generated_config(allowed_dir, secret, ["127.0.0.1/32"])
        ) as srv:
            relayed = await _relay_to(srv, secret, peer_addr)
            data, source = await asyncio.wait_for(peer.received, 10)
            assert data == b"via the relay" and source == relayed
            assert srv.min_port <= relayed[1] <= srv.max_port

        denied_dir = tmp_path / "denied"
        denied_dir.mkdir()
        with run_coturn(denied_dir, [secret], _generated_config(denied_dir, secret, ["10.99.0.0/16"])) as srv:
            with pytest.raises(stun.TransactionFailed) as refused:
                await _relay_to(srv, secret, peer_addr)
            assert refused.value.response.attributes["ERROR-CODE"][0] == 403
    finally:
        peer_transport.close()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"shared_secrets": []}, "at least one"),
        ({"shared_secrets": ["short"]}, "16 characters"),
        ({"shared_secrets": ["x" * 20 + " y"]}, "no spaces"),
        ({"realm": "bad realm"}, "realm"),
        ({"listening_ip": "city-hall"}, "listening_ip"),
        ({"allowed_peer_networks": []}, "kiosk and console"),
        ({"allowed_peer_networks": ["10.0.0.0/33"]}, "not an IP network"),
        ({"min_port": 60000, "max_port": 50000}, "above max_port"),
        ({"tls_cert": "/etc/cert.pem"}, "both tls_cert and tls_key"),
        ({"log_file": "/tmp/x\nallow-loopback-peers"}, "newlines"),
    ],
)
def test_coturn_config_bad_input(kwargs: dict, fragment: str) -> None:  # type: ignore[type-arg]
    base: dict = {  # type: ignore[type-arg]
        "shared_secrets": ["s" * 32],
        "realm": REALM,
        "listening_ip": "10.20.0.5",
        "relay_ip": "10.20.0.5",
        "allowed_peer_networks": ["10.30.0.0/16"],
    }
    base.update(kwargs)
    secrets_ = base.pop("shared_secrets")
    with pytest.raises(ValueError, match=fragment):
        coturn_config(secrets_, **base)


def test_coturn_config_contents() -> None:
    text = coturn_config(
        ["n" * 32, "o" * 32],
        realm="madoguchi.city.lg.jp",
        listening_ip="10.20.0.5",
        relay_ip="10.20.0.5",
        allowed_peer_networks=["10.30.0.0/16", "10.40.1.0/24"],
        tls_cert="/etc/madoguchi/server.pem",
        tls_key="/etc/madoguchi/server.key",
    )
    lines = text.splitlines()
    assert lines.count("use-auth-secret") == 1
    assert [line for line in lines if line.startswith("static-auth-secret=")] == [
        "static-auth-secret=" + "n" * 32, "static-auth-secret=" + "o" * 32,
    ]  # fmt: skip
    assert "denied-peer-ip=0.0.0.0-255.255.255.255" in lines
    assert "allowed-peer-ip=10.30.0.0-10.30.255.255" in lines
    assert "allowed-peer-ip=10.40.1.0-10.40.1.255" in lines
    assert "allow-loopback-peers" not in lines and "no-tls" not in lines
    assert "cert=/etc/madoguchi/server.pem" in lines and "no-tlsv1_1" in lines
    assert len(new_turn_secret()) >= 43 and new_turn_secret() != new_turn_secret()


async def test_full_stack_call_relays_through_coturn(coturn: Coturn, tmp_path: Path) -> None:
    """Server hands out coturn REST credentials; kiosk and console controllers connect relay-only."""
    from config.schema import TurnConfig
    from hardware.simulated import SimulatedMedia
    from kiosk_client.controller import KioskController
    from signaling_server.embedded import EmbeddedServer, provision
    from signaling_server.testing import test_config
    from staff_console.controller import ConsoleController

    config = test_config().model_copy(
        update={
            "turn": TurnConfig(urls=[coturn.url()], secret=coturn.secret, ttl_s=600),
            "ice_transport_policy": "relay",
        }
    )
    async with EmbeddedServer(config, tmp_path / "db.sqlite3") as server:
        fleet = provision(
            server.store, config, kiosk_ids=["kiosk-ueda"], officers=["hanako"], password="pw-relay-1"
        )
        kiosk = KioskController(
            server.url,
            "kiosk-ueda",
            fleet.kiosk_tokens["kiosk-ueda"],
            SimulatedMedia("kiosk", 320, 240, 15, 440),
        )
        officer = ConsoleController(
            server.url, "hanako", "pw-relay-1", SimulatedMedia("officer", 320, 240, 15, 660)
        )
        try:
            await kiosk.start()
            await officer.start()
            await officer.set_available()
            ringing = asyncio.ensure_future(officer.events.wait("ring", 10))
            await kiosk.request_call("kosodate")
            await ringing
            started = asyncio.ensure_future(officer.events.wait("call_started", 20))
            await officer.accept()
            await started
            session = officer.party.session
            await asyncio.wait_for(session.remote_video.first.wait(), 20)
            await asyncio.wait_for(kiosk.party.session.remote_video.first.wait(), 20)
            for pc in (session.pc, kiosk.party.session.pc):
                pair = _nominated_pair(pc)
                assert pair.local_candidate.type == "relay"
            username = server.switchboard.ice_servers("hanako")[0].username
            expiry, _, user = username.partition(":")
            assert user == "hanako" and int(expiry) > time.time()
        finally:
            await kiosk.stop()
            await officer.stop()


# --------------------------------------------------------------------------- TURN over TLS (internet side)


async def test_a_relay_over_tls_only_carries_a_call_when_udp_is_blocked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The internet-side profile: a business behind an office firewall reaches coturn only by TLS over
    TCP (turns:, 443 in production; a free port here). Both peers are forced through it: a call's media
    and data flow, and the allocation is coturn's, reached by TLS."""
    from aioice.turn import TurnTransport

    from signaling_server.tls import create_ca, issue_server_cert

    ca_cert, ca_key = create_ca(tmp_path / "ca")
    cert, key = issue_server_cert(ca_cert, ca_key, ["127.0.0.1"], tmp_path / "server")
    tls_port = _free_udp_tcp_port()
    secret = secrets.token_urlsafe(32)

    def conf(port: int, min_port: int, max_port: int) -> str:
        return coturn_config(
            [secret], realm=REALM, listening_ip="127.0.0.1", relay_ip="127.0.0.1",
            allowed_peer_networks=["127.0.0.0/8"], listening_port=port, min_port=min_port,
            max_port=max_port, tls_cert=str(cert), tls_key=str(key), tls_listening_port=tls_port,
            log_file=str(tmp_path / "turn.log"), pidfile=str(tmp_path / "turn.pid"),
            userdb=str(tmp_path / "turndb"), allow_loopback_peers=True,
        )  # fmt: skip

    # aioice verifies a turns: server with the default context, which trusts SSL_CERT_FILE.
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_cert))
    with run_coturn(tmp_path, [secret], conf) as relay:
        servers = []
        for user in ("biz-inv1", "officer-7"):
            creds = turn_credentials(relay.secret, user, ttl_s=300)
            servers.append(
                RTCConfiguration(
                    iceServers=[
                        RTCIceServer(
                            f"turns:127.0.0.1:{tls_port}?transport=tcp", creds.username, creds.password
                        )
                    ],
                    iceTransportPolicy=RTCIceTransportPolicy.RELAY,
                )
            )
        pc1, pc2 = RTCPeerConnection(servers[0]), RTCPeerConnection(servers[1])
        try:
            pc1.addTrack(PatternTrack((40, 40, 200)))
            got_frame: asyncio.Future[av.VideoFrame] = asyncio.get_running_loop().create_future()

            async def read(track) -> None:  # type: ignore[no-untyped-def]
                while not got_frame.done():
                    frame = await track.recv()
                    if frame.width == 320:
                        got_frame.set_result(frame)

            tasks: list[asyncio.Task[None]] = []
            pc2.on("track", lambda track: tasks.append(asyncio.ensure_future(read(track))))
            connected = _state_waiter(pc1, {"connected", "failed"})
            await _negotiate(pc1, pc2)
            assert await asyncio.wait_for(connected, 30) == "connected"
            await asyncio.wait_for(got_frame, 30)
            connection = pc1.getTransceivers()[0].sender.transport.transport._connection
            pair = connection._nominated[1]
            assert pair.local_candidate.type == "relay"
            assert relay.min_port <= pair.local_candidate.port <= relay.max_port
            # The allocation went over TLS: aioice's TURN client transport carries an SSL object (private
            # attributes: aiortc exposes no stats for the relay's own transport).
            relays = [p.transport for p in connection._protocols if isinstance(p.transport, TurnTransport)]
            inner = [t._TurnTransport__inner_protocol.transport for t in relays]  # type: ignore[attr-defined]
            assert inner and all(t.get_extra_info("ssl_object") is not None for t in inner)
            for task in tasks:
                task.cancel()
        finally:
            await pc1.close()
            await pc2.close()
