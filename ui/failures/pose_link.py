"""Showing a chosen image in the Pose dock's linked views, with its run.

Two ways, both through :class:`~ui.pose.pose_view.PoseView`'s public surface:

- an image the browser evaluated itself comes with its run's step records: they are
  replayed (:meth:`PoseView.replay`: the image, mask and ground truth, the timeline and loss
  plot over every step, the last step shown); nothing runs;
- an image of a loaded report is rendered again and reconstructed live
  (:func:`ui.failures.live_prepare.prepare_report_view` as the run's ``prepare``, started on
  the view's run worker like its own reconstruction runs; its signals drive the views as
  for any run). Choosing another image while that run goes stops it and starts the new one
  when it has ended; a run the user started is never stopped.

PoseView has no public "run this source" method; the glue sets the run's kind and
parameters and starts the view's worker as :meth:`PoseView.run` does.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from ui.failures.eval_job import EvaluatedImage
from ui.failures.live_prepare import prepare_report_view
from ui.failures.report import FailureReport, FailureRow
from ui.pose.pose_view import IDLE, RECONSTRUCTION


class PoseLink(QObject):
    """Shows chosen images in the Pose dock (see the module docstring)."""

    message = Signal(str)  # what happened, for the browser's status line

    def __init__(self, pose_dock, project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.dock = pose_dock
        self.project = project
        self.live = False  # a run started here is in progress
        self._pending: Callable[[], object] | None = None  # shown when the live run ended
        self.view.run_finished.connect(self._run_finished)

    @property
    def view(self):
        return self.dock.view

    def _busy(self) -> bool:
        return self.view.state != IDLE or self.view.export is not None

    # ------------------------------------------------------------------ replay
    def replay(self, image: EvaluatedImage, template, category: str) -> bool:
        """Show an evaluated image and its run's steps (no run)."""
        if self._busy():
            if not self.live:
                self.message.emit("The Pose dock is running: stop its run to show the image")
                return False
            self._pending = lambda: self.replay(image, template, category)
            self.view.stop()
            self.message.emit("Stopping the previous image's run…")
            return True
        self.dock.reveal()
        row = image.rows[0] if image.rows else None
        params = {"kind": RECONSTRUCTION, "source": "evaluation",
                  "arg": image.source.name, "variant": image.variant,
                  "steps": len(image.records)}
        label = f"{category} evaluation, {row.variant if row else image.variant}"
        self.view.replay(list(image.records), template, image.source, RECONSTRUCTION,
                         params, label)
        self.message.emit(f"Shown in the Pose dock: {image.source.name} "
                          f"({len(image.records)} steps, replayed)")
        return True

    # -------------------------------------------------------------------- live
    def run_live(self, report: FailureReport, row: FailureRow) -> bool:
        """Render ``row``'s image again and reconstruct it live in the Pose dock."""
        store, target = self.project.store, self.project.target
        if store is None or target is None:
            self.message.emit(f"Open the project the report was made on (category "
                              f"{report.category}) to show its images")
            return False
        if self._busy():
            if not self.live:
                self.message.emit("The Pose dock is running: stop its run to show the image")
                return False
            self._pending = lambda: self.run_live(report, row)
            self.view.stop()
            self.message.emit("Stopping the previous image's run…")
            return True
        view = self.view
        self.dock.reveal()
        prepare = prepare_report_view(store, target, report.category, row, report.render,
                                      report.steps, report.objective)
        params = {"kind": RECONSTRUCTION, "source": "evaluation",
                  "arg": f"{row.model}@{row.azimuth:.3f},{row.elevation:.3f}",
                  "seed": report.render.seed, "steps": report.steps, "objective": report.objective,
                  "variant": row.variant}
        if not view.run_prepared(prepare, report.category, RECONSTRUCTION, params,
                                 f"Rendering view {row.index} of {report.category}/"
                                 f"{row.model} again…"):
            self.message.emit("The Pose dock cannot start a run now")
            return False
        self.live = True
        self.message.emit(f"Reconstructing view {row.index} of {row.model} ({row.variant}) "
                          "live in the Pose dock")
        return True

    def _run_finished(self, outcome) -> None:
        was_live, self.live = self.live, False
        pending, self._pending = self._pending, None
        if not was_live:
            return
        if pending is not None:
            pending()
        elif outcome.status == "failed":
            self.message.emit(f"Could not show the image: {outcome.message}")
