"""``await settle(window)``: wait, on the qasync loop, until Qt's deferred work for a window is done.

Qt defers part of a view's update to posted events: a child added to a layout of a visible widget is shown
by a queued ``_q_showIfNotHidden`` call, a changed size hint posts a ``LayoutRequest`` to the parent, and
handling one posts the next (a chain as deep as the widget tree; events posted while Qt delivers posted
events wait for its next pass). A fixed number of loop turns is therefore a guess. Instead, ``settle``
works in rounds: it posts a sentinel event at low priority and waits for it. Qt delivers posted events in
priority order, so when the sentinel arrives everything posted before it has been delivered; an event
filter counts the deferred-work events (queued calls, layout and polish requests, show/hide/move/resize)
that reached the window or its children during the round. A round with none means nothing was pending:
the window is settled. No nested Qt loop is started (the test's own loop delivers everything), nothing
sleeps, and a window that never settles raises ``TimeoutError`` naming what kept it busy.
"""

from __future__ import annotations

import asyncio
import collections

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import QWidget

_T = QEvent.Type
DEFERRED_WORK = frozenset(
    {
        _T.MetaCall,
        _T.LayoutRequest,
        _T.PolishRequest,
        _T.Polish,
        _T.Show,
        _T.Hide,
        _T.ShowToParent,
        _T.HideToParent,
        _T.Move,
        _T.Resize,
    }
)
_SENTINEL = _T.User
MAX_ROUNDS = 1000


class _Rounds(QObject):
    """Counts the window's deferred-work events; resolves a future when its sentinel event arrives."""

    def __init__(self, window: QWidget) -> None:
        super().__init__()
        self.window = window
        self.seen: collections.Counter[str] = collections.Counter()
        self._arrived: asyncio.Future[collections.Counter[str]] | None = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in DEFERRED_WORK and (
            watched is self.window or (isinstance(watched, QWidget) and self.window.isAncestorOf(watched))
        ):
            self.seen[event.type().name] += 1
        return False

    def event(self, event: QEvent) -> bool:
        if event.type() == _SENTINEL:
            if self._arrived is not None and not self._arrived.done():
                self._arrived.set_result(self.seen.copy())  # the round ends here, not when the task resumes
            return True
        return super().event(event)

    async def round(self) -> collections.Counter[str]:
        """Deferred-work events the window received between now and the delivery of a sentinel posted now."""
        self.seen.clear()
        self._arrived = asyncio.get_running_loop().create_future()
        QCoreApplication.postEvent(self, QEvent(_SENTINEL), Qt.EventPriority.LowEventPriority.value)
        return await self._arrived


async def settle(window: QWidget, timeout: float = 20.0) -> int:
    """Wait until a whole round passes with no deferred Qt work for ``window``; returns the rounds it took.

    Only Qt's own deferred work: an asyncio task the view started is awaited through its own event."""
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("settle() needs a QApplication")
    rounds = _Rounds(window)
    app.installEventFilter(rounds)
    last: collections.Counter[str] = collections.Counter()
    try:
        async with asyncio.timeout(timeout):
            for count in range(1, MAX_ROUNDS + 1):
                last = await rounds.round()
                if not last:
                    return count
    except TimeoutError:
        pass
    finally:
        app.removeEventFilter(rounds)
    name = window.objectName() or type(window).__name__
    raise TimeoutError(f"{name} never settled: the last round still had {dict(last)}")
