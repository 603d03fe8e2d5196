"""The live calls by id, and each party's calls found without looking at every call.

A client that (re)connects is told where each of its calls stands (``Presence.resume``). Looking through
every live call for each client cost O(calls x clients): after a cluster leader's death, 25,000 clients
reattached to the new leader with 20,000 calls queued, and the new leader's loop spent minutes in that scan
(3,000 kiosks with 3,000 calls: 12 s without the loop turning once). ``CallTable`` is the same dict, with
an index by party built once per change of the table and reused by every resume until the next change:
adding or removing a call changes it, and so does ``touch`` (an officer assigned to a call: effects.py).
The index only narrows the search: the caller checks each call it returns as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signaling_server.calls import Call


class CallTable(dict[str, "Call"]):
    """``dict[str, Call]`` with ``of(identity)``: the calls whose caller or officer is ``identity``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._version = 0
        self._index: dict[str, list[Call]] | None = None

    def touch(self) -> None:
        """A call's parties changed (its officer): the index is built again when next asked."""
        self._index = None

    def of(self, identity: str) -> list[Call]:
        """The calls where ``identity`` is the caller's or the officer's identity, in table order."""
        if self._index is None:
            index: dict[str, list[Call]] = {}
            for call in self.values():
                index.setdefault(call.record.kiosk_id, []).append(call)
                officer = call.record.officer
                if officer and officer != call.record.kiosk_id:
                    index.setdefault(officer, []).append(call)
            self._index = index
        return list(self._index.get(identity, ()))

    def __setitem__(self, key: str, value: Call) -> None:
        self._index = None
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._index = None
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self._index = None
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Call]:
        self._index = None
        return super().popitem()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._index = None
        super().update(*args, **kwargs)

    def setdefault(self, key: str, default: Call) -> Call:
        self._index = None
        return super().setdefault(key, default)

    def clear(self) -> None:
        self._index = None
        super().clear()
