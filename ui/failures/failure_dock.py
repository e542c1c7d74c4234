"""The Failures dock ("failureBrowserDock") and :func:`install_failure_browser`.

It sits in the bottom dock area beside (not tabbed with) the Pose dock, so that the table
stays in sight while the Pose dock shows a chosen image; hidden until View > Failures shows
it. A chosen row
goes to the Pose dock (:class:`~ui.failures.pose_link.PoseLink`): replayed when the browser
evaluated it, rendered again and reconstructed live when it came from a report. The Pose
dock's status line says how that run goes; the browser's says what was shown. Closing the
window stops an evaluation and waits for its thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from ui.actions import CloseWatcher, add_dock_toggle
from ui.failures.failure_panel import ChosenImage, FailurePanel
from ui.failures.pose_link import PoseLink

MIN_HEIGHT = 300  # pixels the dock gets when revealed...
MIN_WIDTH = 520  # ...and its width beside the Pose dock


class FailureDock(QDockWidget):
    """The failure browser in a dock (see the module docstring)."""

    def __init__(self, project, pose_dock, parent: QWidget | None = None) -> None:
        super().__init__("Failures", parent)
        self.setObjectName("failureBrowserDock")
        self.panel = FailurePanel(project, self._category, self)
        self.setWidget(self.panel)
        self.pose_dock = pose_dock
        self.link = PoseLink(pose_dock, project, self)
        self.link.message.connect(self.panel.say)
        self.panel.image_chosen.connect(self.show_image)
        self._closed = False

    def _category(self) -> str:
        return self.pose_dock.view.category()

    def show_image(self, chosen: ChosenImage) -> bool:
        """Show a chosen row's image in the Pose dock (replay, else a live run)."""
        if chosen.image is not None and chosen.template is not None:
            return self.link.replay(chosen.image, chosen.template, chosen.report.category)
        return self.link.run_live(chosen.report, chosen.row)

    def reveal(self) -> None:
        """Show and raise the dock, at least :data:`MIN_HEIGHT` tall and :data:`MIN_WIDTH`
        wide."""
        self.show()
        self.raise_()
        window = self.parent()
        if isinstance(window, QMainWindow) and not self.isFloating():
            if self.height() < MIN_HEIGHT:
                window.resizeDocks([self], [MIN_HEIGHT], Qt.Orientation.Vertical)
            if self.width() < MIN_WIDTH:
                window.resizeDocks([self], [MIN_WIDTH], Qt.Orientation.Horizontal)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop an evaluation and wait for its thread (window close)."""
        if self._closed:
            return True
        self._closed = True
        return self.panel.shutdown(timeout_ms)


def install_failure_browser(window) -> FailureDock:
    """Add the Failures dock to a built main window (bottom area, to the right of the
    Pose dock's tabs, hidden) and its View menu toggle."""
    dock = FailureDock(window.controller, window.pose_dock, window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock,
                         Qt.Orientation.Horizontal)
    dock.hide()
    add_dock_toggle(window, dock, "actionFailureBrowserDock", "&Failures")
    dock.close_watcher = CloseWatcher(window, dock.shutdown)
    return dock
