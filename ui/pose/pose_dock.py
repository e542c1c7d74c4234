"""The Pose dock ("poseDock"): the :class:`~ui.pose.pose_view.PoseView` panel in a dock, its
Run menu, and clean cancellation.

It starts hidden in the bottom dock area (View > Pose, or any Run menu action, shows it and
gives it room). Closing the dock during a run cancels the run (the worker thread ends after
the step in flight); :meth:`PoseDock.shutdown` (main window close) cancels and waits.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QWidget

from ui.image_view import ImageView
from ui.pose.pose_view import PoseView

MIN_HEIGHT = 430  # pixels the dock gets when revealed


class PoseDock(QDockWidget):
    """Dock holding the Pose panel (see the module docstring)."""

    def __init__(self, project, selection, image_view: ImageView | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__("Pose", parent)
        self.setObjectName("poseDock")
        self.view = PoseView(project, selection, image_view, self)
        self.setWidget(self.view)

    def build_menu(self, menu: QMenu) -> None:
        """Fill the Run menu: show the dock, Run / Pause / Step / Stop, Export figure… /
        Export run…."""
        show = self.toggleViewAction()
        show.setText("Pose &dock")
        menu.addAction(show)
        menu.addSeparator()
        for action in self.view.actions_list:
            action.triggered.connect(self.reveal)
            menu.addAction(action)
        menu.addSeparator()
        for action in self.view.export_actions:  # (their dialogs open after the reveal)
            action.triggered.connect(self.reveal)
            menu.addAction(action)

    def reveal(self) -> None:
        """Show and raise the dock, at least :data:`MIN_HEIGHT` tall."""
        self.show()
        self.raise_()
        window = self.parent()
        if isinstance(window, QMainWindow) and not self.isFloating() and \
                self.height() < MIN_HEIGHT:
            window.resizeDocks([self], [MIN_HEIGHT], Qt.Orientation.Vertical)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.view.stop()  # closing the view cancels its run
        super().closeEvent(event)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel the run, wait for its thread, release the 3D view."""
        return self.view.shutdown(timeout_ms)
