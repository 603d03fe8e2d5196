"""What the switchboard tells clients about the city: departments and their queues, kiosks, ICE servers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from config.schema import AppConfig
from remote_call import protocol as p
from signaling_server.routing import Router
from signaling_server.turn import ice_servers_for_call


class Directory:
    """Read-only views of the configuration and the router, as the wire protocol puts them."""

    def __init__(self, config: AppConfig, router: Router, clock: Callable[[], float]) -> None:
        self.config = config
        self.router = router
        self.clock = clock
        self.departments = {d.id: d for d in config.departments if d.remote}
        self.kiosk_names = {k.id: k for k in config.kiosks}

    def kiosk_info(self, kiosk_id: str) -> p.KioskInfo:
        kiosk = self.kiosk_names.get(kiosk_id)
        return p.KioskInfo(
            id=kiosk_id, name=kiosk.name if kiosk else kiosk_id, location=kiosk.location if kiosk else ""
        )

    def ice_servers(self, user_id: str) -> list[p.IceServerInfo]:
        """The configured ICE servers plus time-limited TURN credentials for this user (coturn REST API)."""
        servers = ice_servers_for_call(self.config.turn, self.config.ice_servers, user_id, now=self.clock())
        return [p.IceServerInfo(**server) for server in servers]

    def department_infos(self) -> list[p.DepartmentInfo]:
        infos = []
        for dep in self.departments.values():
            status = self.router.department_status(dep.id)
            infos.append(
                p.DepartmentInfo(
                    id=dep.id,
                    name_ja=dep.name_ja,
                    name_en=dep.name_en,
                    open=status.open,
                    waiting=status.waiting,
                    ewt_s=status.ewt_s,
                    next_open=status.next_open.isoformat(timespec="minutes") if status.next_open else None,
                )
            )
        return infos

    def stats(self) -> dict[str, Any]:
        """Live statistics without the day-by-day history (that is read over REST)."""
        stats = self.router.stats()
        stats.pop("history", None)
        return stats
