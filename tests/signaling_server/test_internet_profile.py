"""The internet-side deployment profile: TLS and TURN over TLS required, business endpoints only."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import aiohttp
import pytest

from config import ConfigError
from config.loader import parse_config
from config.schema import AppConfig, TurnConfig
from remote_call import protocol as p
from signaling_server.access import declared_routes
from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.testing import test_config
from signaling_server.tls import client_ssl_context, create_ca, issue_server_cert, server_ssl_context

TURNS = TurnConfig(urls=["turns:turn.example.jp:443?transport=tcp"], secret="s" * 32)


def internet_config(tmp_path: Path) -> tuple[AppConfig, Path, Path, Path]:
    ca_cert, ca_key = create_ca(tmp_path / "ca")
    cert, key = issue_server_cert(ca_cert, ca_key, ["127.0.0.1"], tmp_path / "server")
    base = test_config()
    data = base.model_dump(mode="json")
    data["server"] |= {"profile": "internet", "tls_cert": str(cert), "tls_key": str(key)}
    data["turn"] = TURNS.model_dump(mode="json")
    data["kiosks"] = []
    return parse_config(data), ca_cert, cert, key


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"server": {"tls_cert": None, "tls_key": None}}, "requires TLS"),
        ({"turn": None}, "turns: URL"),
        ({"turn": {"urls": ["turn:turn.example.jp:3478"], "secret": "s" * 32}}, "turns: URL"),
        ({"kiosks": [{"id": "kiosk-x", "name": "公民館"}]}, "businesses only"),
    ],
)
def test_an_internet_instance_without_tls_a_tls_relay_or_with_kiosks_is_refused_by_name(
    tmp_path, change, named
):
    config, *_ = internet_config(tmp_path)
    data = config.model_dump(mode="json")
    for key, value in change.items():
        data[key] = data[key] | value if isinstance(value, dict) and data.get(key) else value
    with pytest.raises(ConfigError, match=named):
        parse_config(data)


def test_the_internet_instance_exposes_no_it_dashboard_board_metrics_or_case_reading(tmp_path):
    config, *_ = internet_config(tmp_path)
    internet = declared_routes(EmbeddedServer(config).app)
    lgwan = declared_routes(EmbeddedServer(test_config()).app)
    for path in ("GET /it/", "GET /metrics", "GET /board", "GET /api/cases/{call_id}/documents"):
        assert path in lgwan and path not in internet, path
    assert "PUT /api/cases/{call_id}/documents/{doc_id}" in internet  # an officer saves uploads for export
    assert "GET /ws" in internet and "GET /healthz" in internet


async def signed_in(session: aiohttp.ClientSession, url: str, hello: p.Hello) -> list[dict]:
    """The messages the server answers a hello with, until it sends a welcome or closes."""
    seen = []
    async with session.ws_connect(url) as ws:
        await ws.send_str(p.encode(hello))
        async for frame in ws:
            message = json.loads(frame.data)
            seen.append(message)
            if message["type"] == "welcome":
                break
    return seen


async def test_over_tls_an_officer_signs_in_and_a_kiosk_or_it_admin_is_sent_to_the_city_network(tmp_path):
    config, ca_cert, cert, key = internet_config(tmp_path)
    async with EmbeddedServer(config, ssl_context=server_ssl_context(cert, key)) as server:
        fleet = provision(server.store, test_config(), kiosk_ids=["kiosk-ueda"], officers=["hanako"],
                          password="correct horse battery")  # fmt: skip
        server.store.add_officer(
            "it-sato", "佐藤", "it_admin", server.store.officer("hanako").password_hash, {}
        )
        assert server.url.startswith("wss://")
        connector = aiohttp.TCPConnector(ssl=client_ssl_context(ca_cert))
        async with aiohttp.ClientSession(connector=connector) as session:
            officer = p.Hello(
                v=1, role=p.Role.OFFICER,
                credentials=p.PasswordCredentials(username="hanako", password="correct horse battery"),
            )  # fmt: skip
            assert (await signed_in(session, server.url, officer))[-1]["type"] == "welcome"
            token = fleet.kiosk_tokens["kiosk-ueda"]
            kiosk = p.Hello(
                v=1,
                role=p.Role.KIOSK,
                credentials=p.DeviceTokenCredentials(kiosk_id="kiosk-ueda", token=token),
            )
            it_admin = p.Hello(
                v=1, role=p.Role.IT_ADMIN,
                credentials=p.PasswordCredentials(username="it-sato", password="correct horse battery"),
            )  # fmt: skip
            for hello in (kiosk, it_admin):
                answer = await signed_in(session, server.url, hello)
                assert [m["code"] for m in answer] == ["forbidden"]
                assert "city-network instance" in answer[0]["detail"]


def test_turn_config_for_the_internet_side_listens_for_tls_on_443(tmp_path):
    from signaling_server.admin import main

    config = tmp_path / "internet.toml"
    config.write_text(
        '[turn]\nurls = ["turns:turn.example.jp:443?transport=tcp"]\nsecret = "' + "s" * 32 + '"\n'
        '[[departments]]\nid = "kenchiku"\nname_ja = "建築指導課"\nname_en = "Building"\n'
        'audience = "businesses"\n'
    )
    args = ["--config", str(config), "turn-config", "--realm", "madoguchi.example.jp", "--listen", "10.0.0.5",
            "--relay", "10.0.0.5", "--allow-peer", "10.20.0.0/16"]  # fmt: skip
    tls = ["--tls-cert", "/etc/c.pem", "--tls-key", "/etc/c.key"]
    for extra, expected in (([], "no-tls"), (tls, "tls-listening-port=443")):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(args + extra) == 0
        assert expected in out.getvalue().splitlines()
