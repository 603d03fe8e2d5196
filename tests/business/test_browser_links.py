"""The pages a business sees when it cannot get in: bad links (forged, expired, not yet valid, used,
revoked, wrong code, throttled, none at all) in Japanese and English, a browser without camera permission,
and a browser that lacks WebRTC. Real headless Chromium against an embedded server."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from signaling_server.business.invitations import InvitationBook

from .test_browser_flow import (
    ARGS,
    MS,
    NEEDS_CHROMIUM,
    chromium,
    city_time,
    create_invitation,
    invite,
    open_link,
    through_device_check,
)

pytest.importorskip("playwright.async_api")

TITLES = {
    "invalid": ("このリンクは使用できません", "This link cannot be used"),
    "expired": ("このリンクの有効期限が切れています", "This link has expired"),
    "not_yet": ("まだご利用いただけません", "Not open yet"),
    "used": ("このリンクはすでに使用されています", "This link has already been used"),
    "revoked": ("このご案内は取り消されました", "This invitation was withdrawn"),
    "throttled": ("しばらくしてからお試しください", "Please try again later"),
    "missing": ("リンクが見つかりません", "No link found"),
}

pytestmark = NEEDS_CHROMIUM


async def shows_refusal(page: Any, reason: str) -> None:
    """The page names ``reason`` in Japanese, then in English after the language toggle."""
    await page.wait_for_selector(f"body[data-screen='link_error'][data-reason='{reason}']", timeout=MS)
    ja, en = TITLES[reason]
    assert await page.text_content("#link-error-title") == ja
    assert await page.get_attribute("html", "lang") == "ja"
    await page.click(".lang-btn[data-lang='en']")
    assert await page.text_content("#link-error-title") == en
    assert await page.get_attribute("html", "lang") == "en"
    await page.click(".lang-btn[data-lang='ja']")
    assert await page.text_content("#link-error-title") == ja


async def test_bad_links_get_a_clear_page_in_japanese_and_english(make_server):
    async with make_server() as server, chromium() as browser:
        secrets = {
            "invalid": "forged-" + "x" * 36,
            "expired": invite(
                server,
                clock=lambda: time.time() - 3 * 3600,
                valid_from=city_time(-3 * 3600).isoformat(),
                valid_until=city_time(-2 * 3600).isoformat(),
            ),
            "not_yet": invite(server, valid_from=city_time(3600).isoformat()),
        }
        revoked, secrets["revoked"] = create_invitation(server)
        assert InvitationBook(server.store).revoke(revoked.invitation_id, "hanako") is not None
        for reason, secret in secrets.items():
            page = await browser.new_page()
            await open_link(page, server, secret)
            await shows_refusal(page, reason)
            assert "#" not in page.url  # even a bad secret leaves the address bar
            if reason == "not_yet":
                assert "ご利用開始" in (await page.text_content("#link-error-hint") or "")
            await page.close()


async def test_a_link_works_once_and_a_reload_keeps_the_session(make_server):
    async with make_server() as server, chromium() as browser:
        secret = invite(server)
        first = await browser.new_page()
        await open_link(first, server, secret)
        await first.wait_for_selector("body[data-screen='devices']", timeout=MS)
        # The same tab reloads: the session token in sessionStorage signs in again, no link needed.
        await first.reload()
        await first.wait_for_selector("body[data-screen='devices']", timeout=MS)
        stored = json.loads(await first.evaluate("sessionStorage.getItem('madoguchi.business')"))
        assert stored["token"] and secret not in json.dumps(stored)
        # Another browser (a forwarded e-mail) opening the same link gets "used".
        other = await browser.new_context()
        second = await other.new_page()
        await open_link(second, server, secret)
        await shows_refusal(second, "used")
        await other.close()


async def test_second_factor_code_form_and_throttling(make_server):
    async with make_server() as server, chromium() as browser:
        page = await browser.new_page()
        await open_link(page, server, invite(server, second_factor=True))
        await page.wait_for_selector("body[data-screen='code']", timeout=MS)
        assert await page.text_content("#code-title") == "確認コードを入力してください"
        await page.fill("#code-input", "12")
        await page.click("#code-submit")
        assert await page.text_content("#code-error") == "6 桁の数字を入力してください。"
        await page.fill("#code-input", "000000")
        await page.click("#code-submit")
        await page.wait_for_selector("body[data-screen='code'] #code-error:not([hidden])", timeout=MS)
        assert "もう一度" in (await page.text_content("#code-error") or "")

        # Throttled by the server (simulated answer: the throttle needs many real failures).
        async def throttled(route: Any) -> None:
            body = {"error": "throttled", "message_ja": "", "message_en": "", "retry_after_s": 300}
            await route.fulfill(status=429, content_type="application/json", body=json.dumps(body))

        await page.route("**/api/business/redeem", throttled)
        await page.fill("#code-input", "123456")
        await page.click("#code-submit")
        await shows_refusal(page, "throttled")
        assert await page.text_content("#link-error-hint") == "約 5 分後にもう一度お試しください。"


async def test_opening_the_page_without_a_link(make_server):
    async with make_server() as server, chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{server.http_url}/b/")
        await shows_refusal(page, "missing")


async def test_a_browser_without_camera_permission_is_told_how_to_allow_it(make_server):
    denying = [a for a in ARGS if a != "--use-fake-ui-for-media-stream"]
    async with make_server() as server, chromium(denying) as browser:
        cdp = await browser.new_browser_cdp_session()
        for name in ("camera", "microphone"):
            await cdp.send(
                "Browser.setPermission",
                {"permission": {"name": name}, "setting": "denied", "origin": server.http_url},
            )
        page = await browser.new_page()
        await open_link(page, server, invite(server))
        await page.wait_for_selector("body[data-screen='devices']", timeout=MS)
        await page.click("#dev-start")
        await page.wait_for_selector("body[data-devices='denied']", timeout=MS)
        error = await page.text_content("#dev-error") or ""
        assert "許可されていません" in error and "鍵のアイコン" in error
        assert await page.is_disabled("#dev-join")
        assert await page.is_visible("#dev-join-without")
        await page.click(".lang-btn[data-lang='en']")
        assert "not allowed to use the camera" in (await page.text_content("#dev-error") or "")


async def test_a_browser_without_webrtc_names_what_is_missing(make_server):
    async with make_server() as server, chromium() as browser:
        page = await browser.new_page()
        await page.add_init_script("delete window.RTCPeerConnection;")
        await open_link(page, server, invite(server))
        await page.wait_for_selector("body[data-screen='unsupported']", timeout=MS)
        items = await page.locator("#unsupported-list li").all_text_contents()
        assert items == ["ビデオ通話 (RTCPeerConnection)"]
        await page.click(".lang-btn[data-lang='en']")
        assert await page.locator("#unsupported-list li").all_text_contents() == [
            "video calls (RTCPeerConnection)"
        ]


async def test_the_queue_place_updates_and_leaving_ends_with_a_cancelled_page(make_server):
    """Nobody answers (no officer signed in): two businesses wait with their places; the first leaves and
    the second moves up."""
    async with make_server() as server, chromium() as browser:
        first, second = await browser.new_page(), await (await browser.new_context()).new_page()
        for page in (first, second):
            await open_link(page, server, invite(server))
            await through_device_check(page)
        await first.wait_for_selector("#wait-position:has-text('1 番目')", timeout=MS)
        await second.wait_for_selector("#wait-position:has-text('2 番目（前に 1 件）')", timeout=MS)
        await first.click("#wait-cancel")
        await first.wait_for_selector("body[data-screen='thanks'][data-ended='cancelled']", timeout=MS)
        assert await first.text_content("#thanks-title") == "受付を取り消しました"
        await second.wait_for_selector("#wait-position:has-text('1 番目')", timeout=MS)
        await second.click(".lang-btn[data-lang='en']")
        assert await second.text_content("#wait-position") == "You are first in line"


async def test_a_refused_call_is_explained_in_the_waiting_room(make_server):
    """An invitation for a division without a remote counter: the server refuses the call and the page
    says why (in both languages) instead of waiting for ever."""
    async with make_server() as server, chromium() as browser:
        page = await browser.new_page()
        await open_link(page, server, invite(server, department="shiminzei"))
        await through_device_check(page)
        await page.wait_for_selector("body[data-refused='unknown_department']", timeout=MS)
        refusal = await page.text_content("#wait-refused")
        assert refusal == "担当課が見つかりません。担当課にお問い合わせください。"
        assert not await page.is_visible("#wait-retry")  # trying again would not help
        await page.click(".lang-btn[data-lang='en']")
        assert await page.text_content("#wait-refused") == (
            "The division was not found. Please contact the division."
        )


async def test_the_code_from_the_e_mail_opens_the_link(make_business_server, smtp):
    """The second factor for real: the code goes out through the local SMTP server and, typed into the
    page, signs the business in."""
    inbox, _port = smtp
    async with make_business_server() as server, chromium() as browser:
        page = await browser.new_page()
        await open_link(page, server, invite(server, second_factor=True))
        await page.wait_for_selector("body[data-screen='code']", timeout=MS)
        mail = await inbox.next(timeout=MS / 1000)
        found = re.search(r"確認コード: (\d{6})", mail.get_content())
        assert found is not None
        await page.fill("#code-input", found.group(1))
        await page.click("#code-submit")
        await page.wait_for_selector("body[data-screen='devices']", timeout=MS)
        assert await page.text_content("#dev-company") == "盛岡設計事務所"
