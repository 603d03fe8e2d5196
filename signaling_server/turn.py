"""TURN credentials for coturn's REST API scheme (``use-auth-secret`` / ``static-auth-secret``).

coturn and this server share one secret. For each call the server hands a client a username
``"<expiry unix time>:<user id>"`` and the password ``base64(HMAC-SHA1(secret, username))``; coturn
recomputes the HMAC and refuses the allocation once the expiry time has passed. No per-user state lives
on the TURN server, and a leaked credential is only good until it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from config.schema import IceServer, TurnConfig

MIN_TTL_S = 1
MAX_TTL_S = 86_400


@dataclass(frozen=True, slots=True)
class TurnCredentials:
    username: str
    password: str
    expires_at: float


def turn_credentials(secret: str, user_id: str, ttl_s: int, now: float | None = None) -> TurnCredentials:
    """Time-limited TURN credentials for ``user_id``, valid for ``ttl_s`` seconds from ``now``."""
    if not secret:
        raise ValueError("TURN secret must not be empty")
    if not user_id:
        raise ValueError("TURN user id must not be empty")
    if ":" in user_id:
        raise ValueError(f"TURN user id {user_id!r} must not contain ':' (it separates expiry and user)")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in user_id):
        raise ValueError(f"TURN user id {user_id!r} must not contain spaces or control characters")
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int):
        raise TypeError(f"TURN ttl_s must be an int number of seconds, got {ttl_s!r}")
    if not MIN_TTL_S <= ttl_s <= MAX_TTL_S:
        raise ValueError(f"TURN ttl_s must be between {MIN_TTL_S} and {MAX_TTL_S} seconds, got {ttl_s}")
    current = time.time() if now is None else now
    expires_at = int(current) + ttl_s
    username = f"{expires_at}:{user_id}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    password = base64.b64encode(digest).decode("ascii")
    return TurnCredentials(username=username, password=password, expires_at=float(expires_at))


def ice_servers_for_call(
    turn: TurnConfig | None,
    static: list[IceServer],
    user_id: str,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """The ``iceServers`` list for one participant of a call, as dicts with urls/username/credential.

    Static servers from the config come first (as configured; username/credential may be None);
    if a TURN server is configured, fresh REST-API credentials for ``user_id`` are added for it.
    Never adds a public STUN server: an empty config gives an empty list (host candidates only).
    """
    servers: list[dict[str, Any]] = [
        {"urls": list(s.urls), "username": s.username, "credential": s.credential} for s in static
    ]
    if turn is not None:
        creds = turn_credentials(turn.secret, user_id, turn.ttl_s, now=now)
        servers.append({"urls": list(turn.urls), "username": creds.username, "credential": creds.password})
    return servers


def new_turn_secret() -> str:
    """A fresh shared secret for coturn and ``TurnConfig.secret`` (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


_REALM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")


def _range(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    return f"{network.network_address}-{network.broadcast_address}"


def coturn_config(
    shared_secrets: Sequence[str],
    *,
    realm: str,
    listening_ip: str,
    relay_ip: str,
    allowed_peer_networks: Sequence[str],
    listening_port: int = 3478,
    min_port: int = 49152,
    max_port: int = 65535,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_listening_port: int = 443,
    user_quota: int = 12,
    total_quota: int = 1200,
    log_file: str = "syslog",
    userdb: str | None = None,
    pidfile: str | None = None,
    allow_loopback_peers: bool = False,
) -> str:
    """A ``turnserver.conf`` for our deployment: REST-API auth, relays only towards the given networks.

    Every peer address is denied except ``allowed_peer_networks`` (the kiosk and console segments), so the
    relay cannot be used to reach servers in the city's network. Several secrets may be given while one is
    being rotated (coturn accepts any of them); the first is the one the signaling server should use.
    ``allow_loopback_peers`` is for tests on one machine only.
    """
    _check_secrets_and_realm(shared_secrets, realm)
    _check_addresses(listening_ip, relay_ip, listening_port, min_port, max_port)
    if not 1 <= tls_listening_port <= 65535 or tls_listening_port == listening_port:
        raise ValueError(f"tls_listening_port {tls_listening_port} must be a port other than listening_port")
    allowed = _peer_networks(allowed_peer_networks)
    if (tls_cert is None) != (tls_key is None):
        raise ValueError("give both tls_cert and tls_key, or neither")
    for name, value in (("log_file", log_file), ("userdb", userdb), ("pidfile", pidfile)):
        if value is not None and any(c in value for c in "\r\n#"):
            raise ValueError(f"{name} {value!r} must not contain newlines or '#'")

    lines = [
        "# Generated by signaling_server.turn.coturn_config: TURN REST API credentials, relay restricted",
        f"listening-ip={listening_ip}",
        f"listening-port={listening_port}",
        f"relay-ip={relay_ip}",
        f"min-port={min_port}",
        f"max-port={max_port}",
        "use-auth-secret",
        *(f"static-auth-secret={secret}" for secret in shared_secrets),
        f"realm={realm}",
        "fingerprint",
        "no-cli",
        "no-multicast-peers",
        "no-software-attribute",
        "stale-nonce=600",
        f"user-quota={user_quota}",
        f"total-quota={total_quota}",
        "denied-peer-ip=0.0.0.0-255.255.255.255",
        "denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        *(f"allowed-peer-ip={_range(net)}" for net in allowed),
    ]
    lines += _tls_lines(tls_cert, tls_key, tls_listening_port)
    if allow_loopback_peers:
        lines.append("allow-loopback-peers")
    lines.append(f"log-file={log_file}")
    lines.append("simple-log")
    if userdb is not None:
        lines.append(f"userdb={userdb}")
    if pidfile is not None:
        lines.append(f"pidfile={pidfile}")
    return "\n".join(lines) + "\n"


def _tls_lines(tls_cert: str | None, tls_key: str | None, tls_listening_port: int) -> list[str]:
    if tls_cert is None:
        return ["no-tls", "no-dtls"]
    # TURN over TLS on 443 by default: office firewalls that block UDP and unknown ports still pass
    # HTTPS, so a business's browser reaches the relay as turns:<host>:443?transport=tcp.
    return [
        f"tls-listening-port={tls_listening_port}",
        f"cert={tls_cert}",
        f"pkey={tls_key}",
        "no-tlsv1",
        "no-tlsv1_1",
        "no-dtls",
    ]


def _check_secrets_and_realm(shared_secrets: Sequence[str], realm: str) -> None:
    if not shared_secrets:
        raise ValueError("coturn needs at least one static-auth-secret")
    for secret in shared_secrets:
        if len(secret) < 16 or any(c.isspace() for c in secret) or "#" in secret:
            raise ValueError("each TURN secret needs at least 16 characters and no spaces or '#'")
    if not _REALM.match(realm):
        raise ValueError(f"realm {realm!r} must be a DNS-like name")


def _check_addresses(
    listening_ip: str, relay_ip: str, listening_port: int, min_port: int, max_port: int
) -> None:
    for name, ip in (("listening_ip", listening_ip), ("relay_ip", relay_ip)):
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ValueError(f"{name} {ip!r} is not an IP address") from None
    for name, port in (("listening_port", listening_port), ("min_port", min_port), ("max_port", max_port)):
        if not 1 <= port <= 65535:
            raise ValueError(f"{name} {port} is not a port number")
    if min_port > max_port:
        raise ValueError(f"min_port {min_port} is above max_port {max_port}")


def _peer_networks(raw_networks: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    if not raw_networks:
        raise ValueError("allowed_peer_networks must name the kiosk and console networks")
    allowed = []
    for raw in raw_networks:
        try:
            allowed.append(ipaddress.ip_network(raw, strict=False))
        except ValueError:
            raise ValueError(f"allowed peer network {raw!r} is not an IP network like 10.20.0.0/16") from None
    return allowed
