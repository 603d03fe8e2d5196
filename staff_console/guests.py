"""A family member joins the call by link (issue 18): the officer's side, over REST; Qt-free.

``POST /api/calls/{call_id}/guest-links`` (the console's session token) answers 201 with the link to read
out or send, once: ``{link_id, link, expires_at, expires_in_s, emailed, email_error}`` (docs/guests.md).
The link works once, for 30 minutes or until the call ends. ``qr_png`` draws it as a QR code for a phone
held up to the screen (the ``qrcode`` package the server's booking page uses too).
"""

from __future__ import annotations

import io
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import qrcode

from staff_console.invitations import InvitationError

log = logging.getLogger(__name__)

TIMEOUT_S = 15.0


@dataclass(frozen=True)
class GuestLink:
    link_id: str
    link: str
    expires_at: str  # ISO 8601, the city's time
    expires_in_s: int
    emailed: bool
    email_error: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GuestLink:
        return cls(
            link_id=str(data["link_id"]),
            link=str(data["link"]),
            expires_at=str(data.get("expires_at") or ""),
            expires_in_s=int(data.get("expires_in_s") or 0),
            emailed=bool(data.get("emailed")),
            email_error=data.get("email_error"),
        )

    @property
    def until(self) -> str:
        """``HH:MM`` of the expiry, for the officer to read out."""
        return self.expires_at[11:16]


def qr_png(text: str) -> bytes:
    """A QR code of ``text`` as PNG bytes (error correction M, 4-module quiet zone)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=6)
    code.add_data(text)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out)
    return out.getvalue()


class GuestLinkClient:
    """``create()`` for the call in progress. ``base``: the server's origin; ``token``: the session;
    ``call_id``: the console's current call."""

    def __init__(
        self,
        base: Callable[[], str],
        token: Callable[[], str | None],
        call_id: Callable[[], str | None],
        ssl_context: Callable[[], ssl.SSLContext | None] = lambda: None,
    ):
        self._base = base
        self._token = token
        self._call_id = call_id
        self._ssl = ssl_context

    async def create(self, *, email: str = "", name: str = "") -> GuestLink:
        call_id, token = self._call_id(), self._token()
        if call_id is None:
            raise InvitationError("no_call", ja="通話中ではありません。", en="There is no call in progress.")
        if token is None:
            raise InvitationError("not_signed_in")
        context = self._ssl()
        body = {"email": email.strip(), "name": name.strip()}
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as http,
                http.post(
                    f"{self._base()}/api/calls/{call_id}/guest-links",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                    ssl=context if context is not None else True,
                ) as response,
            ):
                data = await response.json(content_type=None)
                if response.status == 201 and isinstance(data, dict):
                    return GuestLink.from_json(data)
                message = str(data.get("message") or "") if isinstance(data, dict) else ""
                code = str(data.get("error") or "") if isinstance(data, dict) else ""
                raise InvitationError(code or f"http_{response.status}", status=response.status, en=message)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            log.warning("guest link: POST failed: %s", type(exc).__name__)
            raise InvitationError("unreachable", ja=str(exc), en=str(exc)) from exc
