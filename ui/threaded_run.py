"""What every live run's worker shares: one worker thread, Run / Pause / Step / Stop through
a :class:`~ui.pose.run_control.RunControl` gate, a GUI-thread poll timer, clean shutdown.

Subclasses (the pose and reconstruction runs, embedding training) start their thread with
:meth:`ThreadedRun._launch`, poll their run log in :meth:`_poll` and report the end in
:meth:`_on_thread_finished`, calling :meth:`_release_thread` there.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from ui.pose.run_control import RunControl

THREAD_EXIT_WAIT_MS = 5_000  # a finished worker's thread-local clean-up (torch's) may take a bit


class RunThread(QThread):
    """Runs ``job()`` (after ``before()``, e.g. lowering the thread's priority)."""

    def __init__(self, job: Callable[[], None], parent: QObject | None = None,
                 before: Callable[[], object] | None = None) -> None:
        super().__init__(parent)
        self._job, self._before = job, before

    def run(self) -> None:
        if self._before is not None:
            self._before()
        self._job()


class ThreadedRun(QObject):
    """Control of one run at a time (see the module docstring)."""

    state_changed = Signal(str)  # "preparing" | "running" | "paused" | "stopping" | "idle"

    def __init__(self, interval_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.control: RunControl | None = None
        self._thread: RunThread | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._poll)

    # ------------------------------------------------------------------ control
    def pause(self) -> None:
        if self.control is not None and self.is_running():
            self.control.pause()
            self.state_changed.emit("paused")

    def resume(self) -> None:
        if self.control is not None and self.is_running():
            self.control.resume()
            self.state_changed.emit("running")

    def step(self) -> None:
        """One more engine event while paused (pauses a running run first)."""
        if self.control is not None and self.is_running():
            was_paused = self.control.paused
            self.control.step()
            if not was_paused:
                self.state_changed.emit("paused")

    def stop(self) -> None:
        """Cancel the run (the worker ends after the step in flight)."""
        if self.control is not None and self.is_running():
            self.control.stop()
            self.state_changed.emit("stopping")

    def is_running(self) -> bool:
        return self._thread is not None

    def is_paused(self) -> bool:
        return self.is_running() and self.control is not None and self.control.paused

    def thread_alive(self) -> bool:
        """The worker thread is still executing (False once it returned)."""
        return self._thread is not None and self._thread.isRunning()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the run and wait for its thread (view or window closing); no signal
        afterwards. Returns True when no thread is left running."""
        self._timer.stop()
        thread = self._thread
        if thread is None:
            return True
        if self.control is not None:
            self.control.stop()
        thread.finished.disconnect(self._on_thread_finished)
        ended = thread.wait(timeout_ms)
        if ended:
            self._thread = None
        return ended

    # --------------------------------------------------------------- subclasses
    def _launch(self, control: RunControl, job: Callable[[], None],
                before: Callable[[], object] | None = None) -> RunThread:
        """Start ``job`` in a new worker thread gated by ``control``, and the poll timer."""
        if self.is_running():
            raise RuntimeError("a run is already running")
        self.control = control
        thread = RunThread(job, self, before)
        thread.finished.connect(self._on_thread_finished)
        self._thread = thread
        thread.start()
        self._timer.start()
        return thread

    def _release_thread(self) -> None:
        """In :meth:`_on_thread_finished`: stop polling and let go of the finished thread.

        ``finished`` comes before the thread's thread-local destructors have run, and
        torch's need the GIL. ~QThread waits for them without releasing the GIL, so deleting
        the thread from a C++ event loop run under the GIL (QTest input, a modal
        QProgressDialog's setValue) deadlocked now and then. wait() releases the GIL
        (PySide) and returns as soon as the thread is really gone.
        """
        thread, self._thread = self._thread, None
        self._timer.stop()
        if thread is not None:
            thread.wait(THREAD_EXIT_WAIT_MS)
            thread.deleteLater()

    def _poll(self) -> None:
        """GUI thread, every interval while running: emit what the worker produced."""

    def _on_thread_finished(self) -> None:
        """GUI thread, once the worker returned: call :meth:`_release_thread`, report."""
        self._release_thread()
