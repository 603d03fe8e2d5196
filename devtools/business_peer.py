"""A headless business (業者) that behaves like the browser client, with aiortc: for console tests and shots.

Like ``signaling_server/web/business`` it is the **offerer**: it creates the ``control`` and ``documents``
channels and three transceivers in this order — audio, camera video (sendrecv) and screen video (sendonly,
no track until it shares; ``replaceTrack`` then, no renegotiation) — answers the console's link pings,
sends ``screen_share`` {active}, chats, and uploads files on the documents channel with purpose
``upload`` (the framing of ``remote_call.documents``).

It signs in as the browser does: ``redeem(link)`` posts the link's secret to ``/api/business/redeem`` and
``BusinessPeer.with_session`` says hello with the business session token it got; ``invite`` creates the
invitation first through the console's own REST client (``ConsoleController.invitations``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import logging
from collections.abc import Callable
from typing import Any

from aiortc import MediaStreamTrack

from hardware.simulated import SimulatedMedia, TestPatternVideoTrack
from remote_call import incall as ic
from remote_call import protocol as p
from remote_call.documents import send_document, sha256_hex
from remote_call.events import EventHub
from remote_call.session import CallSession
from remote_call.signaling_client import SignalingClient
from staff_console.controller import ConsoleController
from staff_console.invitations import InvitationRequest

log = logging.getLogger(__name__)

TIMEOUT = 20.0
SCREEN_SIZE = (1280, 720)


class BusinessSession(CallSession):
    """The browser's peer connection: a third (screen) video transceiver after audio and camera."""

    screen: Any = None

    def _add_media(self) -> None:
        super()._add_media()
        self.screen = self.pc.addTransceiver("video", direction="sendonly")
        self.screen.setCodecPreferences(self._video_codecs)
        # aiortc 1.16 (bundle policy "balanced") gives a second video transceiver the camera's transport and
        # marks it bundled at once; when the answer moves the camera onto the BUNDLE's primary transport the
        # screen is skipped and stays on a transport that never connects (no RTP is ever sent). Unmarked, it
        # is moved with the camera. A browser bundles every m-line and is not affected.
        self.screen._bundled = False

    def share(self, track: MediaStreamTrack | None) -> None:
        if self.screen is None:
            raise RuntimeError("the screen transceiver exists once the offer was made")
        self.screen.sender.replaceTrack(track)


class BusinessPeer:
    """One business joining one call. ``events``: queued, call_connecting, call_started, call_ended,
    chat (text), document_received (doc_id, ok, detail), document_shown (doc_id)."""

    def __init__(self, server_url: str, hello: Callable[[], p.Hello]):
        self.media = SimulatedMedia("business", 320, 240, 15, 520.0)
        self.events = EventHub()
        self.session: BusinessSession | None = None
        self.call_id: str | None = None
        self.received: dict[str, ic.DocumentReceived] = {}
        self.chat: list[str] = []
        self._screen: MediaStreamTrack | None = None
        self._media_task: asyncio.Future[None] | None = None
        self.client = SignalingClient(server_url, hello, on_message=self._on_message, backoff_initial_s=0.05)

    @classmethod
    def with_session(cls, server_url: str, token: str) -> BusinessPeer:
        return cls(
            server_url,
            lambda: p.Hello(
                v=p.PROTOCOL_VERSION, role=p.Role.BUSINESS, credentials=p.SessionCredentials(token=token)
            ),
        )

    async def start(self) -> p.Welcome:
        self.client.start()
        return await self.client.wait_connected(TIMEOUT)

    async def stop(self) -> None:
        await self._hang_up()
        await self.client.close()

    async def request_call(self, department: str) -> None:
        await self.client.send(p.RequestCall(department=department))

    async def end_call(self) -> None:
        if self.call_id is not None:
            await self.client.send(p.EndCall(call_id=self.call_id))

    # ------------------------------------------------------------------ in the call

    async def ready(self) -> BusinessSession:
        session = self.session
        if session is None:
            raise RuntimeError("no call in progress")
        await asyncio.wait_for(session.channel_open.wait(), TIMEOUT)
        return session

    async def share_screen(self, active: bool = True) -> None:
        """Start (a 1280x720 test pattern labelled "screen") or stop sharing, as getDisplayMedia would."""
        session = await self.ready()
        if active:
            self._screen = TestPatternVideoTrack("screen", *SCREEN_SIZE, fps=5)
            session.share(self._screen)
        else:
            session.share(None)
            if self._screen is not None:
                self._screen.stop()
                self._screen = None
        session.send_control(ic.incall_dict(ic.ScreenShare(active=active)))

    async def say(self, text: str) -> None:
        session = await self.ready()
        session.send_control(ic.incall_dict(ic.Chat(id=f"b{len(self.chat)}", text=text, sender="resident")))

    async def upload(
        self, data: bytes, name: str, mime: str = "application/pdf", *, doc_id: str = "up-1"
    ) -> ic.DocumentOffer:
        """Send a file as the browser does after the officer's OK: purpose upload, SHA-256 announced."""
        session = await self.ready()
        await asyncio.wait_for(session.documents_open.wait(), TIMEOUT)
        assert session.documents is not None
        offer = ic.DocumentOffer.model_validate(
            {
                "doc_id": doc_id,
                "purpose": "upload",
                "name": name,
                "mime": mime,
                "size": len(data),
                "sha256": sha256_hex(data),
            }
        )
        await send_document(session.documents, offer, data)
        return offer

    def send_raw_document_frame(self, frame: bytes) -> None:
        """A hand-made documents frame (damaged or refused uploads in tests)."""
        assert self.session is not None and self.session.documents is not None
        self.session.documents.send(frame)

    async def verdict(self, doc_id: str, timeout: float = TIMEOUT) -> ic.DocumentReceived:
        if doc_id not in self.received:
            await self.events.wait("document_received", timeout, doc_id=doc_id)
        return self.received[doc_id]

    # ------------------------------------------------------------------ signaling

    async def _on_message(self, message: p.Wire) -> None:
        if isinstance(message, p.CallConnecting):
            await self._connect(message)
        elif isinstance(message, p.SessionDescription | p.IceCandidate):
            if self.session is not None and message.call_id == self.call_id:
                await self.session.handle_signal(message)
        elif isinstance(message, p.Queued):
            self.call_id = message.call_id
            self.events.emit("queued", call_id=message.call_id, position=message.position)
        elif isinstance(message, p.CallStarted):
            self.events.emit("call_started", call_id=message.call_id)
        elif isinstance(message, p.CallEnded):
            await self._hang_up()
            self.events.emit("call_ended", call_id=message.call_id, reason=message.reason.value)
        elif isinstance(message, p.CallRefused | p.Error):
            log.warning("business peer: %s", message)
            self.events.emit("refused", message=message)

    async def _connect(self, message: p.CallConnecting) -> None:
        await self._hang_up()
        self.call_id = message.call_id
        session = BusinessSession(
            message.call_id,
            offerer=message.offerer,
            ice_servers=message.ice_servers,
            send_signal=self.client.send,
            video=self.media.camera_track(),
            audio=self.media.microphone_track(),
        )
        self.session = session
        session.control_handlers.append(self._on_control)
        self.events.emit("call_connecting", call_id=message.call_id)
        self._media_task = asyncio.ensure_future(self._report_media(session))
        await session.start()

    async def _report_media(self, session: CallSession) -> None:
        await session.connected.wait()
        with contextlib.suppress(ConnectionError):
            await self.client.send(p.MediaConnected(call_id=session.call_id))

    def _on_control(self, raw: dict[str, Any]) -> None:
        try:
            message = ic.parse_incall(raw)
        except ic.InCallError:
            return
        session = self.session
        if isinstance(message, ic.LinkPing) and session is not None:
            with contextlib.suppress(RuntimeError):
                session.send_control(ic.incall_dict(ic.LinkPong(seq=message.seq, sent_ms=message.sent_ms)))
        elif isinstance(message, ic.Chat) and message.sender == "officer":
            self.chat.append(message.text)
            self.events.emit("chat", text=message.text)
        elif isinstance(message, ic.DocumentReceived):
            self.received[message.doc_id] = message
            self.events.emit("document_received", doc_id=message.doc_id, ok=message.ok, detail=message.detail)

    async def _hang_up(self) -> None:
        session, self.session = self.session, None
        if self._screen is not None:
            self._screen.stop()
            self._screen = None
        if session is not None:
            await session.close()


