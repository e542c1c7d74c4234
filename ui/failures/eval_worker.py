"""The browser's evaluation off the GUI thread: one at a time, cancellable.

A :class:`~ui.threaded_run.ThreadedRun` (its own worker thread at a lower OS priority, a
poll timer on the GUI thread): the worker runs
:func:`ui.failures.eval_job.evaluate_category` and queues what it emits; every
:data:`POLL_MS` the GUI thread hands the queue on as signals. Stop cancels (the
reconstruction in flight stops at its next step); :meth:`EvaluationRun.shutdown` (window
close) cancels and waits.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from ui.failures.eval_job import (
    EvalFinished,
    EvalMessage,
    EvalOptions,
    EvalStarted,
    EvaluatedImage,
    evaluate_category,
)
from ui.pose.run_control import RunControl
from ui.pose.run_worker import lower_thread_priority
from ui.threaded_run import ThreadedRun

POLL_MS = 100


class EvaluationRun(ThreadedRun):
    """See the module docstring. ``ended`` carries the :class:`EvalFinished`, or the
    exception that ended the evaluation (None: cancelled before it started)."""

    message = Signal(str)
    started_eval = Signal(object)  # EvalStarted
    image_done = Signal(object)  # EvaluatedImage
    ended = Signal(object)  # EvalFinished | BaseException | None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(POLL_MS, parent)
        self._lock = threading.Lock()
        self._queue: list = []
        self._result: object = None

    def start(self, store, target, category: str, options: EvalOptions) -> None:
        """Start evaluating ``category`` (raises RuntimeError while one runs)."""
        if self.is_running():  # (before anything of the running one is reset)
            raise RuntimeError("an evaluation is already running")
        control = RunControl()
        with self._lock:
            self._queue, self._result = [], None
        self._launch(control, lambda: self._work(store, target, category, options, control),
                     before=lower_thread_priority)
        self.state_changed.emit("running")

    # ------------------------------------------------------------ worker thread
    def _put(self, item) -> None:
        with self._lock:
            self._queue.append(item)

    def _work(self, store, target, category: str, options: EvalOptions,
              control: RunControl) -> None:
        try:
            result: object = evaluate_category(store, target, category, options, control,
                                               self._put)
        except Exception as exc:  # no shape space, no held-out model, a failing engine
            result = None if control.cancelled else exc
        with self._lock:
            self._result = result

    # --------------------------------------------------------------- GUI thread
    def _poll(self) -> None:
        with self._lock:
            items, self._queue = self._queue, []
        for item in items:
            if isinstance(item, EvalMessage):
                self.message.emit(item.text)
            elif isinstance(item, EvalStarted):
                self.started_eval.emit(item)
            elif isinstance(item, EvaluatedImage):
                self.image_done.emit(item)

    def _on_thread_finished(self) -> None:
        self._release_thread()
        self._poll()
        with self._lock:
            result = self._result
        self.state_changed.emit("idle")
        self.ended.emit(result if isinstance(result, EvalFinished | BaseException) else None)
