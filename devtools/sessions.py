"""Test utilities for call sessions (like aiortc's in-memory fixtures): two real peers wired back to back,
with simulated media from ``hardware.simulated`` (which ``remote_call`` itself never imports)."""

from __future__ import annotations

from typing import Any

from hardware.simulated import TestPatternVideoTrack, ToneAudioTrack
from remote_call import protocol as p
from remote_call.session import CallSession


def session_pair(**kiosk_options: Any) -> tuple[CallSession, CallSession]:
    """A kiosk (offerer) and an officer (answerer) CallSession whose signals go straight to each other, with
    320×240 test patterns and tones. Call ``kiosk.start()`` to connect them."""
    sessions: dict[str, CallSession] = {}

    def to(name: str):
        async def send(message: p.Wire) -> None:
            await sessions[name].handle_signal(message)

        return send

    sessions["kiosk"] = CallSession(
        "c1",
        offerer=True,
        ice_servers=[],
        send_signal=to("officer"),
        video=TestPatternVideoTrack("kiosk", 320, 240, 20),
        audio=ToneAudioTrack(440),
        **kiosk_options,
    )
    sessions["officer"] = CallSession(
        "c1",
        offerer=False,
        ice_servers=[],
        send_signal=to("kiosk"),
        video=TestPatternVideoTrack("officer", 320, 240, 20),
        audio=ToneAudioTrack(660),
    )
    return sessions["kiosk"], sessions["officer"]
