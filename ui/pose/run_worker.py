"""A pose run in a worker thread, with pause / step / stop and a throttled step signal.

The worker thread (a :class:`QThread`, one per run) first calls the run's ``prepare``
function (load the template, read or render the image and its mask: a :class:`Prepared`,
handed to the GUI by ``prepared``), then pulls :func:`core.pose.pipeline.iter_estimate_pose`'s
events one at a time through a :class:`~ui.pose.run_control.RunControl` gate, turns each
into a plain :class:`~ui.pose.records.StepRecord` (silhouette, outline and projected points
computed there) and appends it to the run's :class:`~ui.pose.run_control.RunLog`: every
step is kept for the timeline.

The GUI thread never waits for the worker. A timer looks at the log every
:data:`EMIT_INTERVAL_MS` (or longer, see below) and emits ``step_ready`` with the *latest*
record when new ones arrived, so views get at most ~30 updates a second however fast steps
come (each step still lands in the log), and the latest record is never held back longer
than one interval. The final record is always emitted, then ``finished`` with a
:class:`RunOutcome`.

Pacing: the views report what an update cost the GUI thread (:meth:`PoseRunWorker.
report_update_cost`, their handling plus the window's repaint); the interval becomes
:data:`PACE` times that (between :data:`EMIT_INTERVAL_MS` and :data:`MAX_EMIT_INTERVAL_MS`),
so updates never take more than about four fifths of the GUI thread's time, and input, other
views and timers keep running on a slow (software-rendered) display. The worker thread also
runs at a lower OS priority (:data:`WORKER_NICE`, Linux) so the GUI thread wins the CPU.

Divergence: the engine raises :class:`~core.pose.errors.RefinementDiverged` on a NaN or
infinite loss or camera; a finite loss that explodes (more than :data:`EXPLODE_FACTOR` times
the hypothesis' starting loss, floored at :data:`EXPLODE_FLOOR`) is caught here. Either stops
the run with "diverged at step N".
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

# torch's optimisers import torch._dynamo on their first step. Importing it in the worker
# during a run held the GIL for a second and more in long chunks (the GUI thread stalled
# 250-600 ms), and the triton it loads (bundling LLVM) crashed the process when Mesa's
# llvmpipe (software OpenGL, also LLVM) had rendered first (seen under Xvfb). So it is
# imported here, with the main window, before any view renders (about 1.4 s on 2 busy cores).
import torch._dynamo  # noqa: F401
from PySide6.QtCore import QObject, Signal

from core.pose.category_template import CategoryTemplate
from core.pose.errors import RefinementDiverged
from core.pose.pipeline import PoseEvent, iter_estimate_pose
from ui.pose.records import RecordMaker, StepRecord
from ui.pose.run_control import RunControl, RunLog
from ui.threaded_run import ThreadedRun

EMIT_INTERVAL_MS = 33  # step_ready at most ~30 times a second
MAX_EMIT_INTERVAL_MS = 250  # ...and at least 4 times a second however slow an update is
PACE = 1.25  # the interval is at least this many times the last update's cost
WORKER_NICE = 10  # the worker thread runs this much "nicer" than the GUI thread (Linux)
EXPLODE_FACTOR = 1e3  # a loss this many times the hypothesis' first loss has exploded...
EXPLODE_FLOOR = 1e-2  # ...counting a first loss below this as this (both objectives are ~1)


@dataclass(frozen=True)
class Prepared:
    """What a run's ``prepare`` returns: the target ``mask`` (H, W) bool, the ``template``
    posed against it, and anything the views need (``payload``, e.g. the source image).

    Runs of another engine (reconstruction) also give ``events(cancel)``, their event
    stream, and ``maker(index, event, seconds)``, its :class:`StepRecord` maker; ``notes``
    say what the preparation chose (shown in the status line)."""

    mask: np.ndarray
    template: CategoryTemplate
    payload: object = None
    events: Callable[[object], Iterator] | None = None
    maker: Callable[[int, object, float], StepRecord | None] | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrepareContext:
    """Handed to a ``prepare`` that takes an argument: the run's ``control`` (its
    ``cancelled`` is the cancel token) and ``report(text)``, progress for the status line
    (emitted as ``progress`` on the GUI thread, throttled with the steps)."""

    control: RunControl
    report: Callable[[str], None]


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: ``status`` is ``"done"``, ``"stopped"``, ``"diverged"`` or
    ``"failed"``; ``message`` says it for the status line; ``records`` kept; ``error`` the
    exception of a failed run (None otherwise); ``prepared`` False when it failed or was
    stopped before its image was ready."""

    status: str
    message: str
    records: int
    error: BaseException | None = None
    prepared: bool = True


