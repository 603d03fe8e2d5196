"""Who is connected: one connection per kiosk and per officer, any number of watchers (supervisors, IT)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from remote_call import protocol as p
from remote_call.protocol import Role
from signaling_server.auth import Principal
from signaling_server.calls import Call


@dataclass(eq=False)
class Client:
    """One authenticated websocket connection. ``send`` never blocks: messages go through a bounded queue
    drained by the connection's writer; a client that cannot keep up is cut off."""

    principal: Principal
    send_raw: Callable[[str], None]
    close: Callable[[], None]
    calls: set[str] = field(default_factory=set)
    # The principal's, copied: read a few times for every relayed message.
    identity: str = field(init=False)
    role: Role = field(init=False)

    def __post_init__(self) -> None:
        self.identity = self.principal.identity
        self.role = self.principal.role

    def send(self, message: p.Wire) -> None:
        self.send_raw(p.encode(message))


Party = tuple[Role, str]  # a kiosk or an officer, connected or not


class Roster:
    """The connected clients, and what a kiosk or officer must hear when it comes back."""

    def __init__(self) -> None:
        self.kiosks: dict[str, Client] = {}
        self.officers: dict[str, Client] = {}
        self.watchers: set[Client] = set()  # supervisors and IT: read-only views
        # What happened to a party's calls while it was gone too long, told when it comes back.
        self.missed: dict[Party, list[p.Wire]] = {}
        # Each party's latest call: if it ended while the party's connection was dying unnoticed, the
        # call_ended was lost with it; the party hears it again when it comes back.
        self.last_call: dict[Party, str] = {}

    def registry(self, role: Role) -> dict[str, Client]:
        """Kiosks' or officers' connections by identity."""
        return self.kiosks if role is Role.KIOSK else self.officers

    def kiosk_of(self, call: Call) -> Client | None:
        return self.kiosks.get(call.record.kiosk_id)

    def officer_of(self, call: Call) -> Client | None:
        return self.officers.get(call.record.officer or "")

    def peer_of(self, call: Call, client: Client) -> Client | None:
        record = call.record
        if client.role is Role.KIOSK:
            return self.officers.get(record.officer or "")
        return self.kiosks.get(record.kiosk_id)

    def send_parties(self, call: Call, message: p.Wire) -> None:
        text = p.encode(message)
        for client in (self.kiosk_of(call), self.officer_of(call)):
            if client is not None:
                client.send_raw(text)

    def send_to_kiosk(self, kiosk_id: str, message: p.Wire) -> bool:
        client = self.kiosks.get(kiosk_id)
        if client is None:
            return False
        client.send(message)
        return True
