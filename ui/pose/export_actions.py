"""The Pose panel's export actions: *Export figure…* (Ctrl+Shift+E) and *Export run…*
(Ctrl+Alt+E), in the Run menu and under the panel's views.

- Export figure asks for a PNG file name and writes the shown step's figure (the image with
  its overlays and the 3D view side by side, a caption line: :mod:`ui.pose.export`).
- Export run asks for a folder and writes every kept step there as ``step_0000.png``, … (and
  ``run.gif`` with Pillow) through a :class:`~ui.pose.export.RunExport`: one step per
  event-loop pass, a cancellable progress dialog, drawn offscreen (the panel's views stop
  repainting meanwhile, so the screen keeps the shown step), then the views, the 3D camera
  and the framing are put back as they were. New live steps still land in the timeline.

Both are enabled once a step is shown and no run export is in progress; the folder last used
is remembered (QSettings ``pose/exportDir``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog

from ui import settings as app_settings
from ui.actions import new_action
from ui.pose.export import (
    IMAGE_BACKGROUND,
    ExportResult,
    RunExport,
    caption,
    compose_figure,
    panel_size,
)
from ui.pose.records import StepRecord

if TYPE_CHECKING:
    from ui.pose.pose_view import PoseView

NOTHING = "Nothing to export yet: run a pose first"


class PoseExports(QObject):
    """Export actions and their work for one :class:`~ui.pose.pose_view.PoseView`."""

    def __init__(self, view: PoseView) -> None:
        super().__init__(view)
        self.view = view
        self.current: RunExport | None = None  # the run export in progress
        # the dialogs open in the next pass, after the Run menu has revealed the dock
        self.figure_action = new_action(
            view, "Export &figure…", lambda: QTimer.singleShot(0, self.figure_dialog),
            "Ctrl+Shift+E", "Save the linked 2D and 3D views with a caption as one PNG",
            "actionPoseExportFigure", enabled=False)
        self.run_action = new_action(
            view, "Export r&un…", lambda: QTimer.singleShot(0, self.run_dialog),
            "Ctrl+Alt+E", "Save every step of the run as numbered PNGs (and a GIF)",
            "actionPoseExportRun", enabled=False)

    def update_actions(self) -> None:
        view = self.view
        link = getattr(view, "link", None)
        shown = link is not None and link.record is not None and view.image_view.has_image()
        idle = self.current is None
        self.figure_action.setEnabled(shown and idle)
        self.run_action.setEnabled(shown and idle and len(view.timeline.log) > 0)

    # ------------------------------------------------------------------ figures
    def view_size(self) -> tuple[int, int]:
        """``(height, width)`` of the 3D view, whose aspect the figure's 3D panel takes."""
        scene = self.view.scene3d
        return max(scene.height(), 1), max(scene.width(), 1)

    def render_figure(self, record: StepRecord | None = None,
                      view_size: tuple[int, int] | None = None) -> QImage | None:
        """The figure of the shown step (``record``: already shown in the views;
        ``view_size``: the 3D panel's aspect, default the 3D view's); None before a step
        is shown."""
        view = self.view
        record = record or view.link.record
        if record is None or not view.image_view.has_image():
            return None
        left_panel = panel_size(record.image_size)
        right_panel = panel_size(view_size or self.view_size())
        left = view.image_view.render_image(*left_panel, background=IMAGE_BACKGROUND)
        name = view.source.name if view.source is not None else "image"
        text = caption(name, record, len(view.timeline.log))
        return compose_figure(left, view.scene3d.snapshot(), text, left_panel, right_panel)

    def export_figure(self, path: str | Path) -> Path | None:
        """Write the shown step's figure to ``path`` (PNG); None (and says why) when there
        is nothing to draw or the file cannot be written."""
        figure = self.render_figure()
        if figure is None:
            self.view.say(NOTHING, error=True)
            return None
        path = Path(path)
        if not figure.save(str(path), "PNG"):
            self.view.say(f"Cannot write {path}", error=True)
            return None
        self.view.say(f"Figure saved: {path} ({figure.width()} x {figure.height()})")
        return path

    # --------------------------------------------------------------------- runs
    def export_run(self, folder: str | Path, gif: bool = True,
                   dialog: bool = True) -> RunExport | None:
        """Write every kept step to ``folder`` (module docstring); the view's
        ``export_finished`` says when it is over. Returns the export (None, and says why,
        when there is nothing to export or an export is running)."""
        view = self.view
        records = view.timeline.log.snapshot()
        if self.current is not None:
            view.say("An export is already running", error=True)
            return None
        if not records or view.link.record is None:
            view.say(NOTHING, error=True)
            return None
        plotter = view.scene3d.plotter
        camera = plotter.camera_position if plotter is not None else None
        framing = view.scene3d.view_state()

        def restore() -> None:
            self.current = None
            view.splitter.setUpdatesEnabled(True)
            view.scene3d.restore_view_state(framing)
            shown = view.timeline.current() or view.link.record
            if shown is not None:
                view.show_record(shown)
            if plotter is not None and camera is not None and not view.scene3d.closed:
                plotter.camera_position = camera
                view.scene3d.request_render()
            view.run_action.setEnabled(view.state == "idle")
            self.update_actions()

        size = self.view_size()  # every frame the same size
        export = RunExport(records, view._show_views, lambda r: self.render_figure(r, size),
                           restore, folder, gif=gif, parent=view.window() if dialog else None)
        export.finished.connect(self._done)
        self.current = export
        # the figures are drawn from the views: the 2D side offscreen (the screen keeps the
        # shown step), the 3D view's native window shows each exported step as it renders
        view.splitter.setUpdatesEnabled(False)
        view.run_action.setEnabled(False)
        self.update_actions()
        view.say(f"Exporting {len(records)} steps to {folder}…")
        export.start()
        return export

    def cancel(self) -> None:
        """Cancel the run export in progress (the views are put back)."""
        if self.current is not None:
            self.current.cancel()

    def _done(self, result: ExportResult) -> None:
        view = self.view
        if result.error:
            view.say(f"Export failed: {result.error}", error=True)
        elif result.cancelled:
            view.say(f"Export cancelled: {len(result.frames)} of the steps written to "
                     f"{result.folder}")
        else:
            gif = f" and {result.gif.name}" if result.gif is not None else ""
            view.say(f"Exported {len(result.frames)} steps to {result.folder}{gif}")
        view.export_finished.emit(result)

    # ------------------------------------------------------------------ dialogs
    @staticmethod
    def _last_dir() -> str:
        return str(app_settings.settings().value("pose/exportDir", str(Path.home())))

    @staticmethod
    def _remember(folder: Path) -> None:
        app_settings.settings().setValue("pose/exportDir", str(folder))

    def figure_dialog(self) -> None:
        """Ask for a PNG file name and write the figure there."""
        record = self.view.link.record
        if record is None:
            self.view.say(NOTHING, error=True)
            return
        name = f"pose_step{record.index + 1:04d}.png"
        path, _ = QFileDialog.getSaveFileName(self.view, "Export figure",
                                              str(Path(self._last_dir()) / name),
                                              "PNG images (*.png)")
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            self._remember(Path(path).parent)
            self.export_figure(path)

    def run_dialog(self) -> None:
        """Ask for a folder and export every step there."""
        if not len(self.view.timeline.log):
            self.view.say(NOTHING, error=True)
            return
        folder = QFileDialog.getExistingDirectory(self.view, "Export run to a folder",
                                                  self._last_dir())
        if folder:
            self._remember(Path(folder))
            self.export_run(folder)
