"""The kiosk's headless controller: what the resident's touchscreen does, free of Qt.

States: idle (welcome) → waiting (in a queue) → connecting → in_call → finished → idle. The view, the tests
and the simulator all drive this class. At the end of every session ``reset()`` forgets everything of the
resident (selection, queue place, call, chat); nothing of theirs is ever written to disk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum

from remote_call import protocol as p
from remote_call.events import EventHub
from remote_call.party import CallParty, MediaSources
from remote_call.signaling_client import SignalingClient

log = logging.getLogger(__name__)

APP_VERSION = "0.1.0"


class KioskState(StrEnum):
    IDLE = "idle"
    WAITING = "waiting"
    CONNECTING = "connecting"
    IN_CALL = "in_call"
    FINISHED = "finished"


@dataclass
class ResidentSession:
    """Everything of the current resident. Cleared by reset()."""

    department: str | None = None
    procedure: str | None = None
    language: str = "ja"
    accessibility: list[str] = field(default_factory=list)
    call_id: str | None = None
    position: int | None = None
    ewt_s: float | None = None
    refused: p.CallRefused | None = None
    end_reason: str | None = None
    chat: list[str] = field(default_factory=list)


class KioskController:
    def __init__(self, server_url: str, kiosk_id: str, token: str, media: MediaSources, **client_options):
        self.kiosk_id = kiosk_id
        self.events = EventHub()
        self.state = KioskState.IDLE
        self.resident = ResidentSession()
        self.departments: dict[str, p.DepartmentInfo] = {}
        self.kiosk_info: p.KioskInfo | None = None
        self.online = False
        self.last_error: p.Error | None = None
        self.client = SignalingClient(
            server_url,
            lambda: p.Hello(
                v=p.PROTOCOL_VERSION,
                role=p.Role.KIOSK,
                credentials=p.DeviceTokenCredentials(kiosk_id=kiosk_id, token=token),
                app_version=APP_VERSION,
            ),
            on_message=self._on_message,
            on_welcome=self._on_welcome,
            on_disconnect=self._on_disconnect,
            **client_options,
        )
        self.party = CallParty(self.client.send, media, self.events)
        self.events.subscribe(self._on_party_event)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, timeout: float = 10.0) -> None:
        self.client.start()
        await self.client.wait_connected(timeout)

    async def stop(self) -> None:
        await self.party.hang_up()
        await self.client.close()

    # ------------------------------------------------------------------ resident actions

    async def request_call(
        self, department: str, *, procedure: str | None = None, language: str = "ja",
        accessibility: list[str] | None = None,
    ) -> None:
        if self.state is not KioskState.IDLE:
            raise RuntimeError(f"cannot request a call while {self.state.value}")
        self.resident.department = department
        self.resident.procedure = procedure
        self.resident.language = language
        self.resident.accessibility = list(accessibility or [])
        self.resident.refused = None
        await self.client.send(
            p.RequestCall(
                department=department,
                caller=p.CallerInfo(procedure=procedure, language=language,
                                    accessibility=self.resident.accessibility),
            )
        )

    async def cancel(self) -> None:
        if self.resident.call_id is not None:
            await self.client.send(p.CancelCall(call_id=self.resident.call_id))

    async def end_call(self) -> None:
        if self.resident.call_id is not None:
            await self.client.send(p.EndCall(call_id=self.resident.call_id))

    async def reset(self) -> None:
        """Forget the resident: hang up, clear every trace of them from memory, back to the welcome."""
        await self.party.hang_up()
        self.resident = ResidentSession()
        self._set_state(KioskState.IDLE)
        self.events.emit("reset")

    # ------------------------------------------------------------------ server messages

    async def _on_welcome(self, welcome: p.Welcome) -> None:
        self.online = True
        self.kiosk_info = welcome.kiosk
        self.departments = {d.id: d for d in welcome.departments}
        self.events.emit("online", departments=list(self.departments))

    def _on_disconnect(self) -> None:
        self.online = False
        self.events.emit("offline")

    async def _on_message(self, message: p.Wire) -> None:
        if isinstance(message, p.Queued):
            self.resident.call_id = message.call_id
            self.resident.position = message.position
            self.resident.ewt_s = message.ewt_s
            self._set_state(KioskState.WAITING)
            self.events.emit("queue", position=message.position, ewt_s=message.ewt_s)
        elif isinstance(message, p.CallRefused):
            self.resident.refused = message
            self.events.emit("refused", reason=message.reason, next_open=message.next_open)
        elif isinstance(message, p.Error):
            self.last_error = message
            log.warning("server error %s: %s", message.code.value, message.detail)
            self.events.emit("error", code=message.code.value, detail=message.detail)
        elif isinstance(message, p.Pong):
            pass
        else:
            await self.party.handle(message)

    def _on_party_event(self, event: str, data: dict) -> None:
        if event == "call_connecting":
            self._set_state(KioskState.CONNECTING)
        elif event == "call_started":
            self._set_state(KioskState.IN_CALL)
        elif event == "call_requeued":
            self._set_state(KioskState.WAITING)
        elif event == "call_ended" and data.get("call_id") == self.resident.call_id:
            self.resident.end_reason = data.get("reason")
            self.resident.call_id = None
            self._set_state(KioskState.FINISHED)

    def _set_state(self, state: KioskState) -> None:
        if state is not self.state:
            self.state = state
            self.events.emit("state", state=state.value)

    async def wait_for_state(self, state: KioskState, timeout: float) -> None:
        """For tests and the simulator: wait until the controller reaches ``state``."""
        if self.state is not state:
            await self.events.wait("state", timeout, state=state.value)
