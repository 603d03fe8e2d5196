"""The officer console's headless controller: sign in, take calls, talk, end with an outcome; free of Qt.

The officer signs in with a password once; the server returns a session token that the client uses to
reconnect, so the password is not kept after the first welcome.
"""

from __future__ import annotations

import logging

from remote_call import protocol as p
from remote_call.events import EventHub
from remote_call.party import CallParty, MediaSources
from remote_call.signaling_client import SignalingClient

log = logging.getLogger(__name__)

APP_VERSION = "0.1.0"


class ConsoleController:
    def __init__(self, server_url: str, username: str, password: str, media: MediaSources, **client_options):
        self.username = username
        self._password: str | None = password
        self._session_token: str | None = None
        self.events = EventHub()
        self.officer_state = "offline"
        self.state_reason: str | None = None
        self.offer: p.CallOffer | None = None
        self.call_id: str | None = None
        self.in_call = False
        self.display_name = username
        self.departments: dict[str, p.DepartmentInfo] = {}
        self.last_error: p.Error | None = None
        self.client = SignalingClient(
            server_url,
            self._hello,
            on_message=self._on_message,
            on_welcome=self._on_welcome,
            on_disconnect=lambda: self.events.emit("offline"),
            **client_options,
        )
        self.party = CallParty(self.client.send, media, self.events)
        self.events.subscribe(self._on_party_event)

    def _hello(self) -> p.Hello:
        if self._session_token is not None:
            credentials: p.SessionCredentials | p.PasswordCredentials = p.SessionCredentials(
                token=self._session_token
            )
        else:
            credentials = p.PasswordCredentials(username=self.username, password=self._password or "")
        return p.Hello(v=p.PROTOCOL_VERSION, role=p.Role.OFFICER, credentials=credentials,
                       app_version=APP_VERSION)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, timeout: float = 10.0) -> None:
        self.client.start()
        await self.client.wait_connected(timeout)

    async def stop(self) -> None:
        await self.party.hang_up()
        await self.client.close()

    # ------------------------------------------------------------------ officer actions

    async def set_available(self) -> None:
        await self.client.send(p.SetStatus(status="available"))

    async def set_away(self, reason: str) -> None:
        await self.client.send(p.SetStatus(status="away", reason=reason))  # type: ignore[arg-type]

    async def accept(self) -> None:
        if self.offer is None:
            raise RuntimeError("no call is ringing")
        await self.client.send(p.AcceptCall(call_id=self.offer.call_id))

    async def decline(self) -> None:
        if self.offer is None:
            raise RuntimeError("no call is ringing")
        await self.client.send(p.DeclineCall(call_id=self.offer.call_id))

    async def end_call(self, outcome: str = "resolved", notes: str = "") -> None:
        if self.call_id is None:
            raise RuntimeError("no call in progress")
        await self.client.send(p.EndCall(call_id=self.call_id, outcome=outcome, notes=notes))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ server messages

    async def _on_welcome(self, welcome: p.Welcome) -> None:
        if welcome.session_token:
            self._session_token = welcome.session_token
            self._password = None  # from now on reconnect with the session token only
        self.display_name = welcome.display_name or self.username
        self.departments = {d.id: d for d in welcome.departments}
        self.events.emit("online")

    async def _on_message(self, message: p.Wire) -> None:
        if isinstance(message, p.CallOffer):
            self.offer = message
            self.events.emit("ring", call_id=message.call_id, department=message.department,
                             kiosk=message.kiosk.name, waited_s=message.waited_s)
        elif isinstance(message, p.OfferWithdrawn):
            if self.offer is not None and self.offer.call_id == message.call_id:
                self.offer = None
            self.events.emit("ring_withdrawn", call_id=message.call_id, reason=message.reason)
        elif isinstance(message, p.OfficerState):
            self.officer_state = message.state
            self.state_reason = message.reason
            self.events.emit("officer_state", state=message.state, reason=message.reason)
        elif isinstance(message, p.Error):
            self.last_error = message
            log.warning("server error %s: %s", message.code.value, message.detail)
            self.events.emit("error", code=message.code.value, detail=message.detail)
        elif isinstance(message, p.Pong):
            pass
        else:
            if isinstance(message, p.CallConnecting):
                self.offer = None
                self.call_id = message.call_id
            await self.party.handle(message)

    def _on_party_event(self, event: str, data: dict) -> None:
        if event == "call_started":
            self.in_call = True
        elif event in ("call_ended", "call_requeued") and data.get("call_id") == self.call_id:
            self.in_call = False
            self.call_id = None
