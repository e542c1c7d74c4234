"""The Annotate menu: annotator choice, set keys, next/previous model, absent, delete.

Keys: 1-8 select sets 1-8 and Q W E R T Y U I sets 9-16; N / P next / previous model;
Space marks the current point absent; Delete removes it. A click on the surface places
the current set's point; dragging a point moves it along the surface (Escape cancels);
a click on a point makes its set current.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog, QLabel, QMainWindow, QMenu

from ui.actions import new_action
from ui.annotation_controller import N_SET_KEYS, AnnotationController
from ui.project_browser import ProjectBrowser
from ui.selection import Selection

SET_KEYS = "12345678QWERTYUI"


class AnnotateActions(QObject):
    """Builds the Annotate menu and the status-bar label for annotation."""

    def __init__(self, window: QMainWindow, controller: AnnotationController,
                 selection: Selection, browser: ProjectBrowser) -> None:
        super().__init__(window)
        self.window = window
        self.controller = controller
        self.selection = selection
        self.browser = browser
        self.label = QLabel("No annotator", window)
        self.label.setObjectName("annotationStatus")
        window.statusBar().addPermanentWidget(self.label)
        controller.annotator_changed.connect(lambda _n: self._update_label())
        controller.current_set_changed.connect(lambda _n: self._update_label())
        controller.status.connect(lambda m: window.statusBar().showMessage(m, 5000))

    def build_menu(self, menu: QMenu) -> None:
        w, c = self.window, self.controller
        menu.addAction(new_action(w, "Choose &annotator...", self.choose_annotator, "Ctrl+Shift+A",
                                  "Act as an annotator (or add one)", "actionChooseAnnotator"))
        menu.addSeparator()
        sets = menu.addMenu("Current &set")
        for n in range(N_SET_KEYS):
            sets.addAction(new_action(w, f"Set {n + 1}", lambda _=False, n=n: c.select_set(n),
                                      SET_KEYS[n], f"Make set {n + 1} current",
                                      f"actionSet{n + 1}"))
        menu.addAction(new_action(w, "Mark &absent", c.mark_absent, "Space",
                                  "The current set's part is missing on this model",
                                  "actionMarkAbsent"))
        menu.addAction(new_action(w, "&Delete point", c.delete_current, "Delete",
                                  "Remove the current set's point from this model",
                                  "actionDeletePoint"))
        menu.addSeparator()
        menu.addAction(new_action(w, "&Next model", lambda: self.step_model(1), "N",
                                  "Show the next model of the category", "actionNextModel"))
        menu.addAction(new_action(w, "&Previous model", lambda: self.step_model(-1), "P",
                                  "Show the previous model of the category",
                                  "actionPreviousModel"))

    def choose_annotator(self) -> None:
        names = self.controller.annotators()
        name, ok = QInputDialog.getItem(self.window, "Annotator",
                                        "Annotate as (type a new name to add one):", names,
                                        0, True)
        if ok and name.strip():
            self.controller.set_annotator(name.strip(), create=name.strip() not in names)

    def step_model(self, delta: int) -> None:
        category, name = self.selection.model
        names = self.browser.model_names(category)
        if name in names:
            self.selection.select_model(category, names[(names.index(name) + delta)
                                                        % len(names)])

    def _update_label(self) -> None:
        who = self.controller.annotator or "No annotator"
        self.label.setText(f"{who} — set {self.controller.current_set + 1} "
                           f"[{SET_KEYS[self.controller.current_set]}]")
