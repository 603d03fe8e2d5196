"""The Authenticator's business sign-in (signaling_server.auth) on an in-memory store, the real invitation
book and a fake clock set before the real date (so a book on the wall clock would find every session past
its window): the session token an invitation link was exchanged for, accepted or refused with its message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from remote_call.protocol import DeviceTokenCredentials, PasswordCredentials, Role, SessionCredentials
from signaling_server.auth import Authenticator, AuthError, Principal
from signaling_server.business.invitations import (
    Invitation,
    InvitationBook,
    InvitationRequest,
    Redeemed,
)
from signaling_server.store import Store

TZ = ZoneInfo("Asia/Tokyo")
START = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TZ).timestamp()
WRONG_CREDENTIALS = "a business signs in with the session token its invitation link gave"
ENDED = "this business session has ended or is unknown; open the invitation link again"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store(":memory:")
    yield store
    store.close()


def signed_in(book: InvitationBook) -> tuple[Invitation, str]:
    """A new invitation (an hour from the clock's now) and the session token its link was exchanged for."""
    request = InvitationRequest.model_validate(
        {"department": "kyuhaisui", "company": "盛岡管工", "contact_name": "佐藤", "email": "s@example.jp"}
    )
    _, secret = book.create(
        request,
        created_by="hanako",
        timezone=TZ,
        link_ttl_s=3600,
        max_window_s=8 * 3600,
        second_factor_default=False,
    )
    redeemed = book.redeem(secret, None)
    assert isinstance(redeemed, Redeemed)
    return redeemed.invitation, redeemed.session_token


async def refused(auth: Authenticator, credentials: object) -> str:
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(Role.BUSINESS, credentials)  # type: ignore[arg-type]
    return str(caught.value)


async def test_a_business_signs_in_with_its_session_token(store: Store, clock: Clock) -> None:
    auth = Authenticator(store, session_ttl_s=3600, clock=clock)  # its own book, on the same clock
    invitation, token = signed_in(auth.invitations)
    expected = Principal(
        Role.BUSINESS, invitation.identity, "盛岡管工", {}, token, business=invitation.info()
    )
    assert invitation.identity.startswith("biz-") and invitation.info().company == "盛岡管工"
    assert await auth.authenticate(Role.BUSINESS, SessionCredentials(token=token)) == expected
    assert auth.business_principal(token) == expected
    assert auth.session_valid(token)
    clock.now = invitation.valid_until - 1
    assert auth.business_principal(token) == expected and auth.session_valid(token)
    clock.now = invitation.valid_until  # the window is over: so is the session
    assert auth.business_principal(token) is None and not auth.session_valid(token)
    assert await refused(auth, SessionCredentials(token=token)) == ENDED


async def test_the_book_given_is_the_one_asked(store: Store, clock: Clock) -> None:
    elsewhere = Store(":memory:")
    try:
        book = InvitationBook(elsewhere, clock=clock)
        auth = Authenticator(store, session_ttl_s=3600, clock=clock, invitations=book)
        assert auth.invitations is book
        invitation, token = signed_in(book)
        principal = await auth.authenticate(Role.BUSINESS, SessionCredentials(token=token))
        assert principal.identity == invitation.identity and principal.business == invitation.info()
    finally:
        elsewhere.close()


async def test_a_business_is_refused_anything_but_a_live_session_token(store: Store, clock: Clock) -> None:
    auth = Authenticator(store, session_ttl_s=3600, clock=clock)
    invitation, token = signed_in(auth.invitations)
    password = PasswordCredentials(username=invitation.identity, password=token)
    device = DeviceTokenCredentials(kiosk_id=invitation.identity, token=token)
    for credentials in (password, device):
        assert await refused(auth, credentials) == WRONG_CREDENTIALS
    assert await refused(auth, SessionCredentials(token="x" * 43)) == ENDED
    assert auth.business_principal("x" * 43) is None and not auth.session_valid("x" * 43)
    auth.invitations.revoke(invitation.invitation_id, "hanako")
    assert await refused(auth, SessionCredentials(token=token)) == ENDED
    assert not auth.session_valid(token)
