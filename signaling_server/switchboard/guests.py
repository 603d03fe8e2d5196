"""A family member in the call (issue 18, the fourth party): guest links on the wire and the guest's pairs.

A guest is a browser signed in with the session its link was redeemed for (``guest_links``); it can do one
thing: be in that one call. When it connects it joins: it is the offerer of a peer connection to every
party in the call (caller, officer, interpreter); a party that joins after it (a new officer after a
transfer, an interpreter) offers to it. Messages with ``peer: "guest"`` from the others, and every media
message of the guest, come here; ``peer`` is rewritten to the sender's party as in ``conference``.

The guest leaving (``leave_call``) or its connection dropping only takes the guest's pairs away: the
others get ``party_left {party: "guest"}`` and go on. A guest that dropped and reconnects (the same
session) joins again; one that left cannot (the officer makes a new link). The call ending ends the
guest's session and its page (``call_ended``). The links are in the record database (``guest_links``):
a guest redeemed or signed in on another node, or before a restart, is the same guest here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from remote_call import protocol as p
from remote_call.protocol import CallState, EndReason, ErrorCode, ProtocolError, Role
from signaling_server.audit import AuditLog
from signaling_server.auth import AuthError, Principal
from signaling_server.calls import Call
from signaling_server.store import CallRecord, Store
from signaling_server.switchboard.directory import Directory
from signaling_server.switchboard.guest_links import (
    GuestLink,
    GuestLinks,
    GuestRedeemed,
    GuestRefused,
)
from signaling_server.switchboard.roster import CALLERS, Client, Roster, is_caller_of

log = logging.getLogger(__name__)

Party = str  # a PartyId
GUEST = "guest"
DEFAULT_NAME = "ご家族"
LIVE = (CallState.CONNECTING, CallState.IN_CALL)
AUDIT_ACTIONS = (
    "guest_link_created",
    "guest_link_redeemed",
    "guest_link_refused",
    "guest_joined",
    "guest_left",
    "guest_refused",
)


@dataclass
class _Guest:
    """The guest in a call: who, since when, which pairs it offered, the officer it is connected to."""

    link: GuestLink
    offered: set[Party] = field(default_factory=set)  # pairs where the guest is the offerer
    officer: str | None = None


class GuestRoom:
    def __init__(
        self,
        *,
        calls: dict[str, Call],
        store: Store,
        roster: Roster,
        directory: Directory,
        audit: AuditLog,
        clock: Callable[[], float],
        ice_transport_policy: str,
    ) -> None:
        self.links = GuestLinks(store.conn, clock)
        self._store = store
        self._calls = calls
        self._roster = roster
        self._directory = directory
        self._audit = audit
        self._clock = clock
        self._policy = ice_transport_policy
        self.clients = roster.guests
        self._in: dict[str, _Guest] = {}  # call id -> its guest
        self._on_call_event: dict[str, Callable[[dict[str, Any]], None]] = {
            "call_connecting": self._officer_answered,
            "call_transferred": self._maybe_officer_gone,
            "call_requeued": lambda data: self._officer_gone(data["call_id"], "disconnected"),
            "call_ended": self._call_ended,
        }

    # ------------------------------------------------------------------ links (REST, guests_routes)

    def record_of(self, call_id: str, *, here: bool = True) -> CallRecord | None:
        """The call's record: this switchboard's live one when it leads (``here``), else the database's
        (a follower's REST answers from the records the leader saves at every change)."""
        if here:
            call = self._calls.get(call_id)
            return call.record if call is not None else None
        return self._store.call(call_id)

    def live_call_of(self, officer: str, call_id: str, *, here: bool = True) -> CallRecord | None:
        record = self.record_of(call_id, here=here)
        if record is None or record.officer != officer or CallState(record.state) not in LIVE:
            return None
        return record

    def redeem(self, secret: str, *, remote: str = "", here: bool = True) -> GuestRedeemed | GuestRefused:
        """``here``: this node leads and knows who is in the call. A follower cannot tell a full call: the
        leader refuses the guest at the door then (``resume``), and its session joins once there is room."""
        link = self.links.find(secret)
        record = self.record_of(link.call_id, here=here) if link is not None else None
        if link is not None and (record is None or record.state == CallState.ENDED.value):
            self.links.call_ended(link.call_id)  # a call that ended unseen (e.g. before a restart)
        call = self._calls.get(link.call_id) if link is not None and here else None
        # One family member at a time, and never more than MAX_PARTIES in all.
        full = call is not None and (call.guest is not None or len(self.parties(call)) >= p.MAX_PARTIES)
        return self.links.redeem(secret, full=full, remote=remote)

    def principal(self, credentials: p.Credentials) -> Principal:
        """The guest a hello signs in, or AuthError (the switchboard's side of ``Authenticator``)."""
        if not isinstance(credentials, p.SessionCredentials):
            raise AuthError("a guest signs in with the session token its link gave")
        link = self.links.session(credentials.token)
        if link is None:
            raise AuthError("this guest session has ended or is unknown; ask the officer for a new link")
        name = link.name or DEFAULT_NAME
        return Principal(Role.GUEST, link.identity, name, {}, credentials.token)

    # ------------------------------------------------------------------ parties

    def parties(self, call: Call) -> list[Party]:
        parties = ["caller"]
        if call.record.officer:
            parties.append("officer")
        if self.interpreter_of(call) is not None:
            parties.append("interpreter")
        if call.guest is not None:
            parties.append(GUEST)
        return parties

    def interpreter_of(self, call: Call) -> Client | None:
        """The call's interpreter's connection: the one whose calls hold this call (conference adds it)."""
        return next((c for c in self._roster.interpreters.values() if call.call_id in c.calls), None)

    def _client_of(self, call: Call, party: Party) -> Client | None:
        if party == "caller":
            return self._roster.caller_of(call)
        if party == "officer":
            return self._roster.officer_of(call)
        if party == "interpreter":
            return self.interpreter_of(call)
        return self.clients.get(call.guest) if party == GUEST and call.guest else None

    def _party_of(self, client: Client, call: Call) -> Party | None:
        if client.role in CALLERS:
            return "caller" if is_caller_of(client, call.record) else None
        if client.role is Role.OFFICER:
            return "officer" if call.record.officer == client.identity else None
        if client.role is Role.INTERPRETER:
            return "interpreter" if call.call_id in client.calls else None
        return GUEST if client.role is Role.GUEST and call.guest == client.identity else None

    # ------------------------------------------------------------------ the guest's connection

    def attach(self, client: Client) -> p.Welcome:
        old = self.clients.get(client.identity)
        if old is not None and old is not client:
            self.detach(old)
            old.close()
        self.clients[client.identity] = client
        return p.Welcome.model_validate(
            {
                "role": Role.GUEST,
                "identity": client.identity,
                "display_name": client.principal.display_name,
                "ice_servers": self._directory.ice_servers(client.identity),
            }
        )

    def resume(self, client: Client) -> None:
        """After the welcome: the guest joins its call (again, after a dropped connection)."""
        link = self.links.session(client.principal.session_token or "")
        call = self._calls.get(link.call_id) if link is not None else None
        if link is None or call is None or call.state not in LIVE:
            ended = link.call_id if link is not None else "unknown"
            client.send(p.CallEnded(call_id=ended, reason=EndReason.COMPLETED))
            client.close()
            return
        refusal = self._no_room(call, client.identity)
        if refusal is not None:
            self._audit.append(client.identity, "guest_refused", call.call_id, {"reason": refusal})
            client.send(p.Error(code=ErrorCode.CONFLICT, detail=refusal, about="hello"))
            client.close()
            return
        self._join(call, link, client)

    def _no_room(self, call: Call, identity: str) -> str | None:
        if call.guest == identity:
            return None
        if len(self.parties(call)) >= p.MAX_PARTIES:
            return f"the call already has {p.MAX_PARTIES} parties"
        if call.guest is not None:
            return "the call already has a family member in it"
        return None

    def _join(self, call: Call, link: GuestLink, client: Client) -> None:
        call.guest = client.identity
        client.calls.add(call.call_id)
        guest = self._in.get(call.call_id)
        if guest is None or guest.link.link_id != link.link_id:
            guest = self._in[call.call_id] = _Guest(link)
            self._audit.append(client.identity, "guest_joined", call.call_id, {"link": link.link_id})
        guest.offered.clear()
        for party in self.parties(call):
            if party == GUEST or self._client_of(call, party) is None:
                continue
            if party == "officer":
                guest.officer = call.record.officer
            self._connect(call, guest, party, guest_offers=True)

    def detach(self, client: Client) -> None:
        if self.clients.get(client.identity) is not client:
            return
        del self.clients[client.identity]
        for call_id in list(client.calls):
            self._depart(call_id, client.identity, "disconnected")

    def leave(self, client: Client, msg: p.LeaveCall) -> None:
        call = self._calls.get(msg.call_id)
        if call is None or call.guest != client.identity:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"you are not in call {msg.call_id!r}", msg.type)
        guest = self._in.get(msg.call_id)
        self._depart(msg.call_id, client.identity, "left")
        if guest is not None:
            self.links.close_session(guest.link)  # single use: a guest that left does not come back
        client.send(p.CallEnded(call_id=msg.call_id, reason=EndReason.COMPLETED))

    def _depart(self, call_id: str, identity: str, reason: str) -> None:
        """The guest is out of the call; the others are told and go on untouched."""
        call = self._calls.get(call_id)
        client = self.clients.get(identity)
        if client is not None:
            client.calls.discard(call_id)
        if call is None or call.guest != identity:
            return
        call.guest = None
        guest = self._in.pop(call_id, None)
        self._audit.append(identity, "guest_left", call_id, {"reason": reason})
        left = p.PartyLeft.model_validate({"call_id": call_id, "party": GUEST, "reason": reason})
        self._roster.send_parties(call, left)
        interpreter = self.interpreter_of(call)
        if interpreter is not None:
            interpreter.send(left)
        if guest is not None and reason == "disconnected":
            log.info("call %s: the guest dropped; its session may join again", call_id)

    # ------------------------------------------------------------------ the wire

    def _connect(
        self, call: Call, guest: _Guest, party: Party, *, guest_offers: bool, restart: bool = False
    ) -> None:
        """Both ends of the guest↔``party`` pair: build (or rebuild) their peer connection."""
        if guest_offers:
            guest.offered.add(party)
        else:
            guest.offered.discard(party)
        other = self._client_of(call, party)
        me = self._client_of(call, GUEST)
        common = {
            "call_id": call.call_id,
            "department": call.record.department,
            "ice_transport_policy": self._policy,
            "restart": restart,
        }
        if me is not None:
            name = self._name_of(call, party, other)
            me.send(self._connecting(common, guest_offers, party, name, me.identity))
        if other is not None:
            name = guest.link.name or DEFAULT_NAME
            other.send(self._connecting(common, not guest_offers, GUEST, name, other.identity))

    def _connecting(
        self, common: dict[str, Any], offerer: bool, peer: Party, name: str, identity: str
    ) -> p.CallConnecting:
        return p.CallConnecting.model_validate(
            {
                **common,
                "offerer": offerer,
                "peer": peer,
                "peer_name": name,
                "ice_servers": self._directory.ice_servers(identity),
            }
        )

    def _name_of(self, call: Call, party: Party, client: Client | None) -> str:
        if party == "caller":
            return self._directory.caller_info(call.record).name
        return client.principal.display_name if client is not None else party

    def _pair(self, client: Client, msg: Any) -> tuple[Call, _Guest, Party, Party]:
        """The call, its guest, the sender's party and the party the message is for; or NOT_FOUND."""
        call = self._calls.get(msg.call_id)
        sender = self._party_of(client, call) if call is not None else None
        guest = self._in.get(msg.call_id)
        if call is None or sender is None or guest is None or call.guest is None:
            raise ProtocolError(
                ErrorCode.NOT_FOUND, f"no call {msg.call_id!r} with a guest of yours", msg.type
            )
        peer = msg.peer
        if peer is None or peer == sender or GUEST not in (peer, sender):
            raise ProtocolError(ErrorCode.INVALID, "name the other party in 'peer'", msg.type)
        if peer not in self.parties(call):
            detail = f"party {peer!r} is not connected to you in call {msg.call_id}"
            raise ProtocolError(ErrorCode.NOT_FOUND, detail, msg.type)
        return call, guest, sender, peer

    def relay(self, client: Client, msg: p.SessionDescription | p.IceCandidate, _raw: str | None) -> None:
        call, _guest, sender, peer = self._pair(client, msg)
        target = self._client_of(call, peer)
        if target is not None:
            target.send(msg.model_copy(update={"peer": sender}))

    def media_connected(self, client: Client, msg: p.MediaConnected) -> None:
        call, _guest, sender, peer = self._pair(client, msg)
        log.info("call %s: media %s↔%s up (said %s)", call.call_id, sender, peer, sender)

    def restart_media(self, client: Client, msg: p.RestartMedia) -> None:
        call, guest, sender, peer = self._pair(client, msg)
        party = peer if sender == GUEST else sender
        log.info("call %s: media restart of guest↔%s (%s)", call.call_id, party, msg.reason)
        self._connect(call, guest, party, guest_offers=party in guest.offered, restart=True)

    def sync(self, client: Client, msg: p.SyncCall) -> None:
        call = self._calls.get(msg.call_id)
        if call is not None and call.guest == client.identity:
            client.send(p.CallStarted(call_id=msg.call_id))
        else:
            client.send(p.CallEnded(call_id=msg.call_id, reason=EndReason.COMPLETED))

    # ------------------------------------------------------------------ what happens to calls

    def on_event(self, event: str, data: dict[str, Any]) -> None:
        """A switchboard listener: calls answered, transferred, requeued and ended."""
        handler = self._on_call_event.get(event)
        if handler is not None:
            try:
                handler(data)
            except Exception:  # logged; a listener never breaks the call's own path
                log.exception("guests: %s %s", event, data.get("call_id"))

    def _officer_answered(self, data: dict[str, Any]) -> None:
        call = self._calls.get(data["call_id"])
        guest = self._in.get(data["call_id"])
        if call is None or guest is None or call.guest is None or guest.officer == data["officer"]:
            return
        if guest.officer is not None:  # a warm transfer: the first officer hands over
            self._tell_guest(call, "officer", "left")
        guest.officer = data["officer"]
        self._connect(call, guest, "officer", guest_offers=False)  # the joining officer offers

    def _maybe_officer_gone(self, data: dict[str, Any]) -> None:
        call = self._calls.get(data["call_id"])
        if not data.get("warm") and call is not None and call.state is CallState.QUEUED:
            self._officer_gone(data["call_id"], "left")

    def _officer_gone(self, call_id: str, reason: str) -> None:
        call = self._calls.get(call_id)
        guest = self._in.get(call_id)
        if call is not None and guest is not None and guest.officer is not None:
            self._tell_guest(call, "officer", reason)
            guest.officer = None

    def _tell_guest(self, call: Call, party: Party, reason: str) -> None:
        client = self._client_of(call, GUEST)
        if client is not None:
            left = p.PartyLeft.model_validate({"call_id": call.call_id, "party": party, "reason": reason})
            client.send(left)

    def _call_ended(self, data: dict[str, Any]) -> None:
        """The guest heard ``call_ended`` with the others (``roster.send_parties``); its links end too."""
        call_id = data["call_id"]
        guest = self._in.pop(call_id, None)
        for link in self.links.call_ended(call_id):
            client = self.clients.get(link.identity)
            if client is not None:
                client.calls.discard(call_id)
        if guest is not None:
            self._audit.append(guest.link.identity, "guest_left", call_id, {"reason": "call_ended"})
