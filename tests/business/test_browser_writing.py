"""The written conversation (筆談) in the business's browser (signaling_server/web/business/writing.js), in
real headless Chromium against an embedded server and a headless officer console: the officer's real-time
text appears large as it is typed and becomes a chat line when sent, the officer's handwriting is drawn on
the page's pad as it arrives, and the business types and draws back (the console sees the draft before it
is sent, the line, the stroke, the wiped pad), in Japanese and in English, with no error in the page."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from devtools.headless import start_console

from .test_browser_flow import (
    MS,
    TIMEOUT,
    ConsoleWatch,
    chromium,
    invite,
    loopback_media,
    open_link,
    through_device_check,
    until,
)
from .test_browser_shots import shoot


async def _answered(page: Any, server: Any, console: Any) -> None:
    await open_link(page, server, invite(server))
    await through_device_check(page)
    if console.offer is None:
        ring = asyncio.ensure_future(console.events.wait("ring", TIMEOUT))
        if console.officer_state != "available":
            await console.set_available()
        await ring
    started = asyncio.ensure_future(console.events.wait("call_started", TIMEOUT))
    await console.accept()
    await started
    await page.wait_for_selector("body[data-screen='call']", timeout=MS)
    await until(page, "globalThis.madoguchi.linkRttMs() !== null")  # the control channel is open


async def _console_until(console: Any, holds: Any) -> None:
    """Wait for the console's desk to reach a state, woken by each of its "writing" and "chat" events."""
    while not holds():
        waits = [asyncio.ensure_future(console.events.wait(name, TIMEOUT)) for name in ("writing", "chat")]
        done, pending = await asyncio.wait(waits, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        for future in pending:
            future.cancel()
        assert done, "the console heard nothing more"


def _snapshot(page: Any) -> str:
    return "globalThis.madoguchi.writing()"


def _officer_line_is(text: str) -> str:
    return f"document.getElementById('writing-officer').textContent === '{text}'"


async def _officer_writes(page: Any, console: Any) -> None:
    assert not await page.is_visible("#writing")  # closed until someone writes
    console.desk.writing.type("本日は")
    await page.wait_for_selector("#writing:not([hidden])", timeout=MS)  # opened by the officer's text
    await until(page, _officer_line_is("本日は"))
    console.desk.writing.type("本日はどのようなご用件ですか")
    await until(page, _officer_line_is("本日はどのようなご用件ですか"))
    size = await page.evaluate("getComputedStyle(document.getElementById('writing-officer')).fontSize")
    assert float(size.removesuffix("px")) >= 28  # large: read at a glance
    assert console.desk.write_line() is not None
    line = page.locator(".chat-line.officer .text")
    await line.wait_for(timeout=MS)
    assert await line.text_content() == "本日はどのようなご用件ですか"
    await until(page, f"{_snapshot(page)}.officerDraft === ''")  # the live line is empty again
    assert await page.text_content("#writing-officer") == "担当者が文字を入力すると、ここに表示されます。"


async def _officer_draws(page: Any, console: Any) -> None:
    writing = console.desk.writing
    writing.pen_down(0.1, 0.5)
    for step in range(1, 9):
        writing.pen_move(0.1 + step * 0.1, 0.5)
    writing.pen_up()
    await until(
        page,
        f"{_snapshot(page)}.strokes.some((s) => s.author === 'officer' && s.done && s.points >= 2)",
    )
    # Really drawn on the canvas, in the officer's blue, along the stroke.
    pixel = await page.evaluate(
        """() => {
            const pad = document.getElementById('writing-pad');
            const data = pad.getContext('2d').getImageData(pad.width * 0.5, pad.height * 0.5, 1, 1).data;
            return Array.from(data);
        }"""
    )
    red, _green, blue, alpha = pixel
    assert alpha > 200 and blue > 150 and red < 100, pixel


async def _business_types(page: Any, console: Any) -> None:
    notes = console.desk.writing.notes
    await page.click("#writing-input")
    await page.keyboard.type("建築確認の相談です", delay=20)
    # The officer sees the draft before it is sent (real-time text), the whole of it in the end.
    await _console_until(console, lambda: notes.peer_draft == "建築確認の相談です")
    heard = asyncio.ensure_future(console.events.wait("chat", TIMEOUT, sender="resident"))
    await page.click("#writing-send")
    assert (await heard)["text"] == "建築確認の相談です"
    assert notes.peer_draft == ""
    mine = page.locator(".chat-line.me .text")
    await mine.wait_for(timeout=MS)
    assert await mine.text_content() == "建築確認の相談です"
    assert await page.input_value("#writing-input") == ""


async def _business_draws_and_clears(page: Any, console: Any) -> None:
    strokes = console.desk.writing.notes.page.strokes
    await page.locator("#writing-pad").scroll_into_view_if_needed()  # the chat's new lines scrolled it away
    box = await page.locator("#writing-pad").bounding_box()
    assert box is not None and abs(box["width"] / box["height"] - 2.0) < 0.05  # the shared 2 : 1 pad
    await page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3)
    await page.mouse.down()
    for step in range(1, 11):
        await page.mouse.move(box["x"] + box["width"] * (0.2 + step * 0.05), box["y"] + box["height"] * 0.6)
    await page.mouse.up()
    await _console_until(
        console,
        lambda: any(s.author == "resident" and s.done and len(s.points) >= 5 for s in strokes.values()),
    )
    stroke = next(s for s in strokes.values() if s.author == "resident")
    x, y = stroke.points[0]
    assert abs(x - 0.2) < 0.02 and abs(y - 0.3) < 0.02  # normalised to the pad, top left 0, 0
    cleared = asyncio.ensure_future(console.events.wait("writing", TIMEOUT, kind="clear"))
    await page.click("#writing-clear")
    await cleared
    assert strokes == {}
    await until(page, f"{_snapshot(page)}.strokes.length === 0")
    # The officer wipes the pad too: the page's strokes go.
    console.desk.writing.pen_down(0.5, 0.5)
    console.desk.writing.pen_up()
    await until(page, f"{_snapshot(page)}.strokes.length === 1")
    console.desk.writing.clear()
    await until(page, f"{_snapshot(page)}.strokes.length === 0")


