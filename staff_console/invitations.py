"""Business invitations (業者向けリモート窓口) over the server's REST API; Qt-free.

An officer invites a business for one of the departments they serve (a supervisor for one they supervise):
``POST /api/invitations`` answers 201 with the link to hand over (``{invitation_id, link, valid_until,
emailed}``), ``GET /api/invitations`` lists today's, ``DELETE /api/invitations/{id}`` revokes one. Every
request carries the console's session token (``Authorization: Bearer``). The server's refusals are JSON
``{"error", "message_ja", "message_en"}`` (docs/business.md); they become one ``InvitationError`` here, the
one place that translates HTTP and network errors for the view.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

TIMEOUT_S = 15.0


class InvitationError(Exception):
    """The server refused, or could not be reached; ``message(language)`` is for the officer."""

    def __init__(self, code: str, *, status: int | None = None, ja: str = "", en: str = ""):
        super().__init__(f"{code} ({status})" if status else code)
        self.code = code
        self.status = status
        self.ja = ja
        self.en = en

    def message(self, language: str) -> str:
        return (self.ja if language == "ja" else self.en) or self.en or self.ja or str(self)


@dataclass(frozen=True)
class InvitationRequest:
    """What the officer fills in; ``body()`` is the JSON of ``POST /api/invitations``."""

    department: str
    company: str
    contact_name: str
    email: str
    purpose: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    second_factor: bool = False
    mobile: bool = False
    appointment_id: str | None = None

    def problems(self) -> list[str]:
        """Field names that are missing or wrong (the view marks them); empty when the request may go."""
        wrong = [
            name for name in ("department", "company", "contact_name") if not getattr(self, name).strip()
        ]
        local, _, domain = self.email.strip().partition("@")
        if not local or "." not in domain or " " in self.email.strip():
            wrong.append("email")
        if self.valid_until <= self.valid_from:
            wrong.append("valid_until")
        return wrong

    def body(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "company": self.company.strip(),
            "contact_name": self.contact_name.strip(),
            "email": self.email.strip(),
            "purpose": self.purpose.strip(),
            "valid_from": _iso(self.valid_from),
            "valid_until": _iso(self.valid_until),
            "second_factor": self.second_factor,
            "appointment_id": self.appointment_id or None,
            "mobile": self.mobile,
        }


@dataclass(frozen=True)
class Invitation:
    """One invitation as the server lists it (fields the server does not send keep their defaults)."""

    invitation_id: str
    department: str = ""
    company: str = ""
    contact_name: str = ""
    email: str = ""
    purpose: str = ""
    valid_from: str = ""
    valid_until: str = ""
    status: str = "open"  # open, used, expired, revoked, ... as the server names it
    mobile: bool = False
    second_factor: bool = False
    link: str = ""  # only in the answer to the creation (the secret is never listed)
    emailed: bool | None = None  # only in the answer to the creation
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Invitation:
        known = {name for name in cls.__dataclass_fields__ if name != "extra"}
        fields = {k: v for k, v in data.items() if k in known and v is not None}
        for moment in ("valid_from", "valid_until"):  # the server may send epoch seconds and ISO beside
            if data.get(f"{moment}_iso"):
                fields[moment] = str(data[f"{moment}_iso"])
            elif moment in fields:
                fields[moment] = str(fields[moment])
        return cls(**fields, extra={k: v for k, v in data.items() if k not in known})


def _ended_before(valid_until: str, moment: dt.datetime) -> bool:
    try:
        until = dt.datetime.fromisoformat(valid_until)
    except ValueError:
        return False  # unreadable: listed rather than hidden
    if until.tzinfo is None:
        until = until.astimezone()
    return until < moment


def _iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the console's local zone (JST at the city)
    return moment.isoformat(timespec="seconds")


class InvitationClient:
    """The three REST calls. ``base`` is the server's http(s) origin, ``token`` gives the session token."""

    def __init__(
        self,
        base: Callable[[], str],
        token: Callable[[], str | None],
        ssl_context: Callable[[], ssl.SSLContext | None] = lambda: None,
    ):
        self._base = base
        self._token = token
        self._ssl = ssl_context

    async def create(self, request: InvitationRequest) -> Invitation:
        wrong = request.problems()
        if wrong:
            raise InvitationError("invalid_fields", ja=", ".join(wrong), en=", ".join(wrong))
        data = await self._request("POST", "/api/invitations", json=request.body(), expect=(200, 201))
        return Invitation.from_json(data)

    async def list_today(self, now: dt.datetime | None = None) -> list[Invitation]:
        """The invitations of the officer's departments whose window has not ended before today (today's
        and upcoming ones), newest first as the server lists them."""
        data = await self._request("GET", "/api/invitations", expect=(200,))
        rows = data.get("invitations", []) if isinstance(data, dict) else data
        invitations = [
            Invitation.from_json(r) for r in rows if isinstance(r, dict) and r.get("invitation_id")
        ]
        midnight = (now or dt.datetime.now().astimezone()).replace(hour=0, minute=0, second=0, microsecond=0)
        return [i for i in invitations if not _ended_before(i.valid_until, midnight)]

    async def revoke(self, invitation_id: str) -> None:
        await self._request("DELETE", f"/api/invitations/{invitation_id}", expect=(200, 204))

    async def _request(self, method: str, path: str, *, expect: tuple[int, ...], json: Any = None) -> Any:
        token = self._token()
        if token is None:
            raise InvitationError("not_signed_in")
        headers = {"Authorization": f"Bearer {token}"}
        context = self._ssl()
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as http,
                http.request(
                    method,
                    self._base() + path,
                    json=json,
                    headers=headers,
                    ssl=context if context is not None else True,
                ) as response,
            ):
                if response.status in expect:
                    return await response.json() if response.status != 204 else {}
                raise await _refusal(response)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("invitations: %s %s failed: %s", method, path, type(exc).__name__)
            raise InvitationError("unreachable", ja=str(exc), en=str(exc)) from exc


async def _refusal(response: aiohttp.ClientResponse) -> InvitationError:
    try:
        data = await response.json(content_type=None)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return InvitationError(f"http_{response.status}", status=response.status)
    code = str(data.get("error") or f"http_{response.status}")
    detail = str(data.get("detail") or data.get("message") or "")
    return InvitationError(
        code,
        status=response.status,
        ja=str(data.get("message_ja") or detail),
        en=str(data.get("message_en") or detail),
    )
