"""The invitation book alone, on a clock that moves only when told: windows, single use, the second factor's
tries and expiry, the business session's life."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from signaling_server.business.invitations import (
    InvitationBook,
    InvitationError,
    InvitationRequest,
    Redeemed,
    RedeemRefused,
    Refusal,
)
from signaling_server.store import CallRecord, Store

TZ = ZoneInfo("Asia/Tokyo")
START = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TZ).timestamp()


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


@pytest.fixture
def book(store: Store, clock: Clock) -> InvitationBook:
    return InvitationBook(store, clock=clock)


def create(book: InvitationBook, **fields: Any) -> tuple[Any, str]:
    request = InvitationRequest.model_validate(
        {"department": "kyuhaisui", "company": "盛岡管工", "contact_name": "佐藤", "email": "s@example.jp"}
        | fields
    )
    return book.create(
        request,
        created_by="hanako",
        timezone=TZ,
        link_ttl_s=3600,
        max_window_s=8 * 3600,
        second_factor_default=False,
    )


def test_the_window_defaults_to_now_plus_the_link_ttl_in_city_time(book: InvitationBook) -> None:
    invitation, secret = create(book)
    assert (invitation.valid_from, invitation.valid_until) == (START, START + 3600)
    assert invitation.valid_from_iso == "2026-11-25T10:00:00+09:00"
    assert len(secret) == 43 and invitation.identity == f"biz-{invitation.invitation_id}"
    naive, _ = create(book, valid_from="2026-11-25T13:00:00", valid_until="2026-11-25T15:00:00")
    assert naive.valid_until_iso == "2026-11-25T15:00:00+09:00"  # no offset: city time


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"valid_from": "2026-11-25T12:00:00+09:00", "valid_until": "2026-11-25T11:00:00+09:00"}, "after"),
        ({"valid_until": "2026-11-25T09:00:00+09:00", "valid_from": "2026-11-25T08:00:00+09:00"}, "past"),
        ({"valid_until": "2026-11-26T10:00:00+09:00"}, "at most 8 hours"),
    ],
)
def test_impossible_windows_are_refused(book: InvitationBook, fields: dict[str, str], problem: str) -> None:
    with pytest.raises(InvitationError, match=problem):
        create(book, **fields)


def test_a_link_works_inside_its_window_once(book: InvitationBook, clock: Clock) -> None:
    _, secret = create(book, valid_from="2026-11-25T11:00:00+09:00", valid_until="2026-11-25T12:00:00+09:00")
    early = book.redeem(secret, None)
    assert isinstance(early, RedeemRefused) and early.reason is Refusal.NOT_YET
    clock.now = START + 3600
    redeemed = book.redeem(secret, None)
    assert isinstance(redeemed, Redeemed)
    again = book.redeem(secret, None)
    assert isinstance(again, RedeemRefused) and again.reason is Refusal.USED
    assert book.session(redeemed.session_token) is not None
    clock.now = START + 7200  # the window's end ends the session
    assert book.session(redeemed.session_token) is None


def test_expired_forged_and_revoked(book: InvitationBook, clock: Clock) -> None:
    invitation, secret = create(book)
    assert book.redeem("x" * 43, None) == RedeemRefused(Refusal.INVALID)
    assert book.redeem("x" * 5000, None) == RedeemRefused(Refusal.INVALID)
    book.revoke(invitation.invitation_id, "hanako")
    refused = book.redeem(secret, None)
    assert isinstance(refused, RedeemRefused) and refused.reason is Refusal.REVOKED
    _, other = create(book)
    clock.now = START + 3600
    expired = book.redeem(other, None)
    assert isinstance(expired, RedeemRefused) and expired.reason is Refusal.EXPIRED


def test_revoking_ends_the_session(book: InvitationBook) -> None:
    invitation, secret = create(book)
    assert book.status(invitation) == "pending"
    redeemed = book.redeem(secret, None)
    assert isinstance(redeemed, Redeemed)
    assert book.status(book.get(invitation.invitation_id)) == "used"  # type: ignore[arg-type]
    book.revoke(invitation.invitation_id, "hanako")
    assert book.session(redeemed.session_token) is None
    assert book.status(book.get(invitation.invitation_id)) == "revoked"  # type: ignore[arg-type]


def test_five_wrong_codes_use_the_code_up(book: InvitationBook, clock: Clock) -> None:
    _, secret = create(book, second_factor=True)
    first = book.redeem(secret, None)
    assert isinstance(first, RedeemRefused) and first.reason is Refusal.CODE_REQUIRED and first.code
    code = first.code
    wrong = "000000" if code != "000000" else "111111"
    tries = [book.redeem(secret, wrong) for _ in range(5)]
    assert [(t.reason, t.tries_left) for t in tries if isinstance(t, RedeemRefused)] == [
        (Refusal.CODE_WRONG, n) for n in (4, 3, 2, 1, 0)
    ]
    used_up = book.redeem(secret, code)  # the right code no longer works: a new one is needed
    assert isinstance(used_up, RedeemRefused) and used_up.reason is Refusal.CODE_REQUIRED
    assert used_up.code is not None and isinstance(book.redeem(secret, used_up.code), Redeemed)


def test_a_code_expires_and_asking_again_soon_sends_no_second_one(book: InvitationBook, clock: Clock) -> None:
    _, secret = create(book, second_factor=True)
    first = book.redeem(secret, None, code_ttl_s=600)
    assert isinstance(first, RedeemRefused) and first.code
    reload = book.redeem(secret, None, code_ttl_s=600)  # a page reload a moment later
    assert isinstance(reload, RedeemRefused) and (reload.reason, reload.code) == (Refusal.CODE_REQUIRED, None)
    clock.now += 601
    late = book.redeem(secret, first.code, code_ttl_s=600)
    assert isinstance(late, RedeemRefused) and late.reason is Refusal.CODE_REQUIRED and late.code
    assert late.code is not None and isinstance(book.redeem(secret, late.code), Redeemed)


def test_a_completed_call_ends_the_session_and_the_status_follows_the_calls(
    book: InvitationBook, store: Store, clock: Clock
) -> None:
    invitation, secret = create(book)
    redeemed = book.redeem(secret, None)
    assert isinstance(redeemed, Redeemed)
    record = CallRecord(
        call_id="c1",
        kiosk_id=invitation.identity,
        department="kyuhaisui",
        procedure=None,
        language="ja",
        state="in_call",
        created_at=clock.now,
        business=invitation.info().model_dump_json(),
    )
    store.save_call(record)
    assert book.status(invitation) == "in_call" and book.session(redeemed.session_token) is not None
    record.state, record.end_reason = "ended", "setup_failed"
    store.save_call(record)
    assert book.status(book.get(invitation.invitation_id)) == "used"  # type: ignore[arg-type]  # may try again
    record.state, record.end_reason = "ended", "completed"
    store.save_call(record)
    assert book.status(invitation) == "done" and book.session(redeemed.session_token) is None
