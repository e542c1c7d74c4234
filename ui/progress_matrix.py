"""The progress matrix: the category's models x the current annotator's sets.

A cell is green when the point is placed, grey when marked absent, empty when
missing. Clicking a cell shows that model and makes that set current.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem, QWidget

from core.store.records import ABSENT, PLACED
from ui.annotation_controller import AnnotationController
from ui.selection import Selection

PLACED_COLOR = QColor("#4caf50")
ABSENT_COLOR = QColor("#9e9e9e")


class ProgressMatrix(QTableWidget):
    """Models (rows) x sets (columns) of the current annotator in the shown category."""

    def __init__(self, controller: AnnotationController, selection: Selection,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("progressMatrix")
        self.controller = controller
        self.selection = selection
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self._numbers: list[int] = []
        self._models: list[str] = []
        self.category = ""
        controller.annotator_changed.connect(lambda _n: self.refresh())
        controller.keypoints_changed.connect(lambda _kp: self.refresh())
        controller.project.model_loaded.connect(self._on_scene)
        self.cellClicked.connect(self._on_cell)

    def refresh(self) -> None:
        """Re-read the category's sets (one query) and repaint."""
        scene, store = self.controller.scene, self.controller.store
        annotator = self.controller.annotator
        if scene is None or store is None or annotator is None:
            self.setRowCount(0)
            self.setColumnCount(0)
            return
        sets = store.category_sets(scene.info.category)
        cols = [j for j, a in enumerate(sets.set_annotators) if a == annotator]
        self.category = scene.info.category
        self._numbers = [int(sets.set_numbers[j]) for j in cols]
        self._models = list(sets.model_names)
        self.setRowCount(len(self._models))
        self.setColumnCount(len(cols))
        self.setHorizontalHeaderLabels([str(n + 1) for n in self._numbers])
        self.setVerticalHeaderLabels(self._models)
        for i in range(len(self._models)):
            for c, j in enumerate(cols):
                item = QTableWidgetItem()
                state = sets.state[i, j]
                if state == PLACED:
                    item.setBackground(QBrush(PLACED_COLOR))
                elif state == ABSENT:
                    item.setBackground(QBrush(ABSENT_COLOR))
                    item.setText("–")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.setItem(i, c, item)
        self.resizeColumnsToContents()

    def _on_scene(self, scene) -> None:
        if scene.info.category != self.category:
            self.refresh()

    def state_of(self, model: str, number: int) -> int:
        """0 missing, 1 placed, 2 absent, as drawn."""
        item = self.item(self._models.index(model), self._numbers.index(number))
        color = item.background().color()
        return 1 if color == PLACED_COLOR else 2 if color == ABSENT_COLOR else 0

    def _on_cell(self, row: int, col: int) -> None:
        self.controller.select_set(self._numbers[col])
        self.selection.select_model(self.category, self._models[row])