async def redeem(link: str, code: str | None = None) -> tuple[str, p.BusinessInfo]:
    """Open an invitation link as the browser does: POST its secret (from the fragment, never in the
    request line) to ``/api/business/redeem``; (session token, business) or ``RuntimeError`` with the
    server's refusal."""
    import aiohttp

    origin, _, secret = link.partition("/b/#")
    body: dict[str, str] = {"secret": secret} | ({"code": code} if code else {})
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{origin}/api/business/redeem", json=body, headers={"Origin": origin}) as response,
    ):
        answer = await response.json()
        if response.status != 200:
            raise RuntimeError(f"redeem refused ({response.status}): {answer.get('error')}")
    return answer["session_token"], p.BusinessInfo.model_validate(answer["business"])


async def invite(console: ConsoleController, department: str, **fields: Any) -> str:
    """An invitation for a (fictional) architect's office through the console's REST client: its link."""
    now = dt.datetime.now().astimezone()
    request: dict[str, Any] = {
        "department": department,
        "company": "株式会社みちのく設計",
        "contact_name": "岩手 太郎",
        "email": "taro@michinoku-sekkei.example.jp",
        "purpose": "確認申請の事前相談（配置図・平面図）",
        "valid_from": now - dt.timedelta(minutes=5),
        "valid_until": now + dt.timedelta(hours=2),
    }
    invitation = await console.invitations.create(InvitationRequest(**(request | fields)))
    return invitation.link


async def join(console: ConsoleController, department: str, **fields: Any) -> BusinessPeer:
    """Invite, open the link and sign in: a business ready to ``request_call``."""
    token, _business = await redeem(await invite(console, department, **fields))
    peer = BusinessPeer.with_session(console.client.url, token)
    await peer.start()
    return peer


def sample_pdf(pages: int = 3, *, title: str = "Site plan") -> bytes:
    """A real multi-page PDF made in memory (PIL), each page numbered in large type."""
    from PIL import Image, ImageDraw, ImageFont

    images = []
    for number in range(1, pages + 1):
        page = Image.new("RGB", (1240, 1754), "white")
        draw = ImageDraw.Draw(page)
        draw.rectangle((80, 80, 1160, 1674), outline=(20, 20, 120), width=6)
        for x in range(160, 1100, 120):
            draw.line((x, 300, x, 1500), fill=(150, 150, 190), width=2)
        draw.rectangle((300, 500, 940, 1100), outline=(0, 0, 0), width=8)
        label = f"{title}  page {number} / {pages}"
        draw.text((120, 120), label, fill="black", font=ImageFont.load_default(size=64))
        images.append(page)
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=150)
    return buffer.getvalue()
