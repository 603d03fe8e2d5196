"""What an administrator may ask of a kiosk from the IT dashboard (``RemoteAction``), each answered with an
``ActionResult``: ``selftest`` (a scan that is discarded at once, the printer's status, camera and microphone;
no scan while a resident is served), ``reload_config`` (refused during a session) and ``restart`` (answered,
then the app exits with 75 and systemd starts it again)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable

from kiosk_client.media import KioskMedia
from kiosk_client.peripherals import DeviceUnavailable, Peripherals
from remote_call import protocol as p
from remote_call.events import EventHub


class RemoteActions:
    def __init__(
        self,
        send: Callable[[p.Wire], Awaitable[None]],
        events: EventHub,
        peripherals: Peripherals,
        media: KioskMedia,
        *,
        busy: Callable[[], bool],
        reload_config: Callable[[], tuple[bool, str]],
    ) -> None:
        """``busy``: a resident is being served; ``reload_config``: the controller's, (ok, detail)."""
        self._send = send
        self._events = events
        self._peripherals = peripherals
        self._media = media
        self._busy = busy
        self._reload_config = reload_config

    async def handle(self, action: p.RemoteAction) -> None:
        busy = self._busy()
        ok, detail = True, ""
        if action.action == "selftest":
            ok, detail = await self.selftest(scan=not busy)
        elif busy:
            ok, detail = False, "a resident is being served; try again when the kiosk is idle"
        elif action.action == "reload_config":
            ok, detail = self._reload_config()
        elif action.action == "restart":
            ok, detail = True, "restarting"
        with contextlib.suppress(ConnectionError):
            await self._send(p.ActionResult(action_id=action.action_id, ok=ok, detail=detail[:4000]))
        self._events.emit("action_result", action_id=action.action_id, action=action.action, ok=ok)
        if action.action == "restart" and ok:
            self._events.emit("restart_requested")

    async def selftest(self, *, scan: bool = True) -> tuple[bool, str]:
        """Exercise the devices: a scan (discarded at once), the printer's status, camera and microphone."""
        results: dict[str, str] = {}
        if scan:
            try:
                page = await self._peripherals.scanner.scan()
                results["scanner"] = f"ok ({page.width}x{page.height})"
                del page
            except DeviceUnavailable as exc:
                results["scanner"] = f"error: {exc}"
        else:
            results["scanner"] = self._peripherals.scanner.health().status
        results["printer"] = await self._peripherals.printer.status()
        results["camera"] = "ok" if self._media.camera_ok else "error"
        results["microphone"] = "ok" if self._media.microphone_ok else "error"
        bad = [k for k, v in results.items() if v.startswith("error") or v in ("offline", "paper_out")]
        return not bad, json.dumps(results, ensure_ascii=False)
