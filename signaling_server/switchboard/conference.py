"""A third party in a call (issue 18): interpreters — their connections, the pool's decisions on the wire,
and the peer-addressed media messages of a call with more than two parties.

The caller↔officer pair stays exactly as ``effects`` runs it; this module only adds the pairs with the
interpreter, so a third party's failure never touches the other two. Media is a mesh: the joining party
offers each of its new peer connections; a message with ``peer`` goes to that party with ``peer``
rewritten to the sender's party id (docs/protocol.md "Three parties").

It hears what happens to calls from the switchboard's events (``on_event``): a call that ends ends the
interpreter's part too; a transfer keeps the interpreter with the resident (it follows to the next
officer); a call answered with an interpreter asked for at the kiosk requests one then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from remote_call import protocol as p
from remote_call.protocol import CallState, EndReason, ErrorCode, ProtocolError, Role
from signaling_server.audit import AuditLog
from signaling_server.calls import Call
from signaling_server.db import DatabaseUnavailable
from signaling_server.routing.interpreters import InterpreterPool
from signaling_server.routing.interpreters_decisions import (
    InterpretationClosed,
    InterpretationRinging,
    InterpretationWaiting,
    InterpreterStateChanged,
    JoinInterpreter,
    OfferInterpretation,
    PoolDecision,
    PoolError,
    WithdrawInterpretation,
)
from signaling_server.routing.interpreters_snapshot import InterpreterSnapshot
from signaling_server.store import Store
from signaling_server.switchboard.conference_restore import restore_waiting
from signaling_server.switchboard.directory import Directory
from signaling_server.switchboard.roster import CALLERS, Client, Roster, is_caller_of
from signaling_server.switchboard.timers import EdgeTimers

log = logging.getLogger(__name__)

INTERPRETER = frozenset({Role.INTERPRETER})
OFFICER = frozenset({Role.OFFICER})
Handler = Callable[[Client, Any, "str | None"], None]
Party = str  # a PartyId: "caller", "officer", "interpreter"
PAIR_RESTART_DEBOUNCE_S = 3.0  # as the caller<->officer pair's: two requests within this make one restart


@dataclass
class _Third:
    """The interpreter in a call: who, in which language, the officer it is connected to, since when."""

    identity: str
    name: str
    language: str
    row_id: int
    officer: str | None
    offerer: dict[Party, bool] = field(default_factory=dict)  # per pair: is the interpreter the offerer
    restarted_at: dict[Party, float] = field(default_factory=dict)  # per pair: its last media restart


class Conference:
    def __init__(
        self,
        *,
        pool: InterpreterPool,
        store: Store,
        audit: AuditLog,
        calls: dict[str, Call],
        roster: Roster,
        directory: Directory,
        timers: EdgeTimers,
        reconnect_grace_s: float,
        ice_transport_policy: str,
    ) -> None:
        self.pool = pool
        self._store = store
        self._audit = audit
        self._calls = calls
        self._roster = roster
        self._directory = directory
        self._timers = timers
        self._clock = timers.clock
        self._grace_s = reconnect_grace_s
        self._policy = ice_transport_policy
        self.clients = roster.interpreters  # the interpreters' connections
        self._thirds: dict[str, _Third] = {}  # call id -> its interpreter
        self._asked: dict[str, str] = {}  # call id -> language the kiosk asked for before an answer
        self._graces: dict[str, float] = {}  # a dropped interpreter in a call: when its grace ends
        self.table: dict[type[p.Wire], tuple[frozenset[Role], Handler]] = {
            p.RequestInterpreter: (OFFICER, self._request),
            p.CancelInterpreter: (OFFICER, self._cancel),
            p.AcceptInterpretation: (INTERPRETER, self._accept),
            p.DeclineInterpretation: (INTERPRETER, self._decline),
            p.LeaveCall: (INTERPRETER, self._leave),
        }
        self._effects: dict[type, Callable[[Any], None]] = {
            OfferInterpretation: self._on_offer,
            WithdrawInterpretation: self._on_withdraw,
            JoinInterpreter: self._on_join,
            InterpretationWaiting: self._on_waiting,
            InterpretationRinging: lambda d: self._status(d.call_id, d.language, "ringing"),
            InterpretationClosed: lambda d: self._status(d.call_id, d.language, d.outcome),
            InterpreterStateChanged: self._on_state,
        }
        self._on_call_event: dict[str, Callable[[dict[str, Any]], None]] = {
            "call_connecting": self._call_answered,
            "call_transferred": self._call_transferred,
            "call_requeued": lambda data: self._officer_gone(data["call_id"], "disconnected"),
            "call_ended": self._call_ended,
        }

    # ------------------------------------------------------------------ views

    def is_in(self, call_id: str, identity: str) -> bool:
        third = self._thirds.get(call_id)
        return third is not None and third.identity == identity

    def next_due(self) -> float | None:
        due = [t for t in (self.pool.next_deadline(), min(self._graces.values(), default=None)) if t]
        return min(due, default=None)

    def stats(self) -> dict[str, Any]:
        return self.pool.stats()

    # ------------------------------------------------------------------ pool decisions

    def apply(self, decisions: Iterable[PoolDecision]) -> None:
        for decision in decisions:
            self._effects[type(decision)](decision)
        self._timers.wake_by(self.pool.next_deadline())

    def tick(self) -> None:
        self.apply(self.pool.tick())
        now = self._clock()
        for identity in [i for i, due in self._graces.items() if due <= now]:
            del self._graces[identity]
            for call_id in [c for c, t in self._thirds.items() if t.identity == identity]:
                self._depart(call_id, "disconnected")
            if identity not in self.clients:
                self.apply(self.pool.offline(identity))

    def _on_offer(self, d: OfferInterpretation) -> None:
        call = self._calls.get(d.call_id)
        client = self.clients.get(d.interpreter_id)
        if call is not None and client is not None:
            client.send(
                p.InterpretationOffer.model_validate(
                    {
                        "call_id": d.call_id,
                        "language": d.language,
                        "department": call.record.department,
                        "caller": call.caller,
                        "waited_s": round(d.waited_s, 1),
                        "ring_timeout_s": d.ring_timeout_s,
                    }
                )
            )

    def _on_withdraw(self, d: WithdrawInterpretation) -> None:
        client = self.clients.get(d.interpreter_id)
        if client is not None:
            client.send(p.OfferWithdrawn.model_validate({"call_id": d.call_id, "reason": d.reason}))

    def _on_waiting(self, d: InterpretationWaiting) -> None:
        self._status(d.call_id, d.language, "waiting", position=d.position, estimate_s=d.estimate_s)

    def _on_state(self, d: InterpreterStateChanged) -> None:
        client = self.clients.get(d.interpreter_id)
        if client is not None:
            client.send(p.OfficerState.model_validate({"state": d.state.value, "reason": d.reason}))

    def _status(self, call_id: str, language: str, state: str, **extra: Any) -> None:
        call = self._calls.get(call_id)
        if call is None:
            return
        status = p.InterpreterStatus.model_validate(
            {"call_id": call_id, "language": language, "state": state, **extra}
        )
        self._roster.send_parties(call, status)

    def _on_join(self, d: JoinInterpreter) -> None:
        call = self._calls.get(d.call_id)
        client = self.clients.get(d.interpreter_id)
        if call is None or client is None or len(self._parties(call)) >= p.MAX_PARTIES:
            self.apply(self.pool.leave(d.call_id))
            if client is not None and call is not None:
                client.send(p.CallEnded(call_id=d.call_id, reason=EndReason.COMPLETED))
            return
        now = self._clock()
        name = client.principal.display_name or client.identity
        row = self._store.party_joined(d.call_id, "interpreter", d.interpreter_id, d.language, now)
        third = _Third(d.interpreter_id, name, d.language, row, None)
        self._thirds[d.call_id] = third
        client.calls.add(d.call_id)
        self._audit.append(d.interpreter_id, "interpreter_joined", d.call_id, {"language": d.language})
        self._connect(call, third, "caller", interpreter_offers=True)
        if call.record.officer and call.state in (CallState.CONNECTING, CallState.IN_CALL):
            third.officer = call.record.officer
            self._connect(call, third, "officer", interpreter_offers=True)
        if call.guest is not None:  # a guest in the call already: the joining interpreter offers to it
            self._connect(call, third, "guest", interpreter_offers=True)
        self._status(d.call_id, d.language, "joined", name=name)

    # ------------------------------------------------------------------ the wire

    def _connect(
        self, call: Call, third: _Third, party: Party, *, interpreter_offers: bool, restart: bool = False
    ) -> None:
        """Both ends of the interpreter↔``party`` pair: build (or rebuild) their peer connection."""
        third.offerer[party] = interpreter_offers
        other = self._client_of(call, party)
        interpreter = self.clients.get(third.identity)
        common = {
            "call_id": call.call_id,
            "department": call.record.department,
            "ice_transport_policy": self._policy,
            "restart": restart,
        }
        if interpreter is not None:
            interpreter.send(
                p.CallConnecting.model_validate(
                    {
                        **common,
                        "offerer": interpreter_offers,
                        "peer": party,
                        "peer_name": self._name_of(call, party, other),
                        "ice_servers": self._directory.ice_servers(third.identity),
                    }
                )
            )
        if other is not None:
            other.send(
                p.CallConnecting.model_validate(
                    {
                        **common,
                        "offerer": not interpreter_offers,
                        "peer": "interpreter",
                        "peer_name": third.name,
                        "ice_servers": self._directory.ice_servers(other.identity),
                    }
                )
            )

    def _name_of(self, call: Call, party: Party, client: Client | None) -> str:
        if party == "caller":
            return self._directory.caller_info(call.record).name
        return client.principal.display_name if client is not None else party

    def _client_of(self, call: Call, party: Party) -> Client | None:
        if party == "caller":
            return self._roster.caller_of(call)
        if party == "officer":
            return self._roster.officer_of(call)
        if party == "guest":
            return self._roster.guests.get(call.guest or "")
        third = self._thirds.get(call.call_id)
        return self.clients.get(third.identity) if third is not None and party == "interpreter" else None

    def _parties(self, call: Call) -> list[Party]:
        parties = ["caller"]
        if call.record.officer:
            parties.append("officer")
        if call.call_id in self._thirds:
            parties.append("interpreter")
        if call.guest is not None:  # a family member by link (switchboard.guests)
            parties.append("guest")
        return parties

    def party_of(self, client: Client, call: Call) -> Party | None:
        if client.role in CALLERS:
            return "caller" if is_caller_of(client, call.record) else None
        if client.role is Role.OFFICER:
            return "officer" if call.record.officer == client.identity else None
        return "interpreter" if self.is_in(call.call_id, client.identity) else None

    def _pair(self, client: Client, msg: Any) -> tuple[Call, Party, Party]:
        """The call, the sender's party and the party a peer-addressed message is for; or NOT_FOUND."""
        call = self._calls.get(msg.call_id)
        sender = self.party_of(client, call) if call is not None else None
        if call is None or sender is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {msg.call_id!r} of yours", msg.type)
        peer = msg.peer
        if peer is None or peer == sender:
            raise ProtocolError(ErrorCode.INVALID, "name the other party in 'peer'", msg.type)
        if "interpreter" not in (peer, sender):
            detail = "messages between the caller and the officer carry no 'peer'"
            raise ProtocolError(ErrorCode.INVALID, detail, msg.type)
        if peer not in self._parties(call):
            detail = f"party {peer!r} is not connected to you in call {msg.call_id}"
            raise ProtocolError(ErrorCode.NOT_FOUND, detail, msg.type)
        third = self._thirds[call.call_id]
        if "officer" in (peer, sender) and third.officer != call.record.officer:
            raise ProtocolError(ErrorCode.CONFLICT, "the officer is not connected yet", msg.type)
        return call, sender, peer

    def relay(self, client: Client, msg: p.SessionDescription | p.IceCandidate, _raw: str | None) -> None:
        call, sender, peer = self._pair(client, msg)
        target = self._client_of(call, peer)
        if target is not None:
            target.send(msg.model_copy(update={"peer": sender}))

    def media_connected(self, client: Client, msg: p.MediaConnected) -> None:
        call, sender, peer = self._pair(client, msg)
        log.info("call %s: media %s↔%s up (said %s)", call.call_id, sender, peer, sender)

    def restart_media(self, client: Client, msg: p.RestartMedia) -> None:
        call, sender, peer = self._pair(client, msg)
        third = self._thirds[call.call_id]
        party = peer if sender == "interpreter" else sender
        now = self._clock()
        if now - third.restarted_at.get(party, float("-inf")) < PAIR_RESTART_DEBOUNCE_S:
            return  # both ends found the pair dead at once (link pings): one rebuild serves both
        third.restarted_at[party] = now
        log.info("call %s: media restart of interpreter↔%s (%s)", call.call_id, party, msg.reason)
        self._connect(call, third, party, interpreter_offers=third.offerer.get(party, True), restart=True)

    # ------------------------------------------------------------------ messages

    def _request(self, client: Client, msg: p.RequestInterpreter, _raw: str | None) -> None:
        call = self._officer_call(client, msg.call_id, msg.type)
        if msg.call_id in self._thirds:
            third = self._thirds[msg.call_id]
            detail = f"this call already has an interpreter ({third.name}); remove them first"
            raise ProtocolError(ErrorCode.CONFLICT, detail, msg.type)
        if len(self._parties(call)) >= p.MAX_PARTIES:
            detail = f"the call already has {p.MAX_PARTIES} parties"
            raise ProtocolError(ErrorCode.CONFLICT, detail, msg.type)
        self._audit.append(client.identity, "interpreter_requested", msg.call_id, {"language": msg.language})
        self.apply(self.pool.request(msg.call_id, msg.language))

    def _cancel(self, client: Client, msg: p.CancelInterpreter, _raw: str | None) -> None:
        self._officer_call(client, msg.call_id, msg.type)
        if self.pool.request_of(msg.call_id) is not None:
            self.apply(self.pool.cancel(msg.call_id))
        elif msg.call_id in self._thirds:
            self._depart(msg.call_id, "removed")
        else:
            raise ProtocolError(ErrorCode.NOT_FOUND, "this call has no interpreter to cancel", msg.type)

    def _accept(self, client: Client, msg: p.AcceptInterpretation, _raw: str | None) -> None:
        if self.pool.ringing(client.identity) != msg.call_id:
            detail = f"no interpretation of call {msg.call_id!r} is ringing for you"
            raise ProtocolError(ErrorCode.CONFLICT, detail, msg.type)
        if not self._store.db.available:  # its stay is a record (call_parties): refused before deciding
            raise DatabaseUnavailable(f"{self._store.db.unreachable()}: an interpreter cannot join now")
        self.apply(self.pool.accept(client.identity, msg.call_id))

    def _decline(self, client: Client, msg: p.DeclineInterpretation, _raw: str | None) -> None:
        self.apply(self.pool.decline(client.identity, msg.call_id))

    def _leave(self, client: Client, msg: p.LeaveCall, _raw: str | None) -> None:
        if not self.is_in(msg.call_id, client.identity):
            raise ProtocolError(ErrorCode.NOT_FOUND, f"you are not in call {msg.call_id!r}", msg.type)
        self._depart(msg.call_id, "left")

    def set_status(self, client: Client, msg: p.SetStatus) -> None:
        if msg.status == "available":
            self.apply(self.pool.set_available(client.identity))
        else:
            self.apply(self.pool.set_away(client.identity, msg.reason or "break"))

    def sync(self, client: Client, msg: p.SyncCall) -> None:
        if self.is_in(msg.call_id, client.identity):
            client.send(p.CallStarted(call_id=msg.call_id))
        else:
            client.send(p.CallEnded(call_id=msg.call_id, reason=EndReason.COMPLETED))

    def _officer_call(self, client: Client, call_id: str, about: str) -> Call:
        call = self._calls.get(call_id)
        if call is None or call.record.officer != client.identity:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {call_id!r} of yours is in progress", about)
        if call.state not in (CallState.CONNECTING, CallState.IN_CALL):
            raise ProtocolError(ErrorCode.CONFLICT, f"call {call_id} is {call.state.value}", about)
        return call

    def _depart(self, call_id: str, reason: str) -> None:
        """The interpreter is out of the call; the others are told and go on untouched."""
        third = self._thirds.pop(call_id)
        self._store.party_left(third.row_id, self._clock())
        self._audit.append(third.identity, "interpreter_left", call_id, {"reason": reason})
        call = self._calls.get(call_id)
        if call is not None:
            left = p.PartyLeft.model_validate({"call_id": call_id, "party": "interpreter", "reason": reason})
            self._roster.send_parties(call, left)
            self._status(call_id, third.language, "left")
        client = self.clients.get(third.identity)
        if client is not None:
            client.calls.discard(call_id)
            if reason != "left":
                client.send(p.CallEnded(call_id=call_id, reason=EndReason.COMPLETED))
        if self.pool.session_of(call_id) is not None:
            self.apply(self.pool.leave(call_id))

    # ------------------------------------------------------------------ what happens to calls

    def asked(self, call_id: str, language: str | None) -> None:
        """The kiosk asked for an interpreter with its request: requested when an officer answers."""
        if language is not None:
            self._asked[call_id] = language

    def on_event(self, event: str, data: dict[str, Any]) -> None:
        """A switchboard listener: calls answered, transferred, requeued and ended."""
        handler = self._on_call_event.get(event)
        if handler is not None:
            try:
                handler(data)
            except Exception:  # logged; a listener never breaks the call's own path (effects.end, ...)
                log.exception("conference: %s %s", event, data.get("call_id"))

    def _call_answered(self, data: dict[str, Any]) -> None:
        call_id = data["call_id"]
        language = self._asked.pop(call_id, None)
        if language is not None and self.pool.request_of(call_id) is None and call_id not in self._thirds:
            self.apply(self.pool.request(call_id, language))
        third = self._thirds.get(call_id)
        call = self._calls.get(call_id)
        if third is None or call is None or third.officer == data["officer"]:
            return
        if third.officer is not None:  # warm transfer: the first officer hands over
            self._tell_interpreter(call_id, third, "left")
        third.officer = data["officer"]
        # The next officer joins the interpreter's call: the joining party offers.
        self._connect(call, third, "officer", interpreter_offers=False)

    def _call_transferred(self, data: dict[str, Any]) -> None:
        call = self._calls.get(data["call_id"])
        if not data.get("warm") and call is not None and call.state is CallState.QUEUED:
            self._officer_gone(data["call_id"], "left")

    def _officer_gone(self, call_id: str, reason: str) -> None:
        third = self._thirds.get(call_id)
        if third is not None and third.officer is not None:
            self._tell_interpreter(call_id, third, reason)
            third.officer = None

    def _tell_interpreter(self, call_id: str, third: _Third, reason: str) -> None:
        client = self.clients.get(third.identity)
        if client is not None:
            client.send(
                p.PartyLeft.model_validate({"call_id": call_id, "party": "officer", "reason": reason})
            )

    def _call_ended(self, data: dict[str, Any]) -> None:
        call_id = data["call_id"]
        self._asked.pop(call_id, None)
        third = self._thirds.pop(call_id, None)
        if third is not None:
            self._store.party_left(third.row_id, self._clock())
            client = self.clients.get(third.identity)
            if client is not None:
                client.calls.discard(call_id)
                client.send(p.CallEnded.model_validate({"call_id": call_id, "reason": data["reason"]}))
        self.apply(self.pool.call_gone(call_id))

    def restore(self, saved: Mapping[str, Any] | None) -> None:
        """After a restart (the calls restored first): an interpreter's stay in a call that lives on is held
        for it for the reconnect grace, like the officer's (media is peer to peer); other stays end now.
        ``saved``: the queue snapshot as the store holds it, with the interpreters' waiting requests."""
        now = self._clock()
        for row in self._store.open_parties():
            call = self._calls.get(row["call_id"])
            account = self._store.officer(row["username"])
            live = call is not None and call.state in (CallState.CONNECTING, CallState.IN_CALL)
            if call is None or not live or account is None or row["party"] != "interpreter":
                self._store.party_left(row["id"], now)
                continue
            languages = [k for k in account.skills if k in p.INTERPRETER_LANGUAGES]
            try:
                held = self.pool.restore_session(
                    call.call_id, account.username, languages, row["language"], row["joined_at"]
                )
            except PoolError:  # a second open stay of the same interpreter: only one can be true
                self._store.party_left(row["id"], now)
                continue
            self.apply(held)
            name = account.display_name or account.username
            self._thirds[call.call_id] = _Third(
                account.username, name, row["language"], row["id"], call.record.officer
            )
            self._graces[account.username] = now + self._grace_s
        decisions, asked = restore_waiting(self.pool, saved, self._calls, self._grace_s)
        self._asked.update(asked)
        self.apply(decisions)  # the calls' waits for an interpreter, held while interpreters sign in again

    def snapshot(self) -> dict[str, Any]:
        """What a restart must not lose, saved with the router's queue snapshot: the waiting requests."""
        return InterpreterSnapshot(self.pool.waiting(), dict(self._asked)).to_json()

    def tell_party(self, client: Client) -> None:
        """A caller or officer (re)connected: where the interpreter of each of its calls stands."""
        for call_id in list(client.calls):
            found, third = self.pool.status_of(call_id), self._thirds.get(call_id)
            extra: dict[str, Any]
            if found is not None:
                language, state, position, estimate = found
                extra = {"position": position, "estimate_s": estimate} if state == "waiting" else {}
            elif third is not None:
                language, state, extra = third.language, "joined", {"name": third.name}
            else:
                continue
            status = {"call_id": call_id, "language": language, "state": state, **extra}
            client.send(p.InterpreterStatus.model_validate(status))

    # ------------------------------------------------------------------ interpreters' connections

    def attach(self, client: Client) -> p.Welcome:
        old = self.clients.get(client.identity)
        if old is not None and old is not client:
            self.detach(old)
            old.close()
        self.clients[client.identity] = client
        self._graces.pop(client.identity, None)
        languages = {k: v for k, v in client.principal.skills.items() if k in p.INTERPRETER_LANGUAGES}
        return p.Welcome.model_validate(
            {
                "role": Role.INTERPRETER,
                "identity": client.identity,
                "display_name": client.principal.display_name,
                "session_token": client.principal.session_token,
                "ice_servers": self._directory.ice_servers(client.identity),
                "departments": self._directory.department_infos(),
                "skills": languages,
            }
        )

    def resume(self, client: Client) -> None:
        """After the welcome: its state, and the calls it is still in (media is peer to peer)."""
        if self.pool.state(client.identity).value == "offline":
            languages = [k for k in client.principal.skills if k in p.INTERPRETER_LANGUAGES]
            self.apply(self.pool.online(client.identity, languages))
        else:
            state = self.pool.state(client.identity).value
            reason = self.pool.reason(client.identity)
            client.send(p.OfficerState.model_validate({"state": state, "reason": reason}))
        for call_id, third in self._thirds.items():
            if third.identity == client.identity:
                client.calls.add(call_id)
                client.send(p.CallStarted(call_id=call_id))

    def sign_out(self, identity: str, detail: str) -> None:
        """The interpreter's credential ended (an external invitation revoked): out of its call now (the
        others get ``party_left`` removed and go on), told why, closed and offline; no grace."""
        for call_id in [c for c, t in self._thirds.items() if t.identity == identity]:
            self._depart(call_id, "removed")
        self._graces.pop(identity, None)
        client = self.clients.get(identity)
        if client is not None:
            client.send(p.Error(code=ErrorCode.UNAUTHENTICATED, detail=detail))
            self.detach(client)
            client.close()

    def detach(self, client: Client) -> None:
        if self.clients.get(client.identity) is not client:
            return
        del self.clients[client.identity]
        if any(t.identity == client.identity for t in self._thirds.values()) and self._grace_s > 0:
            self._graces[client.identity] = self._clock() + self._grace_s
            self._timers.wake_by(self._graces[client.identity])
            return
        for call_id in [c for c, t in self._thirds.items() if t.identity == client.identity]:
            self._depart(call_id, "disconnected")
        self.apply(self.pool.offline(client.identity))
