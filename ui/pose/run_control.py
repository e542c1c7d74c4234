"""Thread-safe pieces shared by the GUI thread and a pose run's worker thread.

- :class:`RunControl`: the gate the worker passes before pulling each engine event: pause
  (it waits), step (exactly one more event while paused), stop (the engine's cancel token:
  ``cancelled`` is what :func:`core.pose.pipeline.iter_estimate_pose` checks, and the worker
  stops pulling).
- :class:`RunLog`: every record of the run, appended by the worker, read by the GUI.

No Qt here: plain :mod:`threading`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator


class RunControl:
    """Pause / step / stop for one run (see the module docstring)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = False
        self._steps = 0  # events allowed through while paused
        self._stopped = False
        self._waiting = False

    # ----------------------------------------------------------------- GUI side
    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._steps = 0

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._steps = 0
            self._cond.notify_all()

    def step(self) -> None:
        """While paused: let exactly one more event through (pauses first if running)."""
        with self._cond:
            self._paused = True
            self._steps += 1
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    @property
    def cancelled(self) -> bool:
        """The engine's cancel token (checked between its steps)."""
        return self._stopped

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def waiting(self) -> bool:
        """The worker is blocked at the gate (paused, nothing in flight)."""
        return self._waiting

    # -------------------------------------------------------------- worker side
    def checkpoint(self) -> bool:
        """Block while paused (until resume, step or stop); False when stopped."""
        with self._cond:
            while self._paused and self._steps == 0 and not self._stopped:
                self._waiting = True
                self._cond.wait()
            self._waiting = False
            if self._stopped:
                return False
            if self._paused:
                self._steps -= 1
            return True


class RunLog:
    """Append-only list of a run's records, safe to read while the worker appends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list = []

    def append(self, item) -> None:
        with self._lock:
            self._items.append(item)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __getitem__(self, index: int):
        with self._lock:
            return self._items[index]

    def snapshot(self) -> list:
        with self._lock:
            return list(self._items)

    def __iter__(self) -> Iterator:
        return iter(self.snapshot())
