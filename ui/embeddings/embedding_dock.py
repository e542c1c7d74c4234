"""The Embeddings dock ("embeddingDock"): train a point embedding live, then inspect it.

:func:`install_embeddings` puts it on a main window (tabbed with the bottom docks, hidden
until asked for) and adds View > Embeddings and Run > Train embeddings (Ctrl+Shift+F5).
The shown model's category is the one trained and inspected. A finished training hands its
best checkpoint to the Inspector; "Use for suggestions" makes it the category's suggestion
checkpoint. Closing the window stops a training run and waits for its thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabWidget, QWidget

from ui.actions import CloseWatcher, add_dock_toggle, find_menu, new_action
from ui.embeddings.inspector_panel import InspectorPanel
from ui.embeddings.training_panel import TrainingPanel

MIN_HEIGHT = 420  # pixels the dock gets when revealed


class EmbeddingDock(QDockWidget):
    """Training and Inspector tabs (see the module docstring)."""

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__("Embeddings", parent)
        self.setObjectName("embeddingDock")
        self.tabs = QTabWidget(self)
        self.training = TrainingPanel(project, self.tabs)
        self.inspector = InspectorPanel(project, self.tabs)
        self.tabs.addTab(self.training, "&Training")
        self.tabs.addTab(self.inspector, "&Inspector")
        self.setWidget(self.tabs)
        self.training.checkpoint_ready.connect(self._trained)
        self._closed = False

    def set_category(self, category: str) -> None:
        self.training.set_category(category)
        self.inspector.set_category(category)

    def _trained(self, category: str, path: str) -> None:
        if category == self.inspector.category:
            self.inspector.set_checkpoint(path)

    def reveal(self, tab: int | None = None) -> None:
        """Show and raise the dock (at least :data:`MIN_HEIGHT` tall), on ``tab``."""
        self.show()
        self.raise_()
        if tab is not None:
            self.tabs.setCurrentIndex(tab)
        window = self.parent()
        if isinstance(window, QMainWindow) and not self.isFloating() and \
                self.height() < MIN_HEIGHT:
            window.resizeDocks([self], [MIN_HEIGHT], Qt.Orientation.Vertical)

    def train(self) -> bool:
        """Run > Train embeddings: show the Training tab and start."""
        self.reveal(0)
        return self.training.run()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop training, wait for its thread, release the 3D views (window close)."""
        if self._closed:
            return True
        self._closed = True
        ended = self.training.shutdown(timeout_ms)
        self.inspector.shutdown()
        return ended


def install_embeddings(window) -> EmbeddingDock:
    """Add the Embeddings dock and its menu entries to a built main window."""
    dock = EmbeddingDock(window.controller, window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    neighbour = getattr(window, "pose_dock", None)
    if neighbour is not None:
        window.tabifyDockWidget(neighbour, dock)
    dock.hide()
    add_dock_toggle(window, dock, "actionEmbeddingDock", "&Embeddings")
    run_menu = find_menu(window, "runMenu", "&Run")
    run_menu.addSeparator()
    run_menu.addAction(new_action(window, "Train &embeddings", dock.train, "Ctrl+Shift+F5",
                                  "Train a point embedding on the shown category's sets, live",
                                  "actionTrainEmbeddings"))
    run_menu.addAction(new_action(window, "&Inspect embeddings", lambda: dock.reveal(1), None,
                                  "Pick a point on one model, see where it lands on others",
                                  "actionInspectEmbeddings"))
    window.mesh_view.scene_shown.connect(lambda category, _name: dock.set_category(category))
    dock.training.use_requested.connect(lambda c, p: _use_for_suggestions(window, c, p))
    dock.close_watcher = CloseWatcher(window, dock.shutdown)
    return dock


def _use_for_suggestions(window, category: str, path: str) -> None:
    """Make ``path`` the suggestion checkpoint of ``category`` (through the suggestion
    controller when that category is shown, so it reloads)."""
    qa = getattr(window, "qa", None)
    scene = window.mesh_view.scene
    if qa is not None and scene is not None and scene.info.category == category:
        qa.suggestions.set_checkpoint(path)
        return
    from ui.qa.checkpoints import set_checkpoint

    if window.controller.target:
        set_checkpoint(window.controller.target, category, path)
