"""Store writes that survive a lost database: an ordered queue of pending edits, retried.

Every edit (place, move, mark absent, delete) is a function that reads what it needs and
commits one transaction. It runs on a worker thread while the GUI thread waits for it at
most :data:`SYNC_WAIT_S`; in normal use the edit is committed before the click handler
returns, so callers see an ordinary synchronous edit.

Rules:

- Edits are committed strictly in the order they were made: while one is waiting, later
  edits queue behind it and are never tried out of order.
- An edit that fails because the database is unavailable (:class:`StoreUnavailable`: the
  database stayed locked, the server is unreachable) or that does not answer within
  :data:`SYNC_WAIT_S` stays queued. :attr:`PendingEdits.changed` tells the banner, and a
  QTimer retries the oldest edit after 2 s, 4 s, 8 s, then every 10 s (or at once on
  :meth:`PendingEdits.retry_now`). Attempts always run off the GUI thread.
- Other failures (a conflict with a teammate's edit, a permission) are not retried: the
  edit is dropped and :attr:`PendingEdits.rejected` emitted.
- Edits committed before an outage are never touched again; a pending edit is reported
  through :attr:`PendingEdits.applied` only once it is committed (the caller then pushes
  its undo command, so pending edits are not on the undo stack until applied).
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from sqlalchemy.exc import DBAPIError, OperationalError

from core.store.errors import StoreUnavailable

SYNC_WAIT_S = 1.5  # the GUI waits this long for a write before it queues it
RETRY_DELAYS_S = (2.0, 4.0, 8.0, 10.0)  # the last one repeats


class Outcome(Enum):
    """What :meth:`PendingEdits.submit` did with an edit."""

    APPLIED = "applied"  # committed before submit returned
    QUEUED = "queued"  # waiting for the database (committed later, in order)
    FAILED = "failed"  # refused for good (``rejected`` was emitted)


@dataclass(eq=False)
class PendingEdit:
    """One edit: ``run()`` resolves it against the database and commits it.

    Attributes:
        text: what the edit does ("Place point 3"), for the undo stack and messages.
        run: called on a worker thread; returns the store's result (a KeypointChange).
        target: the project (file path or masked URL) the edit writes to.
        context: the caller's own data about the edit (kept as given).
    """

    text: str
    run: Callable[[], Any]
    target: str = ""
    context: Any = None


@dataclass(eq=False)
class _Attempt:
    """One run of an edit on a worker thread."""

    edit: PendingEdit
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None
    handled: bool = False


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means "the database cannot be reached now" (worth retrying)."""
    if isinstance(exc, StoreUnavailable):
        return True
    if isinstance(exc, OperationalError):  # a read inside the edit lost its connection
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class PendingEdits(QObject):
    """The write queue of one window: commits edits in order, retries through outages."""

    applied = Signal(object, object)  # PendingEdit, its result, once committed
    rejected = Signal(object, object)  # PendingEdit, exception (not retried)
    restored = Signal(int)  # the queue emptied after an outage: edits saved meanwhile
    changed = Signal()  # count, problem or retry state changed (the banner repaints)
    _finished = Signal(object)  # an _Attempt, from its worker thread

    def __init__(self, parent: QObject | None = None, sync_wait_s: float = SYNC_WAIT_S,
                 retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S) -> None:
        super().__init__(parent)
        self.sync_wait_s = sync_wait_s
        self.retry_delays_s = retry_delays_s
        self.problem = ""  # why edits are waiting ("" when the database answers)
        self.next_retry_s: float | None = None  # seconds until the next automatic retry
        self.attempts = 0  # failed tries since the outage began
        self._queue: deque[PendingEdit] = deque()  # not yet committed, oldest first
        self._attempt: _Attempt | None = None  # the edit running on a worker thread
        self._saved_in_outage = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.retry_now)
        self._finished.connect(self._on_finished)

    # ------------------------------------------------------------------ state
    @property
    def count(self) -> int:
        """Edits not committed yet (the one being tried included)."""
        return len(self._queue)

    @property
    def outage(self) -> bool:
        """True while edits wait for the database (the banner is shown)."""
        return bool(self.problem)

    @property
    def trying(self) -> bool:
        """True while an attempt runs on a worker thread."""
        return self._attempt is not None

    def pending(self) -> list[PendingEdit]:
        """The waiting edits, oldest first."""
        return list(self._queue)

    # ------------------------------------------------------------------ edits
    def submit(self, edit: PendingEdit) -> Outcome:
        """Commit ``edit`` now if the database answers in time, else queue it (in order).

        ``applied`` or ``rejected`` is emitted before this returns when the database
        answers within ``sync_wait_s``.
        """
        self._queue.append(edit)
        if len(self._queue) > 1:  # older edits are waiting: keep the order
            self.changed.emit()
            return Outcome.QUEUED
        attempt = self._start(edit)
        if attempt.done.wait(self.sync_wait_s):
            return self._finish(attempt)
        self._set_problem(f"Project {edit.target or 'database'} does not answer "
                          f"(no reply within {self.sync_wait_s:g} s); still trying")
        return Outcome.QUEUED

    def abandon(self) -> int:
        """Give up the waiting edits (the window closes and the user chose to lose them):
        no more retries, and an attempt still running is not followed by the rest.
        Returns how many were dropped."""
        self._timer.stop()
        dropped = len(self._queue)
        self._queue.clear()
        if self._attempt is not None:
            self._attempt.handled = True  # its result is not reported
            self._attempt = None
        self.problem, self.attempts, self.next_retry_s = "", 0, None
        return dropped

    def submit_and_note(self, edit: PendingEdit, say: Callable[[str], None],
                        noun: str = "change") -> Outcome:
        """:meth:`submit`; when the edit has to wait, ``say`` (a status line) how many
        ``noun`` s wait."""
        outcome = self.submit(edit)
        if outcome is Outcome.QUEUED:
            n = self.count
            say(f"{edit.text}: waiting for the database ({n} {noun}{'s' if n != 1 else ''} "
                "waiting)")
        return outcome

    def retry_now(self) -> None:
        """Try the oldest waiting edit now (no-op while an attempt is running)."""
        self._timer.stop()
        if self._attempt is None and self._queue:
            self.next_retry_s = None
            self._start(self._queue[0])

    # ---------------------------------------------------------------- helpers
    def _start(self, edit: PendingEdit) -> _Attempt:
        attempt = _Attempt(edit)
        self._attempt = attempt
        threading.Thread(target=self._run, args=(attempt,), name="corrstudio-write",
                         daemon=True).start()
        self.changed.emit()
        return attempt

    def _run(self, attempt: _Attempt) -> None:
        """Worker thread: run the edit, then hand the attempt back to the GUI thread."""
        try:
            attempt.result = attempt.edit.run()
        except BaseException as exc:  # delivered to the GUI thread, never raised here
            attempt.error = exc
        finally:
            attempt.done.set()
            # queued to the GUI thread; RuntimeError: the window is gone, nothing to tell
            with contextlib.suppress(RuntimeError):
                self._finished.emit(attempt)

    def _on_finished(self, attempt: _Attempt) -> None:
        if not attempt.handled:  # submit() may have handled it already
            self._finish(attempt)

    def _finish(self, attempt: _Attempt) -> Outcome:
        attempt.handled = True
        self._attempt = None
        edit = attempt.edit
        if attempt.error is not None and is_unavailable(attempt.error):
            self.attempts += 1
            self._set_problem(str(attempt.error) or type(attempt.error).__name__)
            self._schedule_retry()
            return Outcome.QUEUED
        self._queue.popleft()
        if attempt.error is None:
            outcome = Outcome.APPLIED
            if self.outage:
                self._saved_in_outage += 1
            self.applied.emit(edit, attempt.result)
        else:
            outcome = Outcome.FAILED
            self.rejected.emit(edit, attempt.error)
        if self._queue:  # the database answers again: commit the rest, in order
            self._start(self._queue[0])
        elif self.outage:
            saved, self._saved_in_outage = self._saved_in_outage, 0
            self.problem, self.attempts, self.next_retry_s = "", 0, None
            self.changed.emit()
            self.restored.emit(saved)
        else:
            self.changed.emit()
        return outcome

    def _set_problem(self, problem: str) -> None:
        if not self.outage:
            self._saved_in_outage = 0
        self.problem = problem
        self.changed.emit()

    def _schedule_retry(self) -> None:
        delays = self.retry_delays_s
        delay = delays[min(max(self.attempts - 1, 0), len(delays) - 1)]
        self.next_retry_s = delay
        self._timer.start(int(delay * 1000))
        self.changed.emit()


__all__ = ["Outcome", "PendingEdit", "PendingEdits", "is_unavailable"]
