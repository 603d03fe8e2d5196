"""One side of the chaos test, run inside its own network namespace: a group of kiosks placing calls, a
group of officers answering them, or a supervisor reading the server's view of every officer.

    python -m simulator.chaos_agent kiosks --server URL --fleet FILE --calls-per-kiosk N --out FILE
    python -m simulator.chaos_agent officers --server URL --fleet FILE --call-seconds S --out FILE
    python -m simulator.chaos_agent check --server URL --username U --password-file F

Kiosks and officers are the real controllers with simulated media; they reconnect by themselves through
the faults. Each agent writes one JSON report; SIGTERM asks it to finish (kiosks stop placing calls and wait
for the ones in progress to end).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any, TypedDict

from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController, KioskState
from remote_call import protocol as p
from remote_call.session import restrict_to_loopback
from staff_console.controller import ConsoleController

log = logging.getLogger("madoguchi.chaos")


class Backoff(TypedDict):
    """The reconnect backoff keywords that KioskController and ConsoleController both take."""

    backoff_initial_s: float
    backoff_max_s: float


FAST: Backoff = {"backoff_initial_s": 0.2, "backoff_max_s": 2.0}


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_kiosks(args: argparse.Namespace) -> dict[str, Any]:
    fleet = json.loads(Path(args.fleet).read_text())
    stop = _stop_event()
    rng = random.Random(args.seed)
    kiosks = [
        KioskController(args.server, kid, token, SimulatedMedia(kid, 160, 120, 10, 440), **FAST)
        for kid, token in fleet["kiosk_tokens"].items()
    ]
    calls: list[dict[str, Any]] = []

    async def one_kiosk(kiosk: KioskController) -> None:
        await kiosk.start(timeout=60)
        placed = 0
        while placed < args.calls_per_kiosk and not stop.is_set():
            entry: dict[str, Any] = {"kiosk": kiosk.kiosk_id, "call_id": None, "reason": None}
            try:
                if not kiosk.online:
                    await kiosk.events.wait("online", 60)
                queued = asyncio.ensure_future(kiosk.events.wait("queue", 30))
                await kiosk.request_call(
                    rng.choice(sorted(d for d, info in kiosk.departments.items() if info.open))
                )
                await queued
            except (ConnectionError, TimeoutError, RuntimeError) as exc:
                log.info("%s: call not placed (%s)", kiosk.kiosk_id, exc)
                with contextlib.suppress(Exception):
                    if kiosk.resident.call_id:  # the server did queue it after all: the resident leaves
                        await kiosk.cancel()
                    await kiosk.reset()
                continue  # never reached a queue: nobody to lose; try again
            placed += 1
            entry["call_id"] = kiosk.resident.call_id
            calls.append(entry)
            ending = asyncio.ensure_future(
                kiosk.events.wait("call_ended", args.call_timeout, call_id=entry["call_id"])
            )
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({ending, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if ending.done() and ending.exception() is None:
                entry["reason"] = ending.result()["reason"]
            else:
                ending.cancel()
                # Lost: the resident was never told how the call ended. Say what the kiosk believed.
                entry["reason"] = None
                entry["kiosk_state"] = {
                    "state": kiosk.state.value,
                    "online": kiosk.online,
                    "resident_call": kiosk.resident.call_id,
                    "party_call": kiosk.party.call_id,
                    "position": kiosk.resident.position,
                }
                with contextlib.suppress(Exception):
                    await kiosk.cancel()
            if kiosk.state is not KioskState.IDLE:
                await kiosk.reset()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.uniform(0.2, 1.5))

    results = await asyncio.gather(*(one_kiosk(k) for k in kiosks), return_exceptions=True)
    errors = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    await asyncio.gather(*(k.stop() for k in kiosks), return_exceptions=True)
    return {"calls": calls, "errors": errors}


async def run_officers(args: argparse.Namespace) -> dict[str, Any]:
    fleet = json.loads(Path(args.fleet).read_text())
    stop = _stop_event()
    officers = [
        ConsoleController(args.server, name, password, SimulatedMedia(name, 160, 120, 10, 660), **FAST)
        for name, password in fleet["officer_passwords"].items()
    ]
    answered: dict[str, int] = {}
    tasks: set[asyncio.Task] = set()

    def spawn(coro) -> None:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    talking: dict[str, set[str]] = {o.username: set() for o in officers}

    async def talk(officer: ConsoleController, call_id: str) -> None:
        try:
            await asyncio.sleep(args.call_seconds)  # the conversation itself
            while officer.call_id == call_id:  # press "end" until the server has it, as an officer would
                ended = asyncio.ensure_future(officer.events.wait("call_ended", 10, call_id=call_id))
                try:
                    await officer.end_call("resolved", "chaos")
                    await ended
                except (TimeoutError, ConnectionError, RuntimeError):
                    ended.cancel()
                    with contextlib.suppress(TimeoutError):
                        await officer.events.wait("online", 10)
        finally:
            talking[officer.username].discard(call_id)

    def listener(officer: ConsoleController):
        mine = talking[officer.username]

        def on_event(event: str, data: dict) -> None:
            if event == "ring":
                spawn(_quietly(officer.accept()))
            elif event == "call_started" and data["call_id"] not in mine:
                mine.add(data["call_id"])
                answered[officer.username] = answered.get(officer.username, 0) + 1
                spawn(talk(officer, data["call_id"]))
            elif event == "officer_state" and data["state"] in ("wrap_up", "away"):
                spawn(_quietly(officer.set_available()))

        return on_event

    for officer in officers:
        officer.events.subscribe(listener(officer))
    await asyncio.gather(*(o.start(timeout=60) for o in officers))
    await stop.wait()
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*(o.stop() for o in officers), return_exceptions=True)
    return {"answered": answered}


async def _quietly(coro) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await coro


async def run_check(args: argparse.Namespace) -> dict[str, Any]:
    """The server's view: every officer's state and every call still open, as a supervisor sees it."""
    from signaling_server.testing import WireClient

    password = Path(args.password_file).read_text().strip()
    client = await WireClient.connect(
        args.server,
        p.Hello(
            v=1,
            role=p.Role.SUPERVISOR,
            credentials=p.PasswordCredentials(username=args.username, password=password),
        ),
    )
    try:
        await client.expect(p.Welcome, timeout=30)
        stats = (await client.expect(p.SupervisorStats, timeout=30)).stats
    finally:
        await client.close()
    return {
        "officers": {k: v["state"] for k, v in stats["officers"].items()},
        "waiting": {k: v["waiting"] for k, v in stats["departments"].items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="chaos_agent", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("role", choices=["kiosks", "officers", "check"])
    parser.add_argument("--server", required=True)
    parser.add_argument("--fleet")
    parser.add_argument("--out")
    parser.add_argument("--calls-per-kiosk", type=int, default=3)
    parser.add_argument("--call-seconds", type=float, default=2.0)
    parser.add_argument("--call-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--username")
    parser.add_argument("--password-file")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format=f"%(asctime)s {args.role} %(levelname)s %(name)s: %(message)s",
    )
    runner = {"kiosks": run_kiosks, "officers": run_officers, "check": run_check}[args.role]
    # Kiosks and officers run in separate network namespaces: their media crosses the lab's veth links, so
    # the loopback-only switch a test process hands down (MADOGUCHI_MEDIA_LOOPBACK) must not apply here.
    restrict_to_loopback(False)
    started = time.time()
    report = asyncio.run(runner(args))
    report["wall_s"] = round(time.time() - started, 1)
    text = json.dumps(report, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
