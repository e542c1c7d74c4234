"""Put suggestions, the review queue and the agreement table on a main window.

:func:`install_qa` needs a built :class:`ui.main_window.MainWindow` (its menus, mesh view,
annotation controller and progress dock) and adds:

- Annotate > Suggestions: Show suggestions, Show heatmap (checkable, remembered), Accept
  suggestion (Enter in the 3D view), Accept all suggestions for this model
  (Ctrl+Shift+Enter), Load checkpoint..., Use positions (no checkpoint);
- the "Review" (``reviewDock``) and "Agreement" (``agreementDock``) docks, tabbed with the
  progress dock, with their toggles in the View menu;
- a status-bar label naming the active suggestion method.

Call it before the window restores its saved layout so the docks' places are restored too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMenu

from ui import settings as app_settings
from ui.actions import CloseWatcher, add_dock_toggle, find_menu, new_action
from ui.qa.agreement_panel import AgreementPanel
from ui.qa.checkpoints import checkpoint_for
from ui.qa.review_panel import ReviewPanel
from ui.qa.suggestions import SuggestionController

SHOW_KEY = "suggestions/show"
HEATMAP_KEY = "suggestions/heatmap"
_INSTALLED = "_corrstudio_qa_ui"  # the window attribute holding what install_qa added


@dataclass(eq=False)
class QaUi:
    """What :func:`install_qa` added to the window."""

    window: QMainWindow
    suggestions: SuggestionController
    review: ReviewPanel
    review_dock: QDockWidget
    agreement: AgreementPanel
    agreement_dock: QDockWidget
    method_label: QLabel
    menu: QMenu
    actions: dict[str, QAction] = field(default_factory=dict)
    close_watcher: QObject | None = None

    def load_checkpoint_dialog(self) -> None:
        """Annotate > Suggestions > Load checkpoint...: choose a .safetensors file."""
        scene = self.window.mesh_view.scene
        if scene is None:
            self.window.statusBar().showMessage("Show a model first: the checkpoint is "
                                                "chosen per category", 5000)
            return
        current = checkpoint_for(self.window.controller.target, scene.info.category)
        start = str(Path(current).parent) if current else ""
        path, _ = QFileDialog.getOpenFileName(
            self.window, f"Embedding checkpoint for {scene.info.category}", start,
            "Embedding checkpoints (*.safetensors);;All files (*)")
        if path:
            self.suggestions.set_checkpoint(path)

    def update_label(self) -> None:
        """Say which method the shown category's suggestions use."""
        s = self.suggestions
        scene, target = self.window.mesh_view.scene, self.window.controller.target
        category = scene.info.category if scene is not None else ""
        configured = checkpoint_for(target, category)
        if not s.enabled:
            text = "Suggestions off"
        elif s.engine_key == (target, category, configured) and s.method:
            text = f"Suggestions: {s.method}"
            if configured and s.method == "xyz":
                text += " (checkpoint not usable)"
        elif configured:
            text = f"Suggestions: {Path(configured).name} (not loaded yet)"
        else:
            text = "Suggestions: xyz"
        self.method_label.setText(text)
        self.method_label.setToolTip("Where suggestions come from: an embedding checkpoint "
                                     "(Annotate > Suggestions > Load checkpoint), or xyz: "
                                     "the surface point nearest to where the set lies on the "
                                     "other models")

    def shutdown(self) -> None:
        """Stop the review checks (the window closes)."""
        self.review.shutdown()


def _flag(key: str, default: bool = True) -> bool:
    value = app_settings.settings().value(key, default)
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1")


