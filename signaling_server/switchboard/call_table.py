"""The live calls by id, and each party's calls found without looking at every call.

A client that (re)connects is told where each of its calls stands (``Presence.resume``). Looking through
every live call for each client cost O(calls x clients): after a cluster leader's death, 25,000 clients
reattached to the new leader with 20,000 calls queued, and the new leader's loop spent minutes in that scan
(3,000 kiosks with 3,000 calls: 12 s without the loop turning once). ``CallTable`` is the same dict, with
an index by party kept up to date with every change: adding or removing a call, and ``touch(call)`` (an
officer assigned to a call: effects.py). An index rebuilt after each change was not enough: at 20,000 calls
a change between two resumes (a request, an end) rebuilt all of it, and the new leader's loop was again
found in ``of`` when it stalled. The index only narrows the search: the caller checks each call it returns
as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signaling_server.calls import Call


class CallTable(dict[str, "Call"]):
    """``dict[str, Call]`` with ``of(identity)``: the calls whose caller or officer is ``identity``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._index: dict[str, dict[str, Call]] = {}  # identity -> its calls by id
        self._keys: dict[str, tuple[str, ...]] = {}  # call id -> the identities it is indexed under
        self._order: dict[str, int] = {}  # call id -> its place in the table
        self._next = 0
        self.update(*args, **kwargs)

    def touch(self, call: Call) -> None:
        """``call``'s parties changed (its officer): it is indexed under them from now on."""
        if self.get(call.call_id) is call:
            self._unindex(call.call_id)
            self._index_call(call.call_id, call)

    def of(self, identity: str) -> list[Call]:
        """The calls where ``identity`` is the caller's or the officer's identity, in table order."""
        mine = self._index.get(identity)
        if not mine:
            return []
        calls = list(mine.values())
        if len(calls) > 1:
            calls.sort(key=lambda c: self._order[c.call_id])
        return calls

    def _index_call(self, key: str, call: Call) -> None:
        identities: tuple[str, ...] = (call.record.kiosk_id,)
        officer = call.record.officer
        if officer and officer != call.record.kiosk_id:
            identities += (officer,)
        for identity in identities:
            self._index.setdefault(identity, {})[key] = call
        self._keys[key] = identities

    def _unindex(self, key: str) -> None:
        for identity in self._keys.pop(key, ()):
            mine = self._index.get(identity)
            if mine is not None:
                mine.pop(key, None)
                if not mine:
                    del self._index[identity]

    def __setitem__(self, key: str, value: Call) -> None:
        if key in self:
            self._unindex(key)
        else:
            self._order[key] = self._next
            self._next += 1
        super().__setitem__(key, value)
        self._index_call(key, value)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._forget(key)

    def _forget(self, key: str) -> None:
        self._unindex(key)
        self._order.pop(key, None)

    def pop(self, key: str, *default: Any) -> Any:
        if key not in self:
            return super().pop(key, *default)
        value = super().pop(key)
        self._forget(key)
        return value

    def popitem(self) -> tuple[str, Call]:
        key, value = super().popitem()
        self._forget(key)
        return key, value

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: str, default: Call) -> Call:
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self) -> None:
        super().clear()
        self._index.clear()
        self._keys.clear()
        self._order.clear()
