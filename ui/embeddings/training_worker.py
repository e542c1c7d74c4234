"""Embedding training off the GUI thread, with Run / Pause / Step / Stop.

The worker thread loads the category's data (samples and geodesics: the slow part the
first time) and pulls events from :func:`core.embedding.trainer.train`, passing the
:class:`~ui.pose.run_control.RunControl` gate before each one (pause waits there; stop is
the trainer's cancel token). Every event is appended to a :class:`~ui.pose.run_control.RunLog`;
a GUI-thread timer polls the log at most every :data:`POLL_MS` and emits what is new, so a
fast trainer never floods the event loop. Signals carry the engine's plain dataclasses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.embedding.trainer import EpochEvent, StepEvent, TrainConfig, TrainingDone
from ui.pose.run_control import RunControl, RunLog
from ui.threaded_run import ThreadedRun

POLL_MS = 33  # ~30 Hz


@dataclass(frozen=True)
class TrainingOutcome:
    """How a training run ended.

    Attributes:
        status: "done", "stopped", "diverged" or "failed".
        message: one line for the status bar.
        best_checkpoint: path of the best checkpoint (None if none was written).
        last_checkpoint: path of the last checkpoint.
        epochs: epochs completed.
        best_val_mge: best validation mGE (inf when no epoch ended).
    """

    status: str
    message: str
    best_checkpoint: Path | None = None
    last_checkpoint: Path | None = None
    epochs: int = 0
    best_val_mge: float = float("inf")


class _Stopped(Exception):
    """Raised from the data loader's progress callback when the run is stopped."""


class EmbeddingTrainingWorker(ThreadedRun):
    """Runs one training at a time (see the module docstring)."""

    preparing = Signal(str)  # a line about the data loading
    steps_ready = Signal(object)  # list[StepEvent] new since the last emission
    epoch_ready = Signal(object)  # EpochEvent (every one, in order)
    finished = Signal(object)  # TrainingOutcome

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(POLL_MS, parent)
        self.log = RunLog()
        self.outcome: TrainingOutcome | None = None
        self._emitted = 0
        self._note: str | None = None  # written by the worker thread
        self._result: TrainingOutcome | None = None

    # ------------------------------------------------------------------ control
    def start(self, load_data: Callable[[Callable[[int, int, str], None]], object],
              config: TrainConfig, out_dir: Path) -> RunLog:
        """Start: ``load_data(progress)`` -> CategoryData, then training into ``out_dir``.

        ``progress(done, total, model_name)`` is the data loader's progress callback.
        """
        if self.is_running():
            raise RuntimeError("a training run is already running")
        control, log = RunControl(), RunLog()
        self.log, self.outcome, self._result = log, None, None
        self._emitted, self._note = 0, None
        self._launch(control, lambda: self._work(load_data, config, Path(out_dir), control,
                                                 log))
        self.state_changed.emit("preparing")
        return log

    # ------------------------------------------------------------ worker thread
    def _work(self, load_data, config: TrainConfig, out_dir: Path, control: RunControl,
              log: RunLog) -> None:
        from core.embedding.trainer import TrainingDiverged, train

        def progress(done: int, total: int, name: str) -> None:
            if control.cancelled:  # stop the data loading between models
                raise _Stopped
            self._note = f"Preparing {name}: {done}/{total} models (samples, geodesics)"

        try:
            data = load_data(progress)
        except _Stopped:
            self._result = TrainingOutcome("stopped", "Training stopped while preparing")
            return
        except Exception as exc:  # missing mesh, no annotations...: say it
            self._result = TrainingOutcome("failed", f"Cannot start training: {exc}")
            return
        self._note = ""
        events = train(data, config, out_dir, cancel=control)
        done: TrainingDone | None = None
        try:
            while control.checkpoint() or control.cancelled:
                event = next(events, None)  # after stop: the trainer ends the run itself
                if event is None:
                    break
                log.append(event)
                if isinstance(event, TrainingDone):
                    done = event
                    break
        except TrainingDiverged as exc:
            self._result = TrainingOutcome("diverged", f"Training diverged and stopped: {exc}")
            return
        except Exception as exc:  # engine failure: say it
            self._result = TrainingOutcome("failed", f"Training failed: {exc}")
            return
        finally:
            events.close()
        if done is None:
            self._result = TrainingOutcome("stopped", "Training stopped")
            return
        status = "stopped" if done.cancelled else "done"
        mge = f"best validation mGE {done.best_val_mge:.4f}" if done.epochs_run else "no epoch"
        self._result = TrainingOutcome(
            status, f"Training {'stopped' if done.cancelled else 'done'}: "
                    f"{done.epochs_run} epochs, {mge}",
            done.best_checkpoint, done.last_checkpoint, done.epochs_run, done.best_val_mge)

    # --------------------------------------------------------------- GUI thread
    def _poll(self) -> None:
        note, self._note = self._note, None
        if note is not None:
            self.preparing.emit(note)
            if note == "":
                self.state_changed.emit("paused" if self.is_paused() else "running")
        items = self.log.snapshot()[self._emitted:]
        if not items:
            return
        self._emitted += len(items)
        steps = [e for e in items if isinstance(e, StepEvent)]
        if steps:
            self.steps_ready.emit(steps)
        for event in items:
            if isinstance(event, EpochEvent):
                self.epoch_ready.emit(event)

    def _on_thread_finished(self) -> None:
        self._release_thread()
        self._poll()
        self.outcome = self._result or TrainingOutcome("failed", "Training ended unexpectedly")
        self.state_changed.emit("idle")
        self.finished.emit(self.outcome)
