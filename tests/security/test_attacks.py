"""Attack cases against a running server, table-driven: each is refused with a clear error and logged, and
everyone else keeps being served. Plus a hypothesis fuzz of thousands of random and mutated messages while
a real call with media goes on."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from remote_call import protocol as p
from signaling_server.testing import WireClient, test_config
from staff_console.controller import ConsoleController

PASSWORD = "correct horse battery"


def hello_kiosk(kiosk_id: str, token: str) -> p.Hello:
    return p.Hello(
        v=1, role=p.Role.KIOSK, credentials=p.DeviceTokenCredentials(kiosk_id=kiosk_id, token=token)
    )


def hello_officer(username: str, password: str) -> p.Hello:
    return p.Hello(
        v=1, role=p.Role.OFFICER, credentials=p.PasswordCredentials(username=username, password=password)
    )


async def refused_hello(server, hello: p.Hello | str) -> p.Error:
    client = await WireClient.connect(server.url)
    try:
        await client.send(hello)
        return await client.expect(p.Error)
    finally:
        await client.close()


async def call_between(server, kiosk_index: int = 0):
    kiosk_id = ["kiosk-ueda", "kiosk-tonan"][kiosk_index]
    k = await WireClient.kiosk(server.url, kiosk_id, server.fleet.kiosk_tokens[kiosk_id])
    o = await WireClient.officer(server.url, "hanako", PASSWORD)
    await k.send(p.RequestCall(department="kosodate"))
    offer = await o.expect(p.CallOffer)
    await o.send(p.AcceptCall(call_id=offer.call_id))
    await k.expect(p.CallConnecting)
    return k, o, offer.call_id


# ------------------------------------------------------------------ the attack table


async def no_token(server) -> p.Error:
    return await refused_hello(server, json.dumps({"type": "hello", "v": 1, "role": "kiosk"}))


async def forged_token(server) -> p.Error:
    return await refused_hello(server, hello_kiosk("kiosk-ueda", "A" * 43))


async def expired_session(server) -> p.Error:
    return await refused_hello(
        server, p.Hello(v=1, role=p.Role.OFFICER, credentials=p.SessionCredentials(token="B" * 43))
    )


async def revoked_kiosk(server) -> p.Error:
    server.store.revoke_kiosk_token("kiosk-tamayama")
    return await refused_hello(
        server, hello_kiosk("kiosk-tamayama", server.fleet.kiosk_tokens["kiosk-tamayama"])
    )


async def answering_another_departments_call(server) -> p.Error:
    k = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
    kenji = await WireClient.officer(server.url, "kenji", PASSWORD)  # serves kenko-hoken only
    await k.send(p.RequestCall(department="kosodate"))
    queued = await k.expect(p.Queued)
    await kenji.send(p.AcceptCall(call_id=queued.call_id))
    error = await kenji.expect(p.Error)
    await k.close()
    await kenji.close()
    return error


async def sdp_injection(server) -> p.Error:
    k, o, call_id = await call_between(server)
    intruder = await WireClient.kiosk(server.url, "kiosk-tonan", server.fleet.kiosk_tokens["kiosk-tonan"])
    await intruder.send(p.SessionDescription(call_id=call_id, sdp_type="answer", sdp="v=0 evil"))
    error = await intruder.expect(p.Error)
    for c in (k, o, intruder):
        await c.close()
    return error


async def ice_injection(server) -> p.Error:
    k, o, call_id = await call_between(server)
    intruder = await WireClient.officer(server.url, "jiro", PASSWORD)
    await intruder.send(
        p.IceCandidate(call_id=call_id, candidate="candidate:1 1 udp 1 6.6.6.6 6666 typ host")
    )
    error = await intruder.expect(p.Error)
    for c in (k, o, intruder):
        await c.close()
    return error


async def hijacking_a_call_id(server) -> p.Error:
    k, o, call_id = await call_between(server)
    intruder = await WireClient.kiosk(server.url, "kiosk-tonan", server.fleet.kiosk_tokens["kiosk-tonan"])
    await intruder.send(p.EndCall(call_id=call_id))
    error = await intruder.expect(p.Error)
    await intruder.send(p.MediaConnected(call_id=call_id))
    assert (await intruder.expect(p.Error)).code is p.ErrorCode.NOT_FOUND
    assert server.switchboard.calls[call_id].state is p.CallState.CONNECTING  # untouched
    for c in (k, o, intruder):
        await c.close()
    return error


async def oversized_message(server) -> p.Error:
    k = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
    await k.send(json.dumps({"type": "ping", "nonce": 1, "pad": "x" * 100_000}))
    error = await k.expect(p.Error)
    await k.close()
    return error


async def message_flood(server) -> p.Error:
    k = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
    flood = p.encode(p.Ping(nonce=1))
    burst = server.config.server.message_burst
    for _ in range(burst * 2):
        await k.send(flood)
    error = await k.expect(p.Error)
    await k.close()
    return error


async def malformed_json(server) -> p.Error:
    k = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
    await k.send('{"type": "ping", "nonce": ')
    error = await k.expect(p.Error)
    await k.close()
    return error


async def unknown_message_type(server) -> p.Error:
    k = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
    await k.send('{"type": "become_admin"}')
    error = await k.expect(p.Error)
    await k.close()
    return error


async def kiosk_token_guessing_does_not_lock_out_other_kiosks(server) -> p.Error:
    """Guessing locks the guessing address out (signaling_server.signin); the kiosk with its real token
    still gets in, even from that address (a community centre's NAT)."""
    for _ in range(6):
        await refused_hello(server, hello_kiosk("kiosk-tamayama", "C" * 43))
    real = await WireClient.kiosk(server.url, "kiosk-tamayama", server.fleet.kiosk_tokens["kiosk-tamayama"])
    await real.close()
    return await refused_hello(server, hello_kiosk("kiosk-tamayama", "C" * 43))


async def password_guessing(server) -> p.Error:
    for _ in range(5):
        assert (
            await refused_hello(server, hello_officer("jiro", "guess"))
        ).code is p.ErrorCode.UNAUTHENTICATED
    # Even the right password is refused now, until the lockout passes.
    return await refused_hello(server, hello_officer("jiro", PASSWORD))


@dataclass(frozen=True)
class Attack:
    name: str
    run: Callable[[object], Awaitable[p.Error]]
    code: p.ErrorCode
    detail: str
    logged: str


ATTACKS = [
    Attack("no token", no_token, p.ErrorCode.INVALID, "credentials", "invalid"),
    Attack(
        "forged token", forged_token, p.ErrorCode.UNAUTHENTICATED, "invalid or revoked", "sign-in refused"
    ),
    Attack("expired session", expired_session, p.ErrorCode.UNAUTHENTICATED, "expired", "sign-in refused"),
    Attack("revoked kiosk", revoked_kiosk, p.ErrorCode.UNAUTHENTICATED, "revoked", "sign-in refused"),
    Attack(
        "officer answering another department's call",
        answering_another_departments_call,
        p.ErrorCode.NOT_FOUND,
        "ringing for you",
        "not_found",
    ),
    Attack("SDP injection into another call", sdp_injection, p.ErrorCode.NOT_FOUND, "of yours", "not_found"),
    Attack("ICE injection into another call", ice_injection, p.ErrorCode.NOT_FOUND, "of yours", "not_found"),
    Attack("hijacking a call id", hijacking_a_call_id, p.ErrorCode.NOT_FOUND, "of yours", "not_found"),
    Attack("oversized message", oversized_message, p.ErrorCode.TOO_LARGE, "exceeds the limit", "too_large"),
    Attack(
        "message flood", message_flood, p.ErrorCode.RATE_LIMITED, "too many messages", "too many messages"
    ),
    Attack("malformed JSON", malformed_json, p.ErrorCode.MALFORMED, "not valid JSON", "malformed"),
    Attack(
        "unknown message type", unknown_message_type, p.ErrorCode.UNKNOWN_TYPE, "become_admin", "unknown_type"
    ),
    Attack(
        "kiosk token guessing",
        kiosk_token_guessing_does_not_lock_out_other_kiosks,
        p.ErrorCode.RATE_LIMITED,
        "too many failed sign-ins",
        "locked out",
    ),
    Attack(
        "password guessing",
        password_guessing,
        p.ErrorCode.RATE_LIMITED,
        "too many failed sign-ins",
        "locked out",
    ),
]


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
async def test_attack_is_refused_logged_and_others_keep_being_served(make_server, caplog, attack: Attack):
    caplog.set_level(logging.INFO, logger="signaling_server")
    async with make_server(message_burst=50, messages_per_second=20) as server:
        error = await attack.run(server)
        assert error.code is attack.code, error
        assert attack.detail in error.detail, error.detail
        assert any(attack.logged in record.getMessage() for record in caplog.records), (
            attack.logged,
            [r.getMessage() for r in caplog.records][-10:],
        )
        # The server still serves everyone else (a flooder being cut off alone: test below).
        other = await WireClient.kiosk(server.url, "kiosk-tonan", server.fleet.kiosk_tokens["kiosk-tonan"])
        await other.send(p.Ping(nonce=77))
        assert (await other.expect(p.Pong)).nonce == 77
        await other.close()


async def test_flooding_client_is_cut_off_alone(make_server):
    async with make_server(message_burst=20, messages_per_second=10) as server:
        flooder = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
        calm = await WireClient.kiosk(server.url, "kiosk-tonan", server.fleet.kiosk_tokens["kiosk-tonan"])
        raw = p.encode(p.Ping(nonce=1))
        for _ in range(20 * 4):  # the burst, then well past FLOOD_STRIKES bursts of refusals
            await flooder.send(raw)
        assert await flooder.closed(timeout=10) == 1008
        await calm.send(p.Ping(nonce=3))
        assert (await calm.expect(p.Pong)).nonce == 3
        await calm.close()


@pytest.mark.parametrize(
    "path",
    [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/api/..%2f..%2fpyproject.toml",
        "/static/../../signaling_server/auth.py",
        "/board/..%2f..%2fconfig%2fdefaults%2fmorioka.toml",
        "/it/%2e%2e%2f%2e%2e%2fvar%2fmadoguchi.sqlite3",
    ],
)
async def test_path_traversal_on_web_routes_finds_nothing(server, path):
    async with aiohttp.ClientSession() as http, http.get(server.http_url + path) as resp:
        body = await resp.text()
    assert resp.status in (400, 403, 404), (path, resp.status)
    assert "root:" not in body and "[project]" not in body and "argon2" not in body and "SQLite" not in body


# ------------------------------------------------------------------ fuzzing

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
VALID = [
    p.RequestCall(department="kosodate"),
    p.CancelCall(call_id="c1"),
    p.SetStatus(status="away", reason="break"),
    p.AcceptCall(call_id="c1"),
    p.SessionDescription(call_id="c1", sdp_type="offer", sdp="v=0"),
    p.IceCandidate(call_id="c1", candidate="candidate:x"),
    p.EndCall(call_id="c1", outcome="resolved"),
    p.TransferCall(call_id="c1", to_department="kenko-hoken"),
    p.Heartbeat(uptime_s=1, cpu_percent=1, memory_percent=1, disk_percent=1),
    p.CallQuality(call_id="c1"),
    p.SetShift(departments=["kosodate"]),
    p.CaseEvent(call_id="c1", action="document_saved"),
    p.RestartMedia(call_id="c1"),
    p.Ping(nonce=1),
]


@st.composite
def mutated(draw) -> str:
    base = json.loads(p.encode(draw(st.sampled_from(VALID))))
    keys = list(base)
    action = draw(st.sampled_from(["drop", "replace", "extra", "retype", "long", "swap_type"]))
    if action == "drop" and len(keys) > 1:
        base.pop(draw(st.sampled_from([k for k in keys if k != "type"])))
    elif action == "replace":
        base[draw(st.sampled_from(keys))] = draw(json_values)
    elif action == "extra":
        base[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
    elif action == "retype":
        base["type"] = draw(st.sampled_from(sorted(p.MESSAGE_TYPES)) | st.text(max_size=20))
    elif action == "long":
        base[draw(st.sampled_from(keys))] = "長" * draw(st.integers(1000, 20_000))
    elif action == "swap_type":
        base["type"] = draw(st.sampled_from(sorted(p.MESSAGE_TYPES)))
    return json.dumps(base, ensure_ascii=draw(st.booleans()))


RAW = "__raw_json__"
PATHOLOGICAL_VALUES = st.sampled_from(
    [
        *("1e999", "-1e400", "9" * 5000, "1" + "0" * 400),  # overflowing and 5,000-digit numbers
        *("[" * 50 + "]" * 50, "[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000),  # nesting
        '"' + "長" * 20_000 + '"',  # a long string (60 KB of UTF-8)
    ]
)


@st.composite
def pathological(draw, base: dict | None = None) -> str:
    """A valid message (or ``base``) with one field (or an extra one) replaced by raw JSON that is deeply
    nested, a number that overflows or has thousands of digits, or a very long string."""
    base = dict(base) if base is not None else json.loads(p.encode(draw(st.sampled_from(VALID))))
    key = draw(st.sampled_from([*base, "extra"]))
    base[key] = RAW
    return json.dumps(base).replace(f'"{RAW}"', draw(PATHOLOGICAL_VALUES), 1)


credential_text = st.text(max_size=60) | st.integers(1000, 20_000).map(lambda n: "x" * n)


@st.composite
def random_hello(draw) -> str:
    """A hello with random credentials of every kind (and some that are no kind), sometimes pathological."""
    kind = draw(st.sampled_from(["password", "device", "session", "junk"]))
    if kind == "password":
        credentials = {"username": draw(credential_text), "password": draw(credential_text)}
    elif kind == "device":
        credentials = {"kiosk_id": draw(credential_text), "token": draw(credential_text)}
    elif kind == "session":
        credentials = {"token": draw(credential_text)}
    else:
        credentials = draw(json_values)
    role = draw(st.sampled_from([r.value for r in p.Role]) | st.text(max_size=12))
    hello = {"type": "hello", "v": draw(st.sampled_from([1, 1, 2, -1, 2**70])), "role": role}
    hello["credentials"] = credentials
    if draw(st.booleans()):
        return draw(pathological(hello))
    return json.dumps(hello, ensure_ascii=draw(st.booleans()))


fuzz_messages = st.one_of(
    mutated(),
    pathological(),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.dictionaries(st.just("type"), st.text(max_size=30)).map(json.dumps),
)


def corpus(count: int, strategy: st.SearchStrategy[str] = fuzz_messages) -> list[str]:
    """Let hypothesis generate the messages (it explores edge cases far better than random.choice)."""
    found: list[str] = []

    @settings(max_examples=count, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(message: str) -> None:
        found.append(message)

    collect()
    return found


@pytest.mark.slow
async def test_fuzzed_messages_never_stop_the_server_or_a_live_call(make_server):
    async with make_server(messages_per_second=100_000, message_burst=100_000) as server:
        kiosk = KioskController(
            server.url,
            "kiosk-ueda",
            server.fleet.kiosk_tokens["kiosk-ueda"],
            SimulatedMedia("kiosk", 320, 240, 15, 440),
        )
        officer = ConsoleController(
            server.url, "hanako", PASSWORD, SimulatedMedia("officer", 320, 240, 15, 660)
        )
        fuzz_kiosk = fuzz_officer = None
        try:
            await kiosk.start()
            await officer.start()
            ringing = asyncio.ensure_future(officer.events.wait("ring", 10))
            await kiosk.request_call("kosodate")
            await ringing
            started = asyncio.ensure_future(officer.events.wait("call_started", 20))
            await officer.accept()
            await started
            frames_before = officer.party.session.remote_video.count
            fuzz_kiosk = await WireClient.kiosk(
                server.url, "kiosk-tonan", server.fleet.kiosk_tokens["kiosk-tonan"]
            )
            fuzz_officer = await WireClient.officer(server.url, "jiro", PASSWORD)
            messages = corpus(3000)
            for start in range(0, len(messages), 100):
                # In batches with a round trip between them: a client that never reads its replies is
                # (rightly) cut off by the server's bounded send queue; this one reads them.
                for i, message in enumerate(messages[start : start + 100]):
                    await (fuzz_kiosk if i % 2 else fuzz_officer).send(message)
                for client in (fuzz_kiosk, fuzz_officer):
                    await client.send(p.Ping(nonce=start + 1))
                    assert (await client.expect(p.Pong, timeout=30, nonce=start + 1)).nonce == start + 1
                errors = [m for m in client.seen if isinstance(m, p.Error)]
                assert errors and all(e.detail for e in errors)
                internal = [e for e in errors if e.code is p.ErrorCode.INTERNAL]
                assert not internal, f"the server failed on {len(internal)} fuzzed messages (see its log)"
            # The real call went on meanwhile, media flowing, and ends normally.
            assert officer.party.session.remote_video.count > frames_before
            ended = asyncio.ensure_future(kiosk.events.wait("call_ended", 10))
            await officer.end_call("resolved")
            assert (await ended)["reason"] == "completed"
            async with aiohttp.ClientSession() as http, http.get(server.http_url + "/healthz") as resp:
                assert (await resp.json())["status"] == "ok"
        finally:
            await kiosk.stop()
            await officer.stop()
            for client in (fuzz_kiosk, fuzz_officer):
                if client is not None:
                    await client.close()


async def test_fuzzed_hellos_and_pathological_json_are_refused_before_and_after_sign_in(make_server, caplog):
    """Random credentials of every kind and pathological JSON (deep nesting, overflowing and 5,000-digit
    numbers, long strings in every field) get a protocol error, never ``internal``, and nothing is logged
    with a traceback; the server goes on serving."""
    caplog.set_level(logging.INFO)
    async with make_server(messages_per_second=100_000, message_burst=100_000) as server:
        # Signed in first: the hello fuzz below locks this address out for passwords.
        kiosk = await WireClient.kiosk(server.url, "kiosk-tonan", server.fleet.kiosk_tokens["kiosk-tonan"])
        officer = await WireClient.officer(server.url, "jiro", PASSWORD)
        for i, message in enumerate(corpus(300, pathological())):
            client = kiosk if i % 2 else officer
            await client.send(message)
            await client.send(p.Ping(nonce=i))  # answered in order: whatever the message caused came first
            await client.expect(p.Pong, timeout=10, nonce=i)
        errors = [m for c in (kiosk, officer) for m in c.seen if isinstance(m, p.Error)]
        assert errors and not [e for e in errors if e.code is p.ErrorCode.INTERNAL]
        assert any(e.detail == "not valid JSON: nested too deeply" for e in errors)
        for message in corpus(150, random_hello()):
            answer = await WireClient.connect(server.url)
            try:
                await answer.send(message)
                first = await answer.receive(timeout=10)
            finally:
                await answer.close()
            assert isinstance(first, p.Error) and first.code is not p.ErrorCode.INTERNAL, message[:200]
        await kiosk.send(p.Ping(nonce=7))
        assert (await kiosk.expect(p.Pong)).nonce == 7
        for client in (kiosk, officer):
            await client.close()
    raised = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not raised, [r.getMessage() for r in raised][:5]


async def test_websocket_from_a_foreign_origin_is_refused(server, caplog):
    caplog.set_level(logging.WARNING, logger="signaling_server")
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(server.url, headers={"Origin": "https://evil.example"})
        assert info.value.status == 403
        # The server's own pages (same origin) and non-browser clients (no Origin) are fine.
        ws = await http.ws_connect(server.url, headers={"Origin": server.http_url})
        await ws.close()
    assert any("foreign origin" in r.getMessage() for r in caplog.records)


async def test_clients_verify_the_server_certificate(tmp_path):
    from kiosk_client.controller import KioskController
    from signaling_server.embedded import EmbeddedServer, provision
    from signaling_server.tls import client_ssl_context, create_ca, issue_server_cert, server_ssl_context

    ca_cert, ca_key = create_ca(tmp_path / "ca")
    cert, key = issue_server_cert(ca_cert, ca_key, ["127.0.0.1", "localhost"], tmp_path / "server")
    other_ca, _ = create_ca(tmp_path / "other-ca")
    config = test_config()
    async with EmbeddedServer(
        config, tmp_path / "db.sqlite3", ssl_context=server_ssl_context(cert, key)
    ) as srv:
        assert srv.url.startswith("wss://")
        fleet = provision(srv.store, config, kiosk_ids=["kiosk-ueda"], officers=[], password="unused-pw")
        trusted = KioskController(
            srv.url,
            "kiosk-ueda",
            fleet.kiosk_tokens["kiosk-ueda"],
            SimulatedMedia("k", 160, 120, 5, 0),
            ssl_context=client_ssl_context(ca_cert),
        )
        await trusted.start(timeout=10)
        assert trusted.online
        await trusted.stop()
        fooled = KioskController(
            srv.url,
            "kiosk-ueda",
            fleet.kiosk_tokens["kiosk-ueda"],
            SimulatedMedia("k", 160, 120, 5, 0),
            ssl_context=client_ssl_context(other_ca),
        )
        with pytest.raises(TimeoutError):
            await fooled.start(timeout=2)  # keeps retrying, never talks to a server it cannot verify
        assert not fooled.online and fooled.client.attempts >= 1
        await fooled.stop()
