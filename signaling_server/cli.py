"""`madoguchi-server`: run the signaling server."""

from __future__ import annotations

import argparse
import functools
import logging
import sys

from config import ConfigError, load_config
from signaling_server import gc_watch
from signaling_server.app import create_app
from signaling_server.db import DatabaseError
from signaling_server.drain import drain_node
from signaling_server.limits import run_guarded


def announce(message: str) -> None:
    """The bound address (with ``--port 0`` the port the system chose): logged, and on stdout whatever the
    log level, so whoever started the server can read its URL."""
    logging.getLogger("madoguchi").info(message)
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="madoguchi-server", description=__doc__)
    parser.add_argument(
        "--config", help="TOML configuration (default: $MADOGUCHI_CONFIG or Morioka defaults)"
    )
    parser.add_argument("--host", help="override server.host")
    parser.add_argument("--port", type=int, help="override server.port")
    parser.add_argument("--database", help="override server.database")
    parser.add_argument(
        "--node-id", help="override server.cluster.node_id (several nodes, one configuration)"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    overrides = (("host", args.host), ("port", args.port), ("database", args.database))
    server = config.server.model_copy(update={k: v for k, v in overrides if v is not None})  # port 0: any
    if args.node_id is not None:
        if server.cluster is None:
            print("--node-id needs a [server.cluster] section in the configuration", file=sys.stderr)
            return 2
        server = server.model_copy(
            update={"cluster": server.cluster.model_copy(update={"node_id": args.node_id})}
        )
    config = config.model_copy(update={"server": server})
    ssl_context = None
    if server.tls_cert and server.tls_key:
        from signaling_server.tls import server_ssl_context

        ssl_context = server_ssl_context(server.tls_cert, server.tls_key)
    try:
        app = create_app(config)  # opens server.database and applies its migrations
    except DatabaseError as exc:
        print(f"madoguchi-server: {exc}", file=sys.stderr)
        return 2
    gc_watch.install()  # a long pause of the collector is logged (gc_watch.py)
    # Like web.run_app, behind the connection guard (header and idle time-outs, caps; limits.py).
    run_guarded(
        app,
        host=server.host,
        port=server.port,
        ssl_context=ssl_context,
        announce=announce,
        drain=functools.partial(drain_node, app, server.drain_notice_s),  # SIGTERM: rolling upgrades
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
