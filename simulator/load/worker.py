"""One worker process of a load run: connects its share of the kiosks and officers, places its kiosks' calls
when told to, and reports back over a multiprocessing queue."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from remote_call import protocol as p
from simulator.load.clients import Kiosk, KioskCall, Officer, WorkerStats, handshake
from simulator.load.hygiene import die_with_parent, own_process_group
from simulator.load.moves import Backoff, Link
from simulator.load.options import LoadOptions
from simulator.load.server import raise_fd_limit
from simulator.load.wsclient import WebSocket


@dataclass
class WorkerAssignment:
    index: int
    urls: list[str]  # every node's; one: a single server
    kiosks: dict[str, str]  # kiosk id -> token
    kiosk_calls: dict[str, int]  # kiosk id -> calls it places
    officers: dict[str, str]  # username -> password (or session token)
    departments: list[str]
    options: LoadOptions
    rate: tuple[float, int]  # what each client may send: (messages per second, burst)
    routes: dict[str, list[int]] = field(default_factory=dict)  # client -> node indexes (routes.route)

    def link(self, identity: str, hello: Callable[[], p.Hello]) -> Link:
        return Link(self.urls, self.routes.get(identity, [0]), hello)


class Worker:
    def __init__(self, a: WorkerAssignment, report, start_calls, stop):
        self.a = a
        self.report = report
        self.start_calls = start_calls
        self.stop = stop
        self.stats = WorkerStats()
        self.rings: dict[str, float] = {}
        self.stages: dict[str, dict[str, float]] = {}  # officer side, by call id
        self.officer_nodes: dict[str, int] = {}  # call id -> the officer's node when it started
        self.kiosks: list[Kiosk] = []
        self.officers: list[Officer] = []
        self.results: list[KioskCall] = []
        limit = a.options.max_in_flight
        share = max(1, round(limit * len(a.kiosks) / max(1, a.options.kiosks))) if limit else 0
        self.slots = asyncio.Semaphore(share) if share else None
        self.rng = random.Random(None if a.options.seed is None else a.options.seed * 1000 + a.index)

    async def _wait_event(self, event, timeout: float) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, event.wait, timeout)

    async def _connect_all(self, items, make, concurrency: int) -> tuple[float, float, int]:
        gate = asyncio.Semaphore(concurrency)
        started = time.monotonic()

        async def one(item):
            async with gate:
                try:
                    return await make(*item)
                except Exception as exc:
                    self.stats.error(f"{item[0]}: could not connect: {type(exc).__name__}: {exc}")
                    return None

        done = await asyncio.gather(*(one(item) for item in items))
        return started, time.monotonic(), sum(1 for d in done if d is not None)

    async def _kiosk(self, kiosk_id: str, token: str):
        hello = p.Hello(
            v=p.PROTOCOL_VERSION,
            role=p.Role.KIOSK,
            app_version="load-sim",
            credentials=p.DeviceTokenCredentials(kiosk_id=kiosk_id, token=token),
        )
        link = self.a.link(kiosk_id, lambda: hello)
        ws, _welcome = await self._first_handshake(link, hello)
        kiosk = Kiosk(ws, kiosk_id, self.stats, self.a.rate, self.a.options, link)
        kiosk.reader = asyncio.create_task(kiosk.run())
        self.kiosks.append(kiosk)
        return kiosk

    async def _officer(self, username: str, secret: str):
        credentials = (
            p.SessionCredentials(token=secret)
            if self.a.options.officer_auth == "session"
            else p.PasswordCredentials(username=username, password=secret)
        )
        hello = p.Hello(
            v=p.PROTOCOL_VERSION, role=p.Role.OFFICER, app_version="load-sim", credentials=credentials
        )
        session_token: list[str] = []  # the welcome's: what the console signs in with after an outage

        def again() -> p.Hello:
            return hello.model_copy(update={"credentials": p.SessionCredentials(token=session_token[0])})

        link = self.a.link(username, again)
        ws, welcome = await self._first_handshake(link, hello)
        session_token.append(welcome.get("session_token") or secret)
        officer = Officer(
            ws, username, self.stats, self.a.rate, self.a.options, self.rings, self.stages, link,
            self.officer_nodes,
        )  # fmt: skip
        officer.reader = asyncio.create_task(officer.run())
        self.officers.append(officer)
        await officer.send(p.SetStatus(status="available"))
        return officer

    async def _first_handshake(self, link: Link, hello: p.Hello) -> tuple[WebSocket, dict]:
        """The first sign-in; with several nodes a refusal (a failover under way) moves to the next URL
        after the backoff, as a kiosk starting up would."""
        backoff = Backoff(len(link.route))
        deadline = time.monotonic() + self.a.options.reconnect_timeout_s
        while True:
            try:
                return await handshake(link.url, hello, self.stats)
            except (ConnectionError, OSError, TimeoutError):
                if not link.moves or time.monotonic() > deadline:
                    raise
            backoff.failed()
            link.next()
            await asyncio.sleep(random.uniform(0, backoff.delay))  # full jitter, as on every reconnect

    async def _kiosk_loop(self, kiosk: Kiosk, calls: int) -> None:
        for _ in range(calls):
            department = self.rng.choice(self.a.departments)
            call = KioskCall(kiosk=kiosk.identity, department=department, requested_at=time.monotonic())
            self.results.append(call)
            try:
                async with self.slots or contextlib.nullcontext():
                    call.requested_at = time.monotonic()
                    done = kiosk.begin(call)
                    # Mid-outage (its connection closing, a node gone or a term changed): the kiosk asks
                    # again once it is back (Kiosk.on_resumed), as a real kiosk does; not a failed call.
                    with contextlib.suppress(ConnectionError):
                        await kiosk.send(p.RequestCall(department=department))
                    await asyncio.wait_for(done, self.a.options.call_timeout_s)
            except TimeoutError:
                call.error = "timed out waiting for the call to end"
            except Exception as exc:
                call.error = f"{type(exc).__name__}: {exc}"
            if call.error:
                self.stats.error(f"{kiosk.identity} call {call.call_id or '?'}: {call.error}")
            if kiosk.reader is not None and kiosk.reader.done():
                return  # gone for good (one server, or no node came back in time)

    async def run(self) -> None:
        a = self.a
        raise_fd_limit()
        try:
            await self._connect()
            if not await self._wait_event(self.start_calls, a.options.ready_timeout_s):
                raise TimeoutError("never told to start the calls")
            stop = asyncio.ensure_future(self._wait_event(self.stop, a.options.call_timeout_s + 60))
            if not await self._place_calls_until(stop):
                return  # stopped mid-run: hang up now
            if not await stop:  # the wait timed out while the calls ran: wait for the stop as before
                await self._wait_event(self.stop, a.options.call_timeout_s + 60)
            # The officers' call_ended travels at the same time as the kiosks': let the last ones land and
            # the officers get back to available before hanging up.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(
                o.open_calls or o.state == "wrap_up" for o in self.officers
            ):
                await asyncio.sleep(0.02)
        except Exception as exc:
            self.stats.error(f"worker {a.index}: {type(exc).__name__}: {exc}")
            self.report.put(("failed", a.index, {"error": f"{type(exc).__name__}: {exc}"}))
        finally:
            await self._hang_up()
            self._report_result()

    async def _connect(self) -> None:
        a = self.a
        k0, k1, kn = await self._connect_all(
            list(a.kiosks.items()), self._kiosk, a.options.connect_concurrency
        )
        o0, o1, on = await self._connect_all(
            list(a.officers.items()), self._officer, a.options.login_concurrency
        )
        ready = {"kiosks": kn, "officers": on, "kiosk_connect": [k0, k1], "officer_connect": [o0, o1]}
        self.report.put(("ready", a.index, ready))

    async def _place_calls_until(self, stop: asyncio.Future[bool]) -> bool:
        """Place the calls, unless ``stop`` comes first (an interrupted simulator: waiting out its calls
        held its exit 5 s for the results and 2 s for each worker's join); whether they were all placed."""
        placing = asyncio.ensure_future(self._place_calls())
        await asyncio.wait((placing, stop), return_when=asyncio.FIRST_COMPLETED)
        if placing.done() or not stop.result():  # placed, or the wait for a stop timed out: go on placing
            await placing
            return True
        placing.cancel()
        await asyncio.gather(placing, return_exceptions=True)
        for call in self.results:
            if not call.error and call.ended_at is None:
                call.error = "the run was stopped before the call ended"
        return False

    async def _place_calls(self) -> None:
        self.stats.messages_sent = self.stats.messages_received = 0
        cpu0 = time.process_time()
        by_kiosk = {k.identity: k for k in self.kiosks}
        await asyncio.gather(
            *(
                self._kiosk_loop(by_kiosk[k], n)
                for k, n in self.a.kiosk_calls.items()
                if k in by_kiosk and n > 0
            )
        )
        sent, received = self.stats.messages_sent, self.stats.messages_received
        done = {
            "at": time.monotonic(),
            "sent": sent,
            "received": received,
            "cpu_s": time.process_time() - cpu0,
        }
        self.report.put(("kiosks_done", self.a.index, done))

    async def _hang_up(self) -> None:
        clients = (*self.kiosks, *self.officers)
        for c in clients:
            c.stopping = True
        await asyncio.gather(*(c.ws.close() for c in clients), return_exceptions=True)
        for c in clients:
            if c.reader:
                c.reader.cancel()

    def _report_result(self) -> None:
        connected = {x.identity for x in self.kiosks}
        missing = [k for k, n in self.a.kiosk_calls.items() if n > 0 and k not in connected]
        for kiosk_id in missing:  # a kiosk that never connected: its calls were never placed
            for _ in range(self.a.kiosk_calls[kiosk_id]):
                never = KioskCall(
                    kiosk=kiosk_id, department="", requested_at=0.0, error="the kiosk could not connect"
                )
                self.results.append(never)
        result = {
            "calls": [asdict(c) for c in self.results],
            "rings": self.rings,
            "stages": self.stages,
            "officer_nodes": self.officer_nodes,
            "outages": {
                c.identity: [o.row() for o in c.link.outages]
                for c in (*self.kiosks, *self.officers)
                if c.link is not None and c.link.outages
            },
            "officer_calls_ended": sum(o.calls_ended for o in self.officers),
            "officer_open_calls": sum(len(o.open_calls) for o in self.officers),
            "by_type": self.stats.by_type,
            "errors": self.stats.errors,
            "error_count": self.stats.error_count,
            "paced": self.stats.paced,
            "failed_sign_ins": self.stats.failed_sign_ins,
        }
        self.report.put(("result", self.a.index, result))


def worker_main(assignment: WorkerAssignment, report, start_calls, stop) -> None:
    parent = multiprocessing.parent_process()
    own_process_group()  # the simulator stops its workers itself, in order
    if parent is not None and parent.pid is not None:
        die_with_parent(parent.pid)  # and the kernel kills them if the simulator dies first
    asyncio.run(Worker(assignment, report, start_calls, stop).run())
