"""The switchboard: connected clients, live calls, and the edge between the pure queue router and the wire.

One job per module: ``roster`` (who is connected), ``presence`` (attach, reconnect grace, resume),
``commands`` (the role-checked table of what clients may ask), ``effects`` (what each router decision does
to calls and parties), ``positions`` (coalesced queue places), ``timers`` (the edge's deadline heap),
``staff`` (statistics pushes, session re-validation), ``directory`` (departments, kiosks, ICE servers as
the wire puts them), ``observers`` (the monitor and event listeners), ``restore`` (after a restart);
``conference`` (a third party in a call: interpreters); ``board`` builds them in order behind ``Switchboard``.
"""

from signaling_server.switchboard.board import Switchboard
from signaling_server.switchboard.observers import Listener, Monitor
from signaling_server.switchboard.roster import Client

__all__ = ["Client", "Listener", "Monitor", "Switchboard"]