class _LossExploded(RefinementDiverged):
    """The loss grew by more than :data:`EXPLODE_FACTOR` within one hypothesis."""


def lower_thread_priority(niceness: int = WORKER_NICE) -> int | None:
    """Give the calling thread a lower OS priority (Linux: a per-thread nice value), so the
    GUI thread wins the CPU when both want it. Only for threads that end with their job
    (unprivileged users cannot raise a priority back). Returns the previous nice value
    (None where not supported: then nothing changed)."""
    try:
        tid = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, before + niceness)
        return before
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        return None


class PoseRunWorker(ThreadedRun):
    """Runs one pose estimation at a time off the GUI thread (see the module docstring)."""

    prepared = Signal(object)  # the Prepared run, before its first step_ready
    step_ready = Signal(object)  # the latest StepRecord (throttled; always the final one)
    finished = Signal(object)  # RunOutcome
    progress = Signal(str)  # what a long preparation is doing (shape space build...)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(EMIT_INTERVAL_MS, parent)
        self.log = RunLog()
        self.emissions = 0  # step_ready signals of the current run
        self.outcome: RunOutcome | None = None
        self._emitted = 0  # log length at the last step_ready
        self._result: RunOutcome | None = None  # written by the worker thread
        self._ready: Prepared | None = None  # written by the worker thread
        self._announced = False  # prepared emitted
        self._progress = ""  # written by the worker thread
        self._progress_shown = ""
        self._pace_ms = EMIT_INTERVAL_MS  # least time between two step_ready, ms
        self._emitted_at = 0.0  # time.perf_counter() of the last step_ready

    # ------------------------------------------------------------------ control
    def start(self, prepare: Callable[[], Prepared], k: int = 3, steps: int = 60,
              objective: str = "auto",
              events: Callable[..., Iterator[PoseEvent]] | None = None,
              context: bool = False) -> RunLog:
        """Start a run: ``prepare()`` (``prepare(PrepareContext)`` when ``context``) then
        the pose engine (or the prepared run's own ``events``), in a new worker thread;
        returns the run's (new, empty) log.

        ``events`` replaces :func:`iter_estimate_pose` (same arguments), e.g. to wrap it.
        """
        if self.is_running():
            raise RuntimeError("a pose run is already running")
        control, log = RunControl(), RunLog()
        self.control, self.log = control, log
        self.emissions, self._emitted, self.outcome, self._result = 0, 0, None, None
        self._ready, self._announced = None, False
        self._progress = self._progress_shown = ""
        self._timer.setInterval(EMIT_INTERVAL_MS)
        self._pace_ms, self._emitted_at = EMIT_INTERVAL_MS, time.perf_counter()
        options = {"k": k, "steps": steps, "objective": objective}
        job = events or iter_estimate_pose
        if context:
            prepare = functools.partial(prepare, PrepareContext(control, self._report))
        self._launch(control, lambda: self._work(prepare, job, options, control, log),
                     before=lower_thread_priority)
        self.state_changed.emit("preparing")
        return log

    def report_update_cost(self, ms: float) -> None:
        """The last ``step_ready`` cost the GUI thread ``ms``: pace the next ones, counting
        from that emission (not from now: restarting the whole interval when the cost is
        known, tens of ms after the emission, had halved the update rate)."""
        self._pace_ms = int(min(MAX_EMIT_INTERVAL_MS, max(EMIT_INTERVAL_MS, PACE * ms)))
        if self._timer.isActive():
            since = (time.perf_counter() - self._emitted_at) * 1000.0
            self._timer.start(int(max(1.0, self._pace_ms - since)))  # then every _pace_ms

    @property
    def interval_ms(self) -> int:
        """The current pace: the least time between two ``step_ready``, ms."""
        return self._pace_ms

    # ------------------------------------------------------------ worker thread
    def _work(self, prepare: Callable[[], Prepared], job, options: dict,
              control: RunControl, log: RunLog) -> None:
        try:
            ready = prepare()
        except Exception as exc:  # unreadable image, no template...: say it
            if control.cancelled:  # (a cancelled shape space build raises)
                self._result = RunOutcome("stopped", "Stopped before the first step", 0,
                                          None, False)
            else:
                self._result = RunOutcome("failed", f"Cannot start the run: {exc}", 0, exc,
                                          False)
            return
        if control.cancelled:
            self._result = RunOutcome("stopped", "Stopped before the first step", 0, None,
                                      False)
            return
        self._ready = ready
        maker = ready.maker or RecordMaker(ready.template, ready.mask.shape, options["steps"])
        try:
            if ready.events is not None:
                source = ready.events(control)
            else:
                source = job(ready.mask, ready.template, cancel=control, **options)
        except Exception as exc:  # bad options or inputs, checked before the first event
            self._result = RunOutcome("failed", f"The run failed: {exc}", 0, exc)
            return
        self._result = self._pull(source, control, log, maker)

    def _report(self, text: str) -> None:
        """Worker thread: the preparation's progress (picked up by the poll timer)."""
        self._progress = text

    def _pull(self, source: Iterator[PoseEvent], control: RunControl, log: RunLog,
              maker: RecordMaker) -> RunOutcome:
        t0 = time.perf_counter()
        first_loss: dict[int, float] = {}
        last: StepRecord | None = None
        status, message, error = "stopped", "", None
        try:
            while control.checkpoint():
                record = None
                while record is None:  # one record per checkpoint (step = one record)
                    event = next(source, None)
                    if event is None:
                        break
                    record = maker(len(log), event, time.perf_counter() - t0)
                if record is None:
                    status, message = "done", f"Done: {len(log)} steps"
                    break
                log.append(record)
                last = record
                if record.stage == "refine" and math.isfinite(record.loss):
                    start = first_loss.setdefault(record.hypothesis, record.loss)
                    limit = EXPLODE_FACTOR * max(start, EXPLODE_FLOOR)
                    if math.isfinite(start) and record.loss > limit:
                        raise _LossExploded(f"loss exploded to {record.loss:.3g} (started at "
                                            f"{start:.3g})")
                if record.stage == "done":
                    status = "stopped" if record.label.startswith("stopped") else "done"
                    message = (f"Done: IoU {record.iou:.3f} ({len(log)} steps, "
                               f"{record.seconds:.1f} s)") if status == "done" else ""
                    break
            if status == "stopped":
                message = f"Stopped after {len(log)} steps"
        except RefinementDiverged as exc:
            at = last.step + 1 if last is not None and last.stage == "refine" else 0
            if isinstance(exc, _LossExploded) and last is not None:
                at = last.step
            status, error = "diverged", exc
            message = f"The run diverged at step {at} and stopped: {exc}"
        except Exception as exc:  # bad mask, bad template, engine failure: say it
            status, message, error = "failed", f"The run failed: {exc}", exc
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
        return RunOutcome(status, message, len(log), error)

    # --------------------------------------------------------------- GUI thread
    def _poll(self) -> None:
        if self._timer.interval() != self._pace_ms:  # (a shortened first wait, see above)
            self._timer.setInterval(self._pace_ms)
        if self._progress != self._progress_shown and not self._announced:
            self._progress_shown = self._progress
            self.progress.emit(self._progress)
        if not self._announced:
            ready = self._ready
            if ready is None:
                return
            self._announced = True
            self.prepared.emit(ready)
            if self.control is not None and not self.control.cancelled:
                self.state_changed.emit("paused" if self.control.paused else "running")
        n = len(self.log)
        if n > self._emitted:
            self._emitted = n
            self.emissions += 1
            self._emitted_at = time.perf_counter()
            self.step_ready.emit(self.log[n - 1])

    def _on_thread_finished(self) -> None:
        self._release_thread()
        self._poll()  # the final record, always
        self.outcome = self._result or RunOutcome("failed", "The run ended unexpectedly",
                                                  len(self.log), None, self._announced)
        self.state_changed.emit("idle")
        self.finished.emit(self.outcome)
