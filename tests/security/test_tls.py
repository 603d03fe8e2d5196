"""Private CA, server certificates and ssl contexts, exercised by a real aiohttp https + wss server."""

from __future__ import annotations

import asyncio
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509

from signaling_server.tls import (
    client_ssl_context,
    create_ca,
    describe_certificate,
    issue_server_cert,
    server_ssl_context,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("pki")
    ca_cert, ca_key = create_ca(base / "ca")
    cert, key = issue_server_cert(
        ca_cert, ca_key, ["localhost", "127.0.0.1", "madoguchi.city.lg.jp"], base / "srv"
    )
    other_ca, other_key = create_ca(base / "other", common_name="Someone else's CA")
    wrong_host, wrong_host_key = issue_server_cert(ca_cert, ca_key, ["kiosk.example"], base / "wrong")
    return {
        "ca_cert": ca_cert,
        "ca_key": ca_key,
        "cert": cert,
        "key": key,
        "other_ca": other_ca,
        "other_key": other_key,
        "wrong_host": wrong_host,
        "wrong_host_key": wrong_host_key,
    }


async def _serve(cert: Path, key: Path) -> AsyncIterator[int]:
    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="窓口 ok")

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=64 * 1024, compress=False)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str("echo:" + msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/ws", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ssl_context(cert, key))
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port
    finally:
        await runner.cleanup()


@pytest.fixture
async def https_server(pki: dict[str, Path]) -> AsyncIterator[int]:
    async for port in _serve(pki["cert"], pki["key"]):
        yield port


def test_files_and_certificate_contents(pki: dict[str, Path]) -> None:
    for key in ("ca_key", "key", "other_key"):
        assert stat.S_IMODE(pki[key].stat().st_mode) == 0o600, key
    assert b"PRIVATE KEY" in pki["key"].read_bytes()
    info = describe_certificate(pki["cert"])
    assert info.dns_names == ["localhost", "madoguchi.city.lg.jp"]
    assert info.ip_addresses == ["127.0.0.1"]
    assert not info.is_ca and info.issuer == "CN=Remote Madoguchi private CA"
    assert 396 <= (info.not_after - info.not_before).days <= 398
    assert describe_certificate(pki["ca_cert"]).is_ca
    cert = x509.load_pem_x509_certificate(pki["cert"].read_bytes())
    ca = x509.load_pem_x509_certificate(pki["ca_cert"].read_bytes())
    cert.verify_directly_issued_by(ca)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in eku


def test_reissue_keeps_key_private(tmp_path: Path, pki: dict[str, Path]) -> None:
    (tmp_path / "server.key").write_text("old")
    (tmp_path / "server.key").chmod(0o644)
    _, key = issue_server_cert(pki["ca_cert"], pki["ca_key"], ["localhost"], tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and b"old" not in key.read_bytes()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_https_and_wss_with_the_ca(pki: dict[str, Path], https_server: int, host: str) -> None:
    ctx = client_ssl_context(pki["ca_cert"])
    async with aiohttp.ClientSession() as session:
        async with session.get(f"https://{host}:{https_server}/", ssl=ctx) as resp:
            assert resp.status == 200 and await resp.text() == "窓口 ok"
        async with session.ws_connect(f"wss://{host}:{https_server}/ws", ssl=ctx) as ws:
            await ws.send_str("こんにちは")
            msg = await asyncio.wait_for(ws.receive(), 5)
            assert msg.data == "echo:こんにちは"
    _, writer = await asyncio.open_connection(host, https_server, ssl=ctx)
    assert writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
    assert writer.get_extra_info("peercert")["subject"] == ((("commonName", "localhost"),),)
    writer.close()
    await writer.wait_closed()


async def test_client_with_another_ca_is_refused(pki: dict[str, Path], https_server: int) -> None:
    ctx = client_ssl_context(pki["other_ca"])
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError) as https_err:
            await session.get(f"https://127.0.0.1:{https_server}/", ssl=ctx)
        assert isinstance(https_err.value.certificate_error, ssl.SSLCertVerificationError)
        with pytest.raises(aiohttp.ClientConnectorCertificateError) as wss_err:
            await session.ws_connect(f"wss://localhost:{https_server}/ws", ssl=ctx)
        assert isinstance(wss_err.value.certificate_error, ssl.SSLCertVerificationError)
    # The same refusal at the plain ssl level, without aiohttp in between.
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"):
        await asyncio.open_connection("127.0.0.1", https_server, ssl=ctx, server_hostname="localhost")


async def test_certificate_for_another_host_is_refused(pki: dict[str, Path]) -> None:
    ctx = client_ssl_context(pki["ca_cert"])
    async for port in _serve(pki["wrong_host"], pki["wrong_host_key"]):
        with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
            await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")


@pytest.mark.parametrize(
    ("hostnames", "error", "fragment"),
    [
        ([], ValueError, "at least one"),
        (["bad host"], ValueError, "neither an IP"),
        (["-x.example"], ValueError, "neither an IP"),
        ("localhost", TypeError, "list"),
    ],
)
def test_bad_hostnames(
    pki: dict[str, Path], tmp_path: Path, hostnames: list[str], error: type, fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        issue_server_cert(pki["ca_cert"], pki["ca_key"], hostnames, tmp_path)


def test_mismatched_ca_key_and_non_ca_issuer(pki: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not the private key"):
        issue_server_cert(pki["ca_cert"], pki["other_key"], ["localhost"], tmp_path)
    with pytest.raises(ValueError, match="not a CA certificate"):
        issue_server_cert(pki["cert"], pki["key"], ["localhost"], tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        client_ssl_context(tmp_path / "missing.pem")


def test_ipv6_and_wildcard_names(pki: dict[str, Path], tmp_path: Path) -> None:
    cert, _ = issue_server_cert(
        pki["ca_cert"], pki["ca_key"], ["::1", "*.madoguchi.test", "Kiosk.Test."], tmp_path
    )
    info = describe_certificate(cert)
    assert info.ip_addresses == ["::1"]
    assert info.dns_names == ["*.madoguchi.test", "kiosk.test"]
