"""A small network lab on one machine: hosts in their own network namespaces on one bridge, and faults
(packet loss with nftables, delay with netem where the kernel has it, link cuts).

    lab = NetLab("mdg1234", ["srv", "kio", "off"])   # 10.77.0.1, .2, .3 on a bridge
    lab.up(); lab.loss("kio", 20); lab.cut("off"); lab.restore("off"); lab.down()

Needs root and iproute2; every address is private to the namespaces this lab creates.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field

SUBNET = "10.77.0"


class NetLabUnavailable(Exception):
    """This machine cannot build the lab (no root, no network namespaces); the message says why."""


class FaultUnavailable(Exception):
    """A fault that was asked for cannot be injected here; the message names what is missing. A chaos run
    must fail on it rather than quietly inject fewer kinds of fault than it promised."""


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30)


@dataclass
class NetLab:
    prefix: str
    hosts: list[str]
    namespaces: list[str] = field(default_factory=list)

    def ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def address(self, host: str) -> str:
        return f"{SUBNET}.{self.hosts.index(host) + 1}"

    @property
    def hub(self) -> str:
        return f"{self.prefix}-hub"

    def _veth(self, host: str, side: str) -> str:
        return f"{self.prefix[-6:]}{host[:3]}{side}"  # ≤ 15 characters

    def up(self) -> None:
        if shutil.which("ip") is None:
            raise NetLabUnavailable("iproute2 ('ip') is not installed")
        try:
            _run("ip", "netns", "add", self.hub)
        except (subprocess.CalledProcessError, OSError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            raise NetLabUnavailable(f"cannot create network namespaces here: {detail.strip()}") from None
        self.namespaces.append(self.hub)
        try:
            _run("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge")
            _run("ip", "-n", self.hub, "link", "set", "br0", "up")
            for host in self.hosts:
                ns = self.ns(host)
                _run("ip", "netns", "add", ns)
                self.namespaces.append(ns)
                inner, outer = self._veth(host, "a"), self._veth(host, "b")
                _run("ip", "link", "add", inner, "type", "veth", "peer", "name", outer)
                _run("ip", "link", "set", inner, "netns", ns)
                _run("ip", "link", "set", outer, "netns", self.hub)
                _run("ip", "-n", self.hub, "link", "set", outer, "master", "br0")
                _run("ip", "-n", self.hub, "link", "set", outer, "up")
                _run("ip", "-n", ns, "link", "set", "lo", "up")
                _run("ip", "-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", inner)
                _run("ip", "-n", ns, "link", "set", inner, "up")
        except (subprocess.CalledProcessError, OSError) as exc:
            self.down()
            raise NetLabUnavailable(f"cannot wire the lab: {getattr(exc, 'stderr', exc)}") from None

    def down(self) -> None:
        for ns in reversed(self.namespaces):
            _run("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()

    def command(self, host: str, *argv: str) -> list[str]:
        """argv to run a program inside ``host``'s namespace."""
        return ["ip", "netns", "exec", self.ns(host), *argv]

    # ------------------------------------------------------------------ faults

    def cut(self, host: str) -> None:
        """Unplug the host's cable (at the bridge side): nothing gets in or out."""
        _run("ip", "-n", self.hub, "link", "set", self._veth(host, "b"), "down")

    def loss(self, host: str, percent: int) -> None:
        """Drop ``percent`` % of the host's packets both ways (UDP and TCP) with nftables."""
        if shutil.which("nft") is None:
            raise FaultUnavailable(
                "packet loss needs nftables' nft command (Debian package nftables; scripts/bootstrap.sh "
                "installs it)"
            )
        ns = self.ns(host)
        self._clear_loss(host)
        script = (
            "table inet chaos {\n"
            f" chain out {{ type filter hook output priority 0; numgen random mod 100 < {percent} drop; }}\n"
            " chain in { type filter hook input priority 0;"
            f' iifname != "lo" numgen random mod 100 < {percent} drop; }}\n}}\n'
        )
        result = subprocess.run(
            ["ip", "netns", "exec", ns, "nft", "-f", "-"],
            input=script,
            text=True,
            capture_output=True,
            timeout=30,
        )
        if result.returncode != 0:
            raise FaultUnavailable(
                f"nft refused the packet-loss rules in {ns}: {result.stderr.strip()[:300]}"
            )

    def delay(self, host: str, ms: int) -> bool:
        """Delay the host's outgoing packets; False where the kernel has no netem."""
        result = _run(
            "ip",
            "netns",
            "exec",
            self.ns(host),
            "tc",
            "qdisc",
            "replace",
            "dev",
            self._veth(host, "a"),
            "root",
            "netem",
            "delay",
            f"{ms}ms",
            check=False,
        )
        return result.returncode == 0

    def restore(self, host: str) -> None:
        """Plug the cable back in, stop dropping and delaying."""
        _run("ip", "-n", self.hub, "link", "set", self._veth(host, "b"), "up", check=False)
        self._clear_loss(host)
        _run(
            "ip",
            "netns",
            "exec",
            self.ns(host),
            "tc",
            "qdisc",
            "del",
            "dev",
            self._veth(host, "a"),
            "root",
            check=False,
        )

    def _clear_loss(self, host: str) -> None:
        if shutil.which("nft"):
            _run("ip", "netns", "exec", self.ns(host), "nft", "delete", "table", "inet", "chaos", check=False)
