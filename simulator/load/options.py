"""What a signaling-only load run does (``madoguchi-sim --signaling-only``): the fleet, calls, limits."""

from __future__ import annotations

from dataclasses import dataclass

MAX_ERRORS = 50  # error texts kept per worker and in the summary (all are counted)


@dataclass
class LoadOptions:
    kiosks: int = 50
    officers: int = 10
    calls: int = 50
    call_seconds: float = 0.0
    workers: int = 0  # 0: chosen from the fleet size
    connect_concurrency: int = 50  # kiosk handshakes in flight per worker
    # Officer sign-ins in flight per worker. The server verifies two argon2 hashes at a time, and counts a
    # password attempt as failed until it succeeds (signin.py): five at once from the fleet's one address
    # locked it out for 30 s once this client stopped being slow (wsclient.py). Two workers x 2 stay under.
    login_concurrency: int = 2
    ice_candidates: int = 0  # trickled candidates each party sends per call (aiortc peers send none)
    sdp_bytes: int = 3000
    call_timeout_s: float = 600.0
    ready_timeout_s: float = 600.0
    seed: int | None = None
    config_path: str | None = None
    respect_hours: bool = False
    max_queue: int = 10_000
    max_in_flight: int = 0  # calls placed at once across the fleet; 0: every kiosk calls at once (a burst)
    officer_auth: str = "password"  # "password" (argon2 sign-in) or "session" (reconnect with its token)
    nodes: int = 1  # server processes; above 1 a cluster on one redis-server (simulator.load.nodes)
    kill_node_at: float | None = None  # seconds after the calls start: kill -9 of one node
    kill_node: str = "leader"  # which: "leader" (every client reconnects) or "follower" (its clients move)
    lease_ttl_s: float | None = None  # the nodes' [server.cluster] lease_ttl_s; None: the default (3 s)
    reconnect_timeout_s: float = 120.0  # a client that has not found a node again by then is lost
    database: str = "sqlite"  # the records: "sqlite" (one file) or "postgres" (simulator.load.postgres)

    def __post_init__(self) -> None:
        if self.kiosks < 1 or self.officers < 1:
            raise ValueError("a load run needs at least one kiosk and one officer")
        if self.calls < 0:
            raise ValueError(f"calls must be at least 0, got {self.calls}")
        if self.call_seconds < 0:
            raise ValueError(f"call_seconds must be at least 0, got {self.call_seconds}")
        if self.workers < 0:
            raise ValueError(f"workers must be at least 0 (0: automatic), got {self.workers}")
        if not 200 <= self.sdp_bytes <= 40_000:
            raise ValueError(f"sdp_bytes must be between 200 and 40000, got {self.sdp_bytes}")
        if self.officer_auth not in ("password", "session"):
            raise ValueError(f"officer_auth must be 'password' or 'session', got {self.officer_auth!r}")
        if not 0 <= self.ice_candidates <= 20:
            raise ValueError(f"ice_candidates must be between 0 and 20, got {self.ice_candidates}")
        if self.max_in_flight < 0:
            raise ValueError(f"max_in_flight must be at least 0 (0: no limit), got {self.max_in_flight}")
        if not 1 <= self.max_queue <= 10_000:
            raise ValueError(f"max_queue must be between 1 and 10000, got {self.max_queue}")
        if self.database not in ("sqlite", "postgres"):
            raise ValueError(f"database must be 'sqlite' or 'postgres', got {self.database!r}")
        self._check_nodes()

    def _check_nodes(self) -> None:
        if not 1 <= self.nodes <= 9:
            raise ValueError(f"nodes must be between 1 and 9, got {self.nodes}")
        if self.kill_node not in ("leader", "follower"):
            raise ValueError(f"kill_node must be 'leader' or 'follower', got {self.kill_node!r}")
        if self.lease_ttl_s is not None and not 0.5 <= self.lease_ttl_s <= 60:
            raise ValueError(f"lease_ttl_s must be between 0.5 and 60 s, got {self.lease_ttl_s}")
        if self.kill_node_at is not None:
            if self.nodes < 2:
                raise ValueError("--kill-node-at needs --nodes 2 or more (a node to move to)")
            if self.kill_node_at < 0:
                raise ValueError(f"kill_node_at must be at least 0 s, got {self.kill_node_at}")

    def worker_count(self) -> int:
        if self.workers:
            return self.workers
        return 1 if self.kiosks + self.officers <= 1000 else 2
