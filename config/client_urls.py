"""The signaling URLs a kiosk or console connects to: one, or several nodes tried in rotation.

A URL is ``wss://`` anywhere and ``ws://`` only to this machine (a kiosk or console never sends its
credentials in clear over a network). The list comes from ``--server`` (comma-separated) or, without it,
from ``server.urls`` in the configuration; ``remote_call.signaling_client`` rotates through it.
"""

from __future__ import annotations

import ipaddress
import urllib.parse


def check_server_url(url: str) -> None:
    """Raise ValueError naming the problem unless ``url`` is a signaling URL a client may use."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(
            f"must be a ws:// or wss:// URL (wss://host/ws; ws:// only to this machine), not {url!r}"
        )
    if parts.scheme == "ws" and not _loopback(parts.hostname):
        raise ValueError(
            f"ws:// sends credentials in clear: use wss:// for {parts.hostname} (ws:// only to this machine)"
        )


def check_server_urls(urls: list[str]) -> list[str]:
    """Each URL checked, none twice; the list unchanged. Raises ValueError naming the URL at fault."""
    seen: set[str] = set()
    for index, url in enumerate(urls):
        try:
            check_server_url(url)
        except ValueError as exc:
            raise ValueError(f"URL {index + 1} of {len(urls)}: {exc}") from None
        if url in seen:
            raise ValueError(f"{url!r} is listed twice")
        seen.add(url)
    return urls


def split_server_urls(text: str) -> list[str]:
    """``--server wss://a/ws,wss://b/ws`` → the URLs, checked (ValueError naming the one at fault)."""
    urls = [part.strip() for part in text.split(",") if part.strip()]
    if not urls:
        raise ValueError("no URL given")
    return check_server_urls(urls)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_urls(flag: str | None, configured: list[str]) -> list[str]:
    """The URLs a kiosk or console uses: its ``--server`` (comma-separated), else ``server.urls``."""
    if flag:
        return split_server_urls(flag)
    if configured:
        return list(configured)
    raise ValueError(
        "no signaling server: pass --server wss://host/ws (several nodes comma-separated) "
        "or set server.urls in the configuration"
    )
