"""Secrets and clients (issue 14, item 6): secrets from a separate 0600 file or the environment (a file
readable by others stops the server process with a clear message); kiosk and console take a CA file and
refuse ws:// to anything but this machine; the exit PIN has no default and its lockout doubles; TURN
credentials only for call parties."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from config.loader import ConfigError, dump_config, load_config
from hardware.simulated import SimulatedMedia
from kiosk_client import cli as kiosk_cli
from kiosk_client.controller import KioskController
from kiosk_client.kiosk_mode import PinCheck
from remote_call import protocol as p
from remote_call.signaling_client import client_ssl_context
from signaling_server.auth import hash_password
from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.testing import WireClient, test_config
from signaling_server.tls import create_ca, issue_server_cert, server_ssl_context
from staff_console import cli as console_cli

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-turn-secret-of-32-characters!!"
PASSWORD = "correct horse battery"


def config_without_secrets(tmp_path: Path, **sections: dict) -> Path:
    data = tomllib.loads(dump_config(test_config(database=str(tmp_path / "db.sqlite3"))))
    data["turn"] = {"urls": ["turn:127.0.0.1:3478"]}  # the secret lives elsewhere
    data.update(sections)
    path = tmp_path / "city.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def secrets_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(tomli_w.dumps({"turn": {"secret": SECRET}}), encoding="utf-8")
    path.chmod(mode)
    return path


async def test_a_secrets_file_readable_by_others_stops_the_server_with_a_clear_message(tmp_path: Path):
    config = config_without_secrets(tmp_path)
    secrets = secrets_file(tmp_path, 0o644)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signaling_server.cli",
        "--config",
        str(config),
        "--port",
        "0",
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "MADOGUCHI_SECRETS": str(secrets)},
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert (
        "readable or writable by others (mode 0644)" in err.decode()
        and f"chmod 600 {secrets}" in err.decode()
    )
    secrets.chmod(0o600)
    loaded = load_config(config, environ={"MADOGUCHI_SECRETS": str(secrets)})
    assert loaded.turn is not None and loaded.turn.secret == SECRET
    # The environment wins over both files; document keys too.
    env = {"MADOGUCHI_TURN_SECRET": "x" * 20, "MADOGUCHI_DOCUMENT_KEYS": "k1=" + "A" * 44}
    config = config_without_secrets(tmp_path, documents={"current_key": "k1"})
    from_env = load_config(config, secrets=secrets, environ=env)
    assert from_env.turn is not None and from_env.turn.secret == "x" * 20
    assert from_env.documents.keys == {"k1": "A" * 44}
    with pytest.raises(ConfigError, match="MADOGUCHI_DOCUMENT_KEYS"):
        load_config(config, secrets=secrets, environ={"MADOGUCHI_DOCUMENT_KEYS": "no-equals-sign"})


@pytest.mark.parametrize("cli", [kiosk_cli, console_cli], ids=["kiosk", "console"])
def test_clients_refuse_ws_to_another_machine(cli, capsys):
    base = ["--kiosk-id", "kiosk-ueda", "--token-file", "/dev/null"] if cli is kiosk_cli else []
    for url in ("ws://10.20.0.5/ws", "ws://madoguchi.city.local/ws", "http://127.0.0.1/ws"):
        with pytest.raises(SystemExit) as refused:
            cli.parse_args([*base, "--server", url])
        assert refused.value.code == 2
    assert "ws:// sends credentials in clear" in capsys.readouterr().err
    for url in (
        "ws://127.0.0.1:8765/ws",
        "ws://localhost:8765/ws",
        "ws://[::1]:8765/ws",
        "wss://10.20.0.5/ws",
    ):
        assert cli.parse_args([*base, "--server", url]).server == url


def with_turn():
    config = test_config()
    data = config.model_dump()
    data["turn"] = {"urls": ["turn:127.0.0.1:3478"], "secret": SECRET, "ttl_s": 600}
    return type(config).model_validate(data)


async def test_the_ca_file_is_the_only_trust(tmp_path: Path):
    ca_cert, ca_key = create_ca(tmp_path / "ca")
    cert, key = issue_server_cert(ca_cert, ca_key, ["127.0.0.1"], tmp_path / "server")
    other_ca, _ = create_ca(tmp_path / "other")
    config = test_config()
    async with EmbeddedServer(
        config, tmp_path / "db.sqlite3", ssl_context=server_ssl_context(cert, key)
    ) as srv:
        fleet = provision(srv.store, config, kiosk_ids=["kiosk-ueda"], officers=[], password=PASSWORD)
        token, media = fleet.kiosk_tokens["kiosk-ueda"], SimulatedMedia("k", 160, 120, 5, 0)
        trusted = KioskController(
            srv.url, "kiosk-ueda", token, media, ssl_context=client_ssl_context(ca_cert)
        )
        await trusted.start(timeout=10)
        assert trusted.online
        await trusted.stop()
        fooled = KioskController(
            srv.url, "kiosk-ueda", token, media, ssl_context=client_ssl_context(other_ca)
        )
        with pytest.raises(TimeoutError):
            await fooled.start(timeout=2)  # never talks to a server it cannot verify
        await fooled.stop()


async def test_turn_credentials_only_for_call_parties(make_server):
    async with make_server(with_turn()) as server:
        server.store.add_officer(
            "boss", "係長", "supervisor", hash_password(PASSWORD), {"kosodate": "primary"}
        )
        kiosk = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
        officer = await WireClient.officer(server.url, "hanako", PASSWORD)
        boss = await WireClient.connect(
            server.url,
            p.Hello(
                v=1,
                role=p.Role.SUPERVISOR,
                credentials=p.PasswordCredentials(username="boss", password=PASSWORD),
            ),
        )
        await boss.expect(p.Welcome)
        welcomes = {c: c.seen[0] for c in (kiosk, officer, boss)}  # the first message: the welcome
        assert welcomes[boss].ice_servers == []  # was: TURN credentials for a supervisor
        for party in (kiosk, officer):
            turn = [s for s in welcomes[party].ice_servers if s.username]
            assert turn and turn[0].username.endswith(welcomes[party].identity)
        for client in (kiosk, officer, boss):
            await client.close()


def test_the_exit_pin_has_no_default_and_its_lockout_doubles(tmp_path: Path):
    assert load_config().kiosk_app.exit_pin is None  # nothing shipped
    config = test_config()
    args = argparse.Namespace(
        kiosk_id="kiosk-ueda", token_file=tmp_path / "token", windowed=False, ca_file=None
    )
    args.server, args.config = "wss://127.0.0.1/ws", None
    with pytest.raises(SystemExit, match="no exit PIN"):
        asyncio.run(kiosk_cli.run_kiosk(args, config))
    now = [0.0]
    check = PinCheck("2468", max_failures=3, lockout_s=60, clock=lambda: now[0])
    lockouts = []
    for _ in range(3):
        for _ in range(3):
            assert not check.check("0000")
        assert check.locked
        start = now[0]
        while check.locked:
            now[0] += 1
        lockouts.append(now[0] - start)
    assert lockouts == [60, 120, 240]
    assert check.check("2468") and check.lockouts == 0
    assert not PinCheck(None).check("0000")  # no PIN: nobody leaves by a PIN
