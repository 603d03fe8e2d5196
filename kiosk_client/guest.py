"""The family member who joined the call by link (docs/guests.md), as the kiosk's call screen shows them.

The kiosk already holds a peer connection with the party ``guest`` in its ``Conference`` (the guest offers
it on joining; ``party_left`` or the call's end closes it). ``GuestTile`` is what the screen asks of it:
whether a family member is in the call now, and the newest frame of their camera. It keeps nothing of its
own: no name, no frame, no count outlives the peer connection, so the call's end (``Conference.close_all``)
and the privacy reset leave nothing of the guest on the kiosk. Qt-free: the view and the tests use it alike.
"""

from __future__ import annotations

from typing import Final

from remote_call import protocol as p
from remote_call.conference import Conference

GUEST: Final[p.PartyId] = "guest"


class GuestTile:
    """The source of the guest's tile on the call screen: presence and frames, read from the conference."""

    def __init__(self, conference: Conference) -> None:
        self._conference = conference

    @property
    def present(self) -> bool:
        """A family member is in the call: the kiosk has a peer connection with them."""
        return GUEST in self._conference.links

    def frame(self) -> object | None:
        """The newest video frame from the family member's camera, or None (not in the call, no frame yet)."""
        return self._conference.latest_frame(GUEST)

    @property
    def frames(self) -> int:
        """Video frames received from the family member on the current peer connection."""
        return self._conference.frames_from(GUEST)
