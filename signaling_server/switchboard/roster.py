"""Who is connected: one connection per kiosk, business and officer, any number of watchers (supervisors, IT).

Kiosks and businesses are both *callers*: they request a call and offer its media. They are kept in
separate registries (a business is never counted or monitored as a kiosk); a call record says which kind
of caller it has by its ``business`` column (``caller_role``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from remote_call import protocol as p
from remote_call.protocol import Role
from signaling_server.auth import Principal
from signaling_server.calls import Call
from signaling_server.store import CallRecord


@dataclass(eq=False)
class Client:
    """One authenticated websocket connection. ``send`` never blocks: messages go through a bounded queue
    drained by the connection's writer; a client that cannot keep up is cut off."""

    principal: Principal
    send_raw: Callable[[str], None]
    close: Callable[[], None]
    calls: set[str] = field(default_factory=set)
    # The last call_ended written to this connection and when: if the connection outlives it by a
    # heartbeat round it was delivered, and is not replayed when the party reconnects (Presence.detach).
    last_end: tuple[str, float] | None = None
    # The calls it was told of right after its welcome and has not asked about since: the ``sync_call`` a
    # client sends after it reconnects is answered by that telling, not a second time.
    told: set[str] = field(default_factory=set)
    # The principal's, copied: read a few times for every relayed message.
    identity: str = field(init=False)
    role: Role = field(init=False)

    def __post_init__(self) -> None:
        self.identity = self.principal.identity
        self.role = self.principal.role

    def send(self, message: p.Wire) -> None:
        self.send_raw(p.encode(message))


Party = tuple[Role, str]  # a kiosk, business or officer, connected or not
CALLERS = frozenset({Role.KIOSK, Role.BUSINESS})  # who requests a call and offers its media
PARTIES = CALLERS | {Role.OFFICER}


def caller_role(record: CallRecord) -> Role:
    """Whether a call's caller is a kiosk or a business."""
    return Role.BUSINESS if record.business is not None else Role.KIOSK


def is_caller_of(client: Client, record: CallRecord) -> bool:
    return record.kiosk_id == client.identity and client.role is caller_role(record)


class Roster:
    """The connected clients, and what a kiosk or officer must hear when it comes back."""

    def __init__(self) -> None:
        self.kiosks: dict[str, Client] = {}
        self.businesses: dict[str, Client] = {}  # biz-<invitation id>: a business's browser
        self.officers: dict[str, Client] = {}
        self.interpreters: dict[str, Client] = {}  # third parties, run by switchboard.conference
        self.guests: dict[str, Client] = {}  # family members by link, run by switchboard.guests
        self.watchers: set[Client] = set()  # supervisors and IT: read-only views
        # What happened to a party's calls while it was gone too long, told when it comes back.
        self.missed: dict[Party, list[p.Wire]] = {}
        # Each party's latest call: if it ended while the party's connection was dying unnoticed, the
        # call_ended was lost with it; the party hears it again when it comes back.
        self.last_call: dict[Party, str] = {}

    def registry(self, role: Role) -> dict[str, Client]:
        """Kiosks', businesses' or officers' connections by identity."""
        if role is Role.KIOSK:
            return self.kiosks
        return self.businesses if role is Role.BUSINESS else self.officers

    def caller_of(self, call: Call) -> Client | None:
        """The call's kiosk or business, if connected."""
        return self.registry(caller_role(call.record)).get(call.record.kiosk_id)

    def officer_of(self, call: Call) -> Client | None:
        return self.officers.get(call.record.officer or "")

    def peer_of(self, call: Call, client: Client) -> Client | None:
        if client.role in CALLERS:
            return self.officers.get(call.record.officer or "")
        return self.caller_of(call)

    def send_parties(self, call: Call, message: p.Wire) -> None:
        text = p.encode(message)
        guest = self.guests.get(call.guest) if call.guest is not None else None  # it hears the call too
        for client in (self.caller_of(call), self.officer_of(call), guest):
            if client is not None:
                client.send_raw(text)

    def send_to_kiosk(self, kiosk_id: str, message: p.Wire) -> bool:
        client = self.kiosks.get(kiosk_id)
        if client is None:
            return False
        client.send(message)
        return True
