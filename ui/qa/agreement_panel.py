"""Inter-annotator agreement per landmark of the shown category, in a sortable table.

"Compute" runs :func:`core.annotation.agreement_table` (geodesic spread between the
annotators' points of each landmark group, fraction of the bounding-box diagonal) on a
worker thread. Numeric columns sort as numbers; "—" marks a group never measured.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.annotation import AgreementRow, agreement_table
from ui.annotation_controller import AnnotationController
from ui.mesh_view import MeshView
from ui.qa.panel_parts import row_table, shown_category
from ui.selection import Selection
from ui.workers import run_in_thread

COLUMNS = ("Landmark", "Annotators", "Models", "Pairs", "Mean spread", "Max spread",
           "Sets (annotator:set)")
MEAN_COLUMN = 4


def _one_based(label: str) -> str:
    """``"annotator:number"`` (0-based, as the engine names sets) as the UI numbers sets
    (1-based, like the set keys and the progress matrix)."""
    who, _, number = label.rpartition(":")
    return f"{who}:{int(number) + 1}" if who and number.isdigit() else label


class _Number(QTableWidgetItem):
    """A cell that sorts by its value (NaN last) and shows it formatted."""

    def __init__(self, value: float, fmt: str) -> None:
        super().__init__("—" if math.isnan(value) else fmt.format(value))
        self.value = value
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if not isinstance(other, _Number):
            return super().__lt__(other)
        a, b = self.value, other.value
        if math.isnan(a) or math.isnan(b):
            return not math.isnan(a) and math.isnan(b)
        return a < b


class AgreementPanel(QWidget):
    """Agreement table of the shown model's category."""

    computed = Signal(str, int)  # category, rows
    status = Signal(str)

    def __init__(self, annotation: AnnotationController, selection: Selection, view: MeshView,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("agreementPanel")
        self.annotation = annotation
        self.selection = selection
        self.view = view
        self.category = ""
        self.rows: list[AgreementRow] = []
        self._worker = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        top = QHBoxLayout()
        self.compute_button = QPushButton("Compute", self)
        self.compute_button.setObjectName("agreementComputeButton")
        self.compute_button.setToolTip("Measure how far apart the annotators' points of each "
                                       "landmark are (geodesic, shown category)")
        self.compute_button.clicked.connect(self.compute)
        top.addWidget(self.compute_button)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("agreementProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        top.addWidget(self.progress, 1)
        layout.addLayout(top)
        self.info = QLabel("Show a model, then Compute", self)
        self.info.setObjectName("agreementInfo")
        layout.addWidget(self.info)
        self.table = row_table(self, "agreementTable", COLUMNS, stretch_last=True)
        self.table.setSortingEnabled(True)
        layout.addWidget(self.table, 1)

    def current_category(self) -> str:
        return shown_category(self.view, self.selection)

    @property
    def running(self) -> bool:
        return self._worker is not None

    def compute(self) -> bool:
        """Compute the shown category's agreement table (False: cannot start)."""
        store, category = self.annotation.store, self.current_category()
        if store is None or not category:
            self.status.emit("Agreement: open a project and show a model first")
            return False
        if self._worker is not None:
            return False
        self.compute_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.setFormat(f"Measuring {category} ...")
        self._worker = run_in_thread(agreement_table, store, category,
                                     on_done=lambda rows: self._done(category, rows),
                                     on_error=self._failed)
        return True

    def reset(self) -> None:
        """Another project: empty the table."""
        self.category, self.rows = "", []
        self.table.setRowCount(0)
        self.info.setText("Show a model, then Compute")

    def _done(self, category: str, rows: list[AgreementRow]) -> None:
        self._worker = None
        self.compute_button.setEnabled(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat(f"{len(rows)} landmark groups")
        self.category, self.rows = category, list(rows)
        t = self.table
        t.setSortingEnabled(False)  # fill first, then sort
        t.setRowCount(len(rows))
        for i, r in enumerate(rows):
            name = QTableWidgetItem(r.name)
            name.setData(Qt.ItemDataRole.UserRole, r.group)
            name.setToolTip(", ".join(_one_based(x) for x in r.labels))
            t.setItem(i, 0, name)
            t.setItem(i, 1, _Number(len(r.annotators), "{:.0f}"))
            t.item(i, 1).setToolTip(", ".join(r.annotators))
            t.setItem(i, 2, _Number(r.n_models, "{:.0f}"))
            t.setItem(i, 3, _Number(r.n_pairs, "{:.0f}"))
            t.setItem(i, 4, _Number(r.mean_spread, "{:.4f}"))
            t.setItem(i, 5, _Number(r.max_spread, "{:.4f}"))
            t.setItem(i, 6, QTableWidgetItem(", ".join(_one_based(x) for x in r.labels)))
        t.setSortingEnabled(True)
        t.sortByColumn(MEAN_COLUMN, Qt.SortOrder.DescendingOrder)  # least agreement first
        t.resizeColumnsToContents()
        measured = [r.mean_spread for r in rows if not math.isnan(r.mean_spread)]
        mean = sum(measured) / len(measured) if measured else math.nan
        self.info.setText(f"{category}: {len(rows)} landmarks; mean spread "
                          f"{'—' if math.isnan(mean) else f'{mean:.4f}'} of the diagonal")
        self.computed.emit(category, len(rows))

    def _failed(self, exc: BaseException) -> None:
        self._worker = None
        self.compute_button.setEnabled(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Failed")
        self.status.emit(f"Agreement failed: {exc}")

    def row_values(self) -> list[tuple[int, str, int, int, int, float, float]]:
        """What the table shows, in its current order: (group, name, annotators, models,
        pairs, mean, max)."""
        t = self.table
        return [(int(t.item(i, 0).data(Qt.ItemDataRole.UserRole)), t.item(i, 0).text(),
                 int(t.item(i, 1).value), int(t.item(i, 2).value), int(t.item(i, 3).value),
                 t.item(i, 4).value, t.item(i, 5).value) for i in range(t.rowCount())]
