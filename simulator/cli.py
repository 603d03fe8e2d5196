"""`madoguchi-sim`: a headless fleet of kiosks and officers placing real calls (media both ways)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import tempfile
from pathlib import Path

from config import ConfigError, load_config
from signaling_server.testing import always_open

# The media fleet's modules are imported where they are used: a load run's workers are spawned, and each
# imports this module again (as ``__mp_main__``); importing them here made that 2.3 s instead of 0.3 s.


async def run(args: argparse.Namespace) -> dict:
    from signaling_server.embedded import EmbeddedServer, provision
    from simulator.fleet import Fleet, FleetOptions

    config = load_config(args.config)
    if not args.respect_hours:
        config = always_open(config)
    # The wait estimate's prior handle time: this fleet's calls, not a city hall's five minutes.
    settings = config.server.model_copy(update={"expected_handle_s": args.call_seconds + 1.0})
    config = config.model_copy(update={"server": settings})
    options = FleetOptions(
        kiosks=args.kiosks,
        officers=args.officers,
        calls=args.calls,
        call_seconds=args.call_seconds,
        wrap_up_s=args.wrap_up_seconds,
        width=args.width,
        height=args.height,
        fps=args.fps,
        abandon_rate=args.abandon_rate,
        seed=args.seed,
    )
    kiosk_ids = [f"sim-kiosk-{i:04d}" for i in range(args.kiosks)]
    officers = [f"sim-officer-{i:04d}" for i in range(args.officers)]
    if args.server:
        fleet_file = json.loads(Path(args.fleet).read_text())
        fleet = Fleet(args.server, fleet_file["kiosk_tokens"], fleet_file["officer_passwords"], options)
        report = await fleet.run()
        return report.summary()
    with tempfile.TemporaryDirectory(prefix="madoguchi-sim-") as tmp:
        async with EmbeddedServer(config, Path(tmp) / "sim.sqlite3") as server:
            creds = provision(server.store, config, kiosk_ids=kiosk_ids, officers=officers)
            fleet = Fleet(server.url, creds.kiosk_tokens, creds.officer_passwords, options)
            report = await fleet.run()
            return report.summary()


THREE_WAY_HELP = (
    "calls with an interpreter: kiosk, officer and interpreter, media between every pair, the interpreter "
    "leaves and the call goes on (simulator/three_way.py)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="madoguchi-sim", description=__doc__)
    parser.add_argument("--kiosks", type=int, default=2)
    parser.add_argument("--officers", type=int, default=2)
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument(
        "--call-seconds",
        type=float,
        default=None,
        help="how long each call lasts once started (default: 3; 0 with --signaling-only)",
    )
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=20)
    parser.add_argument(
        "--abandon-rate",
        type=float,
        default=0.0,
        help="share of residents (0-1) who give up waiting after a random patience",
    )
    parser.add_argument(
        "--wrap-up-seconds",
        type=float,
        default=0.0,
        help="simulated officers' time for notes after a call before they are ready again",
    )
    parser.add_argument("--seed", type=int)
    parser.add_argument("--config", help="TOML configuration (default: Morioka defaults)")
    parser.add_argument(
        "--respect-hours",
        action="store_true",
        help="keep the configured opening hours (default: every department open)",
    )
    parser.add_argument("--server", help="ws(s):// URL of a running server instead of an embedded one")
    parser.add_argument("--fleet", help="with --server: JSON file of kiosk_tokens and officer_passwords")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument(
        "--signaling-only",
        action="store_true",
        help="no media: raw protocol clients (SDP exchanged) against a server process",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="with --signaling-only: client processes (default: 1, or 2 above 1000 clients)",
    )
    parser.add_argument(
        "--ice-candidates",
        type=int,
        default=0,
        help="with --signaling-only: trickled ICE candidates each party sends per call",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=0,
        help="with --signaling-only: calls placed at once (default 0: every kiosk at once)",
    )
    parser.add_argument(
        "--business",
        action="store_true",
        help="business calls in headless Chromium (Debian's) against a headless officer console: "
        "video, audio, screen share, a PDF upload and chat (simulator/business.py)",
    )
    _appointment_arguments(parser)
    _node_arguments(parser)
    parser.add_argument("--three-way", action="store_true", help=THREE_WAY_HELP)
    parser.add_argument(
        "--officer-auth",
        choices=("password", "session"),
        default="password",
        help="with --signaling-only: officers sign in with a password (argon2) or reconnect "
        "with a session token",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from remote_call.session import restrict_to_loopback

    restrict_to_loopback()  # both parties of every call run on this machine (workers inherit it): 127.0.0.1
    if args.call_seconds is None:
        args.call_seconds = 0.0 if args.signaling_only else 3.0
    if args.signaling_only:
        return _signaling_only(parser, args)
    if args.appointments or args.walk_ins:
        return _appointments(parser, args)
    if args.business:
        return _business(parser, args)
    if args.three_way:
        from simulator.three_way import main_three_way

        return main_three_way(parser, args)
    if args.server and not args.fleet:
        parser.error("--server needs --fleet (the credentials of the kiosks and officers to use)")
    if min(args.kiosks, args.officers) < 1 or args.calls < 0:
        parser.error("--kiosks and --officers must be at least 1 and --calls at least 0")
    if not 0.0 <= args.abandon_rate <= 1.0:
        parser.error(f"--abandon-rate must be between 0 and 1, not {args.abandon_rate}")
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        summary = asyncio.run(run(args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for key, value in summary.items():
            print(f"{key:32} {value}")
    # Success: every resident either had their call or chose to give up, and nobody was lost.
    served = summary["calls_completed"] + summary["abandoned"]
    ok = served == summary["calls_requested"] == args.calls and summary["callers_lost"] == 0
    return 0 if ok else 1


def _signaling_only(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from simulator.load import LoadOptions, run_load, succeeded
    from simulator.load.hygiene import FleetTooLarge, interruptible

    if args.server:
        parser.error("--signaling-only starts its own server process; it cannot use --server")
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,  # an import may have configured logging already (python-escpos does): ours applies
    )
    try:
        options = LoadOptions(
            kiosks=args.kiosks,
            officers=args.officers,
            calls=args.calls,
            call_seconds=args.call_seconds,
            workers=args.workers,
            seed=args.seed,
            ice_candidates=args.ice_candidates,
            config_path=args.config,
            respect_hours=args.respect_hours,
            max_in_flight=args.max_in_flight,
            officer_auth=args.officer_auth,
            nodes=args.nodes,
            kill_node_at=args.kill_node_at,
            kill_node=args.kill_node,
            lease_ttl_s=args.lease_ttl,
            database=args.database,
        )
        with interruptible():  # SIGTERM unwinds like Ctrl-C: the workers and the server are stopped
            summary = run_load(options)
    except FleetTooLarge as exc:
        print(f"madoguchi-sim: refused before starting: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # redis-server or PostgreSQL missing or not answering
        print(f"madoguchi-sim: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        parser.error(str(exc))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        name = signal.Signals(signum).name
        print(
            f"madoguchi-sim: interrupted ({name}); the server and the workers were stopped", file=sys.stderr
        )
        return 128 + signum
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for key, value in summary.items():
            print(f"{key:32} {value}")
    return 0 if succeeded(summary) else 1


def _business(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from simulator.business import ChromiumMissing, run_interruptible, succeeded

    if args.server:
        parser.error("--business starts its own embedded server; it cannot use --server")
    if args.calls < 1:
        parser.error("--business needs --calls of at least 1")
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,  # python-escpos calls logging.basicConfig() when imported: ours must still apply
    )
    try:
        config = load_config(args.config)
        if not args.respect_hours:
            config = always_open(config)
        summary = run_interruptible(config, args.calls)
    except ChromiumMissing as exc:
        print(f"madoguchi-sim --business: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("madoguchi-sim --business: interrupted; browser, console and server closed", file=sys.stderr)
        return 130
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for key, value in summary.items():
            print(f"{key:32} {value}")
    return 0 if succeeded(summary) else 1


def _node_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="with --signaling-only: server nodes on one redis-server and one database; each client has "
        "every node's URL and moves to the next when its node goes (simulator/load/nodes.py)",
    )
    parser.add_argument(
        "--kill-node-at",
        type=float,
        default=None,
        metavar="S",
        help="with --nodes: kill -9 one node S seconds after the calls start",
    )
    parser.add_argument(
        "--kill-node",
        choices=("leader", "follower"),
        default="leader",
        help="with --kill-node-at: the node to kill (default: the switchboard's leader)",
    )
    parser.add_argument(
        "--lease-ttl",
        type=float,
        default=None,
        metavar="S",
        help="with --nodes: the leader's lease (server.cluster.lease_ttl_s; default 3 s)",
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="with --signaling-only: the records in one SQLite file (default) or in a throw-away PostgreSQL "
        "cluster in the run's directory, as docs/deployment-cluster.md lays out several nodes "
        "(Debian's postgresql; simulator/load/postgres.py)",
    )


def _appointment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--appointments",
        type=int,
        default=0,
        help="a simulated day of N booked appointments (予約) and --walk-ins on a fake clock, in process: "
        "check-in by PIN, booked officer first, no-shows (simulator/appointments.py)",
    )
    parser.add_argument("--walk-ins", type=int, default=0, help="with --appointments: walk-in residents")


def _appointments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from simulator.appointments import run_appointment_day

    if args.server:
        parser.error("--appointments runs the server's parts in this process; it cannot use --server")
    if min(args.appointments, args.walk_ins) < 0:
        parser.error("--appointments and --walk-ins must not be negative")
    try:
        summary = run_appointment_day(load_config(args.config), args.appointments, args.walk_ins, args.seed)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for key, value in summary.items():
            print(f"{key:32} {value}")
    return 0 if summary["succeeded"] else 1


if __name__ == "__main__":
    sys.exit(main())
