"""The business counter's HTTP surface (docs/business.md): invitations for staff, redeem for the browser.

- ``POST /api/invitations``, ``GET /api/invitations``, ``DELETE /api/invitations/{id}``: officers and
  supervisors, for the departments in their skills (Bearer session; writes same-origin only).
- ``POST /api/business/redeem``: public and same-origin; throttled per address; every refusal audited
  (never the secret) and answered ``{"error": reason, "message_ja", "message_en", ...}``.
- ``/b/``: the browser client's files (``pages``).

Errors the staff routes answer themselves are ``{"error": code, "message": text}``.
"""

from __future__ import annotations

import contextlib
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError

from remote_call.protocol import Role
from signaling_server import policy
from signaling_server.access import PRINCIPAL, Refusal, Scope, add_routes, json_error, requires
from signaling_server.appkeys import AUTHENTICATOR, CONFIG, SWITCHBOARD
from signaling_server.auth import Principal
from signaling_server.business.invitations import (
    Invitation,
    InvitationBook,
    InvitationError,
    InvitationRequest,
)
from signaling_server.business.mailer import Mailer, invitation_mail
from signaling_server.business.pages import setup_pages
from signaling_server.business.redeem import routes as redeem_routes
from signaling_server.business.shared import (
    INVITATIONS,
    LINK_THROTTLE,
    MAILER,
    audit,
    origin_of,
    read_json,
)
from signaling_server.cluster.commands import NoLeader, on_leader
from signaling_server.ratelimit import LoginThrottle

INVITERS = frozenset({Role.OFFICER, Role.SUPERVISOR})
_STAFF_REFUSAL = Refusal(json_error, "sign in first", "officers and supervisors only")

routes = web.RouteTableDef()


def setup_business(app: web.Application) -> None:
    """Invitations, redeem and the browser client's pages; nothing when ``business.enabled`` is false."""
    config = app[CONFIG]
    if not config.business.enabled:
        return
    app[INVITATIONS] = app[AUTHENTICATOR].invitations
    app[MAILER] = Mailer(config.smtp)
    app[LINK_THROTTLE] = LoginThrottle()
    add_routes(app, routes)
    add_routes(app, redeem_routes)
    setup_pages(app)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def invitation_json(book: InvitationBook, invitation: Invitation) -> dict[str, Any]:
    calls = book.calls_of(invitation)
    return {
        "invitation_id": invitation.invitation_id,
        "department": invitation.department,
        "company": invitation.company,
        "contact_name": invitation.contact_name,
        "email": invitation.email,
        "purpose": invitation.purpose,
        "appointment_id": invitation.appointment_id,
        "valid_from": invitation.valid_from_iso,
        "valid_until": invitation.valid_until_iso,
        "second_factor": invitation.second_factor,
        "mobile": invitation.mobile,
        "created_by": invitation.created_by,
        "created_at": invitation.created_at,
        "emailed": invitation.emailed,
        "email_error": invitation.email_error,
        "redeemed_at": invitation.redeemed_at,
        "revoked_at": invitation.revoked_at,
        "status": book.status(invitation),
        "call_ids": [c.call_id for c in calls],
    }


# ------------------------------------------------------------------ staff


@routes.post("/api/invitations")
@requires(roles=INVITERS, refusal=_STAFF_REFUSAL, same_origin=True, scope=Scope.DEPARTMENTS)
async def create_invitation(request: web.Request) -> web.Response:
    staff = request[PRINCIPAL]
    config = request.app[CONFIG]
    body = await read_json(request)
    if body is None:
        return _error(400, "invalid_request", "the body must be a JSON object")
    try:
        wanted = InvitationRequest.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        return _error(400, "invalid_request", problems[:1000])
    departments = request.app[SWITCHBOARD].directory.departments
    if wanted.department not in departments:
        return _error(400, "unknown_department", f"no remote counter {wanted.department!r}")
    if wanted.department not in policy.departments_of(staff):
        return _error(403, "forbidden", f"you do not serve {wanted.department!r}")
    business = config.business
    book = request.app[INVITATIONS]
    try:
        invitation, secret = book.create(
            wanted,
            created_by=staff.identity,
            timezone=ZoneInfo(config.city.timezone),
            link_ttl_s=business.link_ttl_h * 3600,
            max_window_s=business.max_window_h * 3600,
            second_factor_default=business.second_factor,
        )
    except InvitationError as exc:
        return _error(400, "invalid_request", str(exc))
    link = f"{origin_of(request)}/b/#{secret}"
    audit(
        request,
        staff.identity,
        "business_invitation_created",
        invitation.invitation_id,
        {
            "department": invitation.department,
            "appointment_id": invitation.appointment_id,
            "second_factor": invitation.second_factor,
            "mobile": invitation.mobile,
            "valid_until": invitation.valid_until_iso,
        },
    )
    department = departments[invitation.department]
    mail = invitation_mail(invitation, link, config.city, (department.name_ja, department.name_en))
    problem = await request.app[MAILER].send(mail)
    book.mail_result(invitation.invitation_id, problem)
    if problem is not None:
        audit(request, staff.identity, "business_mail_failed", invitation.invitation_id, {"kind": "link"})
    answer = invitation_json(book, book.get(invitation.invitation_id) or invitation)
    answer["link"] = link  # only here, once: the server keeps no way to show it again
    return web.json_response(answer, status=201)


@routes.get("/api/invitations")
@requires(roles=INVITERS, refusal=_STAFF_REFUSAL, scope=Scope.DEPARTMENTS)
async def list_invitations(request: web.Request) -> web.Response:
    """The invitations of the caller's departments, newest first (``?department=`` narrows them)."""
    staff = request[PRINCIPAL]
    departments = set(policy.departments_of(staff))
    wanted = request.query.get("department")
    if wanted:
        departments &= {wanted}
    book = request.app[INVITATIONS]
    return web.json_response([invitation_json(book, i) for i in book.for_departments(departments)])


@routes.delete("/api/invitations/{invitation_id}")
@requires(roles=INVITERS, refusal=_STAFF_REFUSAL, same_origin=True, scope=Scope.DEPARTMENTS)
async def revoke_invitation(request: web.Request) -> web.Response:
    """Revoke: the link and the session stop working, and a live business session ends now."""
    staff: Principal = request[PRINCIPAL]
    book = request.app[INVITATIONS]
    invitation = book.get(request.match_info["invitation_id"])
    if invitation is None or invitation.department not in policy.departments_of(staff):
        return _error(404, "not_found", "no such invitation of your departments")
    was_revoked = invitation.revoked_at is not None
    invitation = book.revoke(invitation.invitation_id, staff.identity) or invitation
    if not was_revoked:
        args = {"identity": invitation.identity, "detail": "the invitation was revoked"}
        # No leader right now: every connection reconnects at the term change, and a revoked invitation
        # signs nobody in again.
        with contextlib.suppress(NoLeader):
            await on_leader(request.app, "end_business", args)  # a follower asks the leader (cluster/)
        audit(request, staff.identity, "business_invitation_revoked", invitation.invitation_id, {})
    return web.json_response(invitation_json(book, invitation))
