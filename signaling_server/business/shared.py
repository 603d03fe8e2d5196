"""What the business routes share: their app keys, the JSON body reader, the link origin, the audit."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from signaling_server.appkeys import CONFIG, SWITCHBOARD
from signaling_server.audit import DetailValue
from signaling_server.business.invitations import InvitationBook
from signaling_server.business.mailer import Mailer
from signaling_server.ratelimit import LoginThrottle

log = logging.getLogger(__name__)

INVITATIONS = web.AppKey("business_invitations", InvitationBook)
MAILER = web.AppKey("business_mailer", Mailer)
# Its own throttle, not the websocket sign-in's: failed links from an office's NAT must not lock out the
# staff who sign in from the same address (the LGWAN instance has both).
LINK_THROTTLE = web.AppKey("business_link_throttle", LoginThrottle)
MAX_BODY_BYTES = 16 * 1024  # an invitation or a redeem is a few hundred bytes


async def read_json(request: web.Request) -> dict[str, Any] | None:
    """The body as a JSON object, or None (not JSON, not an object, too large)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return None
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return None
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def origin_of(request: web.Request) -> str:
    """Where links and the websocket point: ``business.public_url``, else the origin this request came to."""
    return request.app[CONFIG].business.public_url or f"{request.scheme}://{request.host}"


def audit(
    request: web.Request, actor: str, action: str, target: str, details: dict[str, DetailValue]
) -> None:
    try:
        request.app[SWITCHBOARD].audit.append(actor, action, target, details)
    except Exception:  # logged; an audit failure must not turn a good answer into a 500
        log.exception("could not write the audit entry %s for %s", action, target)