# Ten moves the page received as one pointermove, the other nine coalesced into it (what a busy page gets:
# one event a frame). Dispatched by the test, since Chromium coalesces real moves only when it is loaded.
ONE_FRAME_OF_MOVES = """() => {
  const pad = document.getElementById("writing-pad");
  const box = pad.getBoundingClientRect();
  const at = (i) => ({clientX: box.left + box.width * (0.1 + 0.08 * i), clientY: box.top + box.height * 0.8,
                      pointerId: 1, pointerType: "mouse", bubbles: true});
  const moves = [...Array(10).keys()].map((i) => new PointerEvent("pointermove", at(i + 1)));
  pad.dispatchEvent(new PointerEvent("pointermove", {...at(10), coalescedEvents: moves}));
}"""


async def _business_draws_in_one_frame(page: Any, console: Any) -> None:
    strokes = console.desk.writing.notes.page.strokes
    box = await page.locator("#writing-pad").bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.8)
    await page.mouse.down()
    await page.evaluate(ONE_FRAME_OF_MOVES)
    await page.mouse.up()
    await _console_until(console, lambda: any(s.author == "resident" and s.done for s in strokes.values()))
    (stroke,) = strokes.values()
    assert [round(x, 2) for x, _y in stroke.points] == [round(0.1 + 0.08 * i, 2) for i in range(11)]
    cleared = asyncio.ensure_future(console.events.wait("writing", TIMEOUT, kind="clear"))
    await page.click("#writing-clear")
    await cleared


async def _in_english(page: Any) -> None:
    await page.click(".lang-btn[data-lang='en']")
    assert await page.text_content("#writing-title") == "Talk in writing"
    assert await page.text_content("#btn-writing") == "Close writing"
    assert await page.text_content("#writing-officer") == "The officer's text appears here as it is typed."
    assert await page.get_attribute("#writing-input", "placeholder") == "Type here"
    assert (
        await page.get_attribute("#writing-pad", "aria-label")
        == "Handwriting pad (the officer's strokes in blue)"
    )
    await page.click(".lang-btn[data-lang='ja']")
    assert await page.text_content("#writing-send") == "送る"


@pytest.mark.slow
async def test_written_conversation_both_ways_in_chromium(make_server, tmp_path):
    with loopback_media():
        async with make_server() as server, chromium() as browser:
            console = await start_console(server)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 800})
                watch = ConsoleWatch(page)
                await _answered(page, server, console)
                await _officer_writes(page, console)
                await _officer_draws(page, console)
                await _business_types(page, console)
                await _business_draws_and_clears(page, console)
                await _business_draws_in_one_frame(page, console)
                console.desk.writing.type("書類をお持ちですか")
                await until(page, _officer_line_is("書類をお持ちですか"))
                await page.screenshot(path=str(tmp_path / "call-writing-ja.png"))  # looked at in review
                # Desktop and both tablet layouts, both languages: nothing too wide, every button a touch
                # target, no catalog key left untranslated (the shots go to $BUSINESS_SHOTS).
                assert await shoot(page, "call-writing") == []
                await page.set_viewport_size({"width": 1280, "height": 800})
                console.desk.write_line()
                await until(page, f"{_snapshot(page)}.officerDraft === ''")
                await _in_english(page)
                assert watch.errors == [], "\n".join(watch.log)
            finally:
                await console.stop()


@pytest.mark.slow
async def test_the_button_opens_and_closes_the_panel_and_the_call_end_forgets_it(make_server):
    with loopback_media():
        async with make_server() as server, chromium() as browser:
            console = await start_console(server)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 800})
                watch = ConsoleWatch(page)
                await _answered(page, server, console)
                await page.click("#btn-writing")
                assert await page.is_visible("#writing")
                assert await page.get_attribute("#btn-writing", "aria-pressed") == "true"
                console.desk.writing.type("お待ちください")
                await until(page, f"{_snapshot(page)}.officerDraft === 'お待ちください'")
                await page.fill("#writing-input", "はい")
                await page.click("#btn-writing")
                assert not await page.is_visible("#writing")
                await console.end_call("resolved", "")
                await page.wait_for_selector("body[data-screen='thanks']", timeout=MS)
                state = await page.evaluate(_snapshot(page))
                assert state == {"open": False, "officerDraft": "", "strokes": []}
                assert await page.input_value("#writing-input") == ""  # nothing of the call stays
                assert watch.errors == [], "\n".join(watch.log)
            finally:
                await console.stop()
