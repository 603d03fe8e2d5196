"""The node's figures on /metrics (its app's registry): whether it leads, Redis, its connections."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from signaling_server.cluster.node import Node


class NodeMetrics(Collector):
    """Which node this is, whether it leads, Redis, and its connections (per-app registry, /metrics)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        node, labels = self.node, [self.node.node_id]
        for name, doc, value in (
            ("madoguchi_cluster_leader", "1 when this node runs the switchboard", node.leading),
            ("madoguchi_cluster_redis_up", "1 when this node reaches Redis", node.redis_up),
            ("madoguchi_cluster_candidate", "1 when this node may take the lease", node.may_lead),
            ("madoguchi_cluster_epoch", "The switchboard leader's term", node.lease.highest_epoch),
            ("madoguchi_cluster_takeovers", "Terms this node has taken", node.takeovers),
            (
                "madoguchi_cluster_subscription_losses",
                "Times Redis broke this node's subscriptions (frames lost; its clients reconnected)",
                node.subscription_losses,
            ),
        ):
            family = GaugeMetricFamily(name, doc, labels=["node"])
            family.add_metric(labels, float(value))
            yield family
        family = GaugeMetricFamily(
            "madoguchi_cluster_connections", "Connections on this node, by route", labels=["node", "route"]
        )
        for route, count in node.gateway.counts().items():
            family.add_metric([node.node_id, route], float(count))
        yield family
