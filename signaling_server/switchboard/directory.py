"""What the switchboard tells clients about the city: departments and their queues, callers, ICE servers."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from config.schema import AppConfig, Department
from remote_call import protocol as p
from signaling_server.calls import Call
from signaling_server.routing import DepartmentStatus, Router
from signaling_server.routing.interpreters import InterpreterPool
from signaling_server.store import CallRecord, Store
from signaling_server.turn import ice_servers_for_call


class Directory:
    """Read-only views of the configuration and the router, as the wire protocol puts them."""

    BUSINESS_LOCATION = "業者 / business"  # where a business call "comes from", in the officer's ring

    def __init__(
        self,
        config: AppConfig,
        router: Router,
        clock: Callable[[], float],
        *,
        calls: Mapping[str, Call],
        store: Store,
        interpreters: InterpreterPool | None = None,
    ) -> None:
        self._interpreters = interpreters  # the interpreter pool: its statistics join the live ones
        self.config = config
        self.router = router
        self.clock = clock
        self._calls = calls
        self._store = store
        self._tz = ZoneInfo(config.city.timezone)
        self.departments = {d.id: d for d in config.departments if d.remote}
        self.kiosk_names = {k.id: k for k in config.kiosks}
        self._infos: dict[str, tuple[DepartmentStatus, p.DepartmentInfo]] = {}  # the last built, by id
        self._turn_infos: list[p.DepartmentInfo] | None = None  # this turn's, once built

    def kiosk_info(self, kiosk_id: str) -> p.KioskInfo:
        kiosk = self.kiosk_names.get(kiosk_id)
        return p.KioskInfo(
            id=kiosk_id, name=kiosk.name if kiosk else kiosk_id, location=kiosk.location if kiosk else ""
        )

    def caller_info(self, record: CallRecord) -> p.KioskInfo:
        """Who is calling, as the officer's ring and call window name it: a kiosk, or a business's
        company (its session's identity as the id)."""
        business = self.business_info(record)
        if business is not None:
            return p.KioskInfo(id=record.kiosk_id, name=business.company, location=self.BUSINESS_LOCATION)
        return self.kiosk_info(record.kiosk_id)

    @staticmethod
    def business_info(record: CallRecord) -> p.BusinessInfo | None:
        return p.BusinessInfo.model_validate_json(record.business) if record.business else None

    def ice_servers(self, user_id: str) -> list[p.IceServerInfo]:
        """The configured ICE servers plus time-limited TURN credentials for this user (coturn REST API)."""
        servers = ice_servers_for_call(self.config.turn, self.config.ice_servers, user_id, now=self.clock())
        return [p.IceServerInfo(**server) for server in servers]

    def department_infos(self) -> list[p.DepartmentInfo]:
        """Each department as the wire carries it, as of this turn of the event loop; a department's built
        again only when its status changed (the router returns the same status object while its inputs are
        the same: routing/reports.py). Once a turn: in the herd after a failover a new leader welcomes
        thousands of clients a turn, and the queue changed between most two of them (the calls go on), so
        every welcome rebuilt every status: 0.9 s of its loop in 20 s at 20,000 kiosks."""
        if self._turn_infos is not None:
            return self._turn_infos
        infos = self._build_infos()
        try:
            asyncio.get_running_loop().call_soon(self._turn_ended)
        except RuntimeError:
            return infos  # no event loop (a script): built at each call
        self._turn_infos = infos
        return infos

    def _turn_ended(self) -> None:
        self._turn_infos = None

    def _build_infos(self) -> list[p.DepartmentInfo]:
        infos = []
        for dep in self.departments.values():
            status = self.router.department_status(dep.id)
            cached = self._infos.get(dep.id)
            if cached is None or cached[0] is not status:
                cached = (status, self._department_info(dep, status))
                self._infos[dep.id] = cached
            infos.append(cached[1])
        return infos

    @staticmethod
    def _department_info(dep: Department, status: DepartmentStatus) -> p.DepartmentInfo:
        return p.DepartmentInfo(
            id=dep.id,
            name_ja=dep.name_ja,
            name_en=dep.name_en,
            open=status.open,
            waiting=status.waiting,
            ewt_s=status.ewt_s,
            next_open=status.next_open.isoformat(timespec="minutes") if status.next_open else None,
            wait_state=status.estimate.state.value,
            wait_minutes=status.estimate.minutes,
        )

    def stats(self, *, officers: bool = True) -> dict[str, Any]:
        """Live statistics without the day-by-day history (that is read over REST); ``officers``: with each
        officer's own figures (supervisors read them)."""
        stats = self.router.stats(officers=officers, history=False)
        stats.pop("history", None)
        self._add_business_sessions(stats["departments"])
        if self._interpreters is not None:
            stats["interpretation"] = self._interpreters.stats()  # per language, minutes (issue 18)
        return stats

    def _add_business_sessions(self, departments: dict[str, Any]) -> None:
        """Per department: the business sessions waiting or in a call now (``business_sessions``) and
        how many business calls came in today, city time (``business_sessions_today``)."""
        for data in departments.values():
            data["business_sessions"] = []
            data["business_sessions_today"] = 0
        for call in self._calls.values():
            info = self.business_info(call.record)
            data = departments.get(call.record.department)
            if info is not None and data is not None:
                data["business_sessions"].append(
                    {
                        "call_id": call.call_id,
                        "invitation_id": info.invitation_id,
                        "company": info.company,
                        "appointment_id": info.appointment_id,
                        "mobile": info.mobile,
                        "state": call.record.state,
                        "officer": call.record.officer,
                        "waited_s": (call.record.answered_at or self.clock()) - call.record.created_at,
                    }
                )
        midnight = dt.datetime.combine(dt.datetime.fromtimestamp(self.clock(), self._tz).date(), dt.time())
        if not self._store.db.available:
            return  # the database is unreachable (database_watch.py): today's count waits for it
        for record in self._store.business_calls(since=midnight.replace(tzinfo=self._tz).timestamp()):
            if record.department in departments:
                departments[record.department]["business_sessions_today"] += 1