def install_qa(window) -> QaUi:
    """Add suggestions, the review queue and the agreement table to ``window`` (once: a
    second call returns what the first one added)."""
    existing = getattr(window, _INSTALLED, None)
    if isinstance(existing, QaUi):
        return existing
    annotation, view, selection = window.annotation, window.mesh_view, window.selection
    bar = window.statusBar()

    suggestions = SuggestionController(annotation, view, window)
    suggestions.status.connect(lambda m: bar.showMessage(m, 8000))

    review = ReviewPanel(annotation, selection, view, window)
    review.status.connect(lambda m: bar.showMessage(m, 8000))
    review_dock = QDockWidget("Review", window)
    review_dock.setObjectName("reviewDock")
    review_dock.setWidget(review)
    agreement = AgreementPanel(annotation, selection, view, window)
    agreement.status.connect(lambda m: bar.showMessage(m, 8000))
    agreement_dock = QDockWidget("Agreement", window)
    agreement_dock.setObjectName("agreementDock")
    agreement_dock.setWidget(agreement)
    bottom = Qt.DockWidgetArea.BottomDockWidgetArea
    window.addDockWidget(bottom, review_dock)
    window.addDockWidget(bottom, agreement_dock)
    progress_dock = getattr(window, "progress_dock", None)
    if progress_dock is not None:
        window.tabifyDockWidget(progress_dock, review_dock)
        window.tabifyDockWidget(review_dock, agreement_dock)
        progress_dock.raise_()

    label = QLabel("Suggestions: xyz", window)
    label.setObjectName("suggestionMethod")
    bar.addPermanentWidget(label)

    annotate = find_menu(window, "annotateMenu", "&Annotate")
    annotate.addSeparator()
    menu = annotate.addMenu("S&uggestions")
    menu.setObjectName("suggestionsMenu")
    qa = QaUi(window, suggestions, review, review_dock, agreement, agreement_dock, label, menu)

    show = new_action(window, "&Show suggestions", None, None,
                      "Show where the current point most likely lies on this model",
                      "actionShowSuggestions", checkable=True)
    heat = new_action(window, "Show &heatmap", None, None,
                      "Colour the model by similarity to the current set's points elsewhere",
                      "actionShowHeatmap", checkable=True)
    show.setChecked(_flag(SHOW_KEY))
    heat.setChecked(_flag(HEATMAP_KEY))
    suggestions.enabled, suggestions.heatmap_on = show.isChecked(), heat.isChecked()

    def toggled_show(on: bool) -> None:
        app_settings.settings().setValue(SHOW_KEY, bool(on))
        suggestions.set_enabled(on)
        qa.update_label()

    def toggled_heat(on: bool) -> None:
        app_settings.settings().setValue(HEATMAP_KEY, bool(on))
        suggestions.set_heatmap(on)

    show.toggled.connect(toggled_show)
    heat.toggled.connect(toggled_heat)
    accept = new_action(window, "&Accept suggestion", suggestions.accept, None,
                        "Place the current point at the suggestion (Enter in the 3D view)",
                        "actionAcceptSuggestion")
    accept.setShortcuts([QKeySequence(Qt.Key.Key_Return), QKeySequence(Qt.Key.Key_Enter)])
    accept.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    view.addAction(accept)  # Enter works while the 3D view has the focus
    accept_all = new_action(window, "Accept a&ll suggestions for this model",
                            suggestions.accept_all, None,
                            "Place every missing point of the annotator on this model at its "
                            "suggestion (one undo step)", "actionAcceptAllSuggestions")
    accept_all.setShortcuts([QKeySequence("Ctrl+Shift+Return"),
                             QKeySequence("Ctrl+Shift+Enter")])
    load = new_action(window, "Load &checkpoint...", qa.load_checkpoint_dialog, None,
                      "Use an embedding checkpoint for this category's suggestions",
                      "actionLoadCheckpoint")
    clear = new_action(window, "Use &positions (no checkpoint)",
                       lambda: suggestions.set_checkpoint(None), None,
                       "Suggest from positions in the normalized frame (xyz)",
                       "actionClearCheckpoint")
    menu.addActions([show, heat])
    menu.addSeparator()
    menu.addActions([accept, accept_all])
    menu.addSeparator()
    menu.addActions([load, clear])
    qa.actions.update({a.objectName(): a for a in (show, heat, accept, accept_all, load, clear)})

    for dock in (review_dock, agreement_dock):
        add_dock_toggle(window, dock,
                        f"action{dock.objectName()[0].upper()}{dock.objectName()[1:]}")

    suggestions.method_changed.connect(lambda _m: qa.update_label())
    suggestions.checkpoint_changed.connect(lambda _p: qa.update_label())
    view.scene_shown.connect(lambda _c, _n: qa.update_label())
    window.controller.project_opened.connect(lambda _t: (review.reset(), agreement.reset()))
    qa.close_watcher = CloseWatcher(window, qa.shutdown)
    qa.update_label()
    setattr(window, _INSTALLED, qa)
    return qa
