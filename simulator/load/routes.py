"""Which node each client of a multi-node load run uses, and where it goes when a node dies.

Every client has the whole URL list, as a kiosk's ``server.urls`` (config/client_urls.py): it starts at its
home node and moves to the next URL of its list whenever its connection is refused or drops
(remote_call/signaling_client.py). Homes go round the nodes; every other round the list runs the other way
(home, home-1, home-2 ...), so the clients of a dead node split evenly over the two nodes beside it instead
of all landing on one. With three nodes and the leader killed (every client reconnects: the term changed),
each survivor ends with half of the fleet; with a follower killed, each with half of it too.
"""

from __future__ import annotations


def route(index: int, nodes: int) -> list[int]:
    """The node indexes client ``index`` tries, in order: its home first."""
    home = index % nodes
    step = 1 if (index // nodes) % 2 == 0 else -1
    return [(home + step * i) % nodes for i in range(nodes)]


def landing(path: list[int], dead: int, *, everyone_moves: bool) -> int:
    """Where a client with this route is once node ``dead`` is gone: its home if untouched, else the first
    live node after its home (``everyone_moves``: the leader died, every connection was closed)."""
    if path[0] != dead and not everyone_moves:
        return path[0]
    return next((n for n in [*path[1:], path[0]] if n != dead), path[0])  # round the list, to its home


def busiest_node(kiosks: int, officers: int, nodes: int, *, kill: bool) -> int:
    """The most clients one node holds: at the start, and (``kill``) after any one node is killed, as the
    leader or as a follower. Kiosks and officers each go round the nodes from the first."""
    paths = [route(i, nodes) for i in range(kiosks)] + [route(i, nodes) for i in range(officers)]
    counts = [0] * nodes
    for path in paths:
        counts[path[0]] += 1
    worst = max(counts)
    if not kill:
        return worst
    for dead in range(nodes):
        for everyone_moves in (True, False):
            after = [0] * nodes
            for path in paths:
                after[landing(path, dead, everyone_moves=everyone_moves)] += 1
            worst = max(worst, max(after))
    return worst
