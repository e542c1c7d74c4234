"""The failure browser's panel: the image table, its two sources and the variant filter.

- *Open evaluation…* loads an ``evaluate-images --json`` report
  (:func:`ui.failures.report.load_report`; a bad file is a message naming it, nothing
  changes);
- *Evaluate category* evaluates the current category in a worker thread
  (:class:`~ui.failures.eval_worker.EvaluationRun`, a few views by default: the spin boxes),
  rows appearing as images finish, a progress bar and *Stop*.

Choosing a row emits :attr:`FailurePanel.image_chosen` with the row and, for an image the
panel evaluated, what it kept (its run's records and source): see
:mod:`ui.failures.pose_link`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.failures.eval_job import EvalFinished, EvalOptions, EvalStarted, EvaluatedImage
from ui.failures.eval_worker import EvaluationRun
from ui.failures.report import FailureReport, FailureRow, ReportError, load_report
from ui.failures.table_model import COLUMN, FailureSortProxy, FailureTableModel

ALL_VARIANTS = "All variants"


@dataclass(frozen=True)
class ChosenImage:
    """A chosen row: its report, and for an evaluated image its records and source
    (``image``) and the run template (``template``)."""

    report: FailureReport
    row: FailureRow
    image: EvaluatedImage | None = None
    template: object = None


class FailurePanel(QWidget):
    """See the module docstring. ``category()`` says which category *Evaluate* uses."""

    image_chosen = Signal(object)  # ChosenImage
    report_loaded = Signal(object)  # FailureReport (loaded or evaluated)
    evaluation_finished = Signal(object)  # EvalFinished | BaseException | None (stopped)

    def __init__(self, project, category: Callable[[], str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("failureBrowser")
        self.project = project
        self.category = category
        self.report: FailureReport | None = None
        self.images: dict[tuple[int, str], EvaluatedImage] = {}  # evaluated here
        self.template = None  # the evaluation's run template
        self.last_error = ""
        self.run = EvaluationRun(self)
        self._build()
        self.run.message.connect(self.say)
        self.run.started_eval.connect(self._started)
        self.run.image_done.connect(self._image_done)
        self.run.ended.connect(self._ended)
        self._set_running(False)
        self.say("Open an evaluation (evaluate-images --json) or evaluate the shown category")

    # -------------------------------------------------------------------- build
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        self.open_button = QPushButton("Open evaluation…", self)
        self.open_button.setObjectName("failureOpenButton")
        self.open_button.setToolTip("Load the JSON report of `corrstudio evaluate-images "
                                    "--json`")
        self.open_button.clicked.connect(self.open_dialog)
        self.evaluate_button = QPushButton("Evaluate category", self)
        self.evaluate_button.setObjectName("failureEvaluateButton")
        self.evaluate_button.setToolTip("Reconstruct a few held-out renders of the shown "
                                        "category in the background and score them")
        self.evaluate_button.clicked.connect(lambda: self.evaluate())
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setObjectName("failureStopButton")
        self.stop_button.clicked.connect(self.stop)
        bar.addWidget(self.open_button)
        bar.addWidget(self.evaluate_button)
        bar.addWidget(self.stop_button)
        self.views_spin = self._spin(bar, "Views/model:", "failureViewsPerModel", 1, 16, 1,
                                     "Views rendered per held-out model")
        self.images_spin = self._spin(bar, "Images:", "failureMaxImages", 1, 500, 4,
                                      "At most this many views are evaluated (spread over "
                                      "the models)")
        self.steps_spin = self._spin(bar, "Steps:", "failureSteps", 0, 500, 20,
                                     "Refinement steps per image")
        bar.addStretch(1)
        bar.addWidget(QLabel("Variant:", self))
        self.variant_combo = QComboBox(self)
        self.variant_combo.setObjectName("failureVariant")
        self.variant_combo.setToolTip("Show one variant's rows")
        self.variant_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.variant_combo.setMinimumContentsLength(len(ALL_VARIANTS))
        self.variant_combo.currentIndexChanged.connect(self._variant_changed)
        bar.addWidget(self.variant_combo)
        layout.addLayout(bar)

        self.model = FailureTableModel(self)
        self.proxy = FailureSortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView(self)
        self.table.setObjectName("failureTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COLUMN["IoU"], Qt.SortOrder.AscendingOrder)  # worst first
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.activated.connect(lambda index: self.choose(index.row()))  # again
        layout.addWidget(self.table, 1)

        foot = QHBoxLayout()
        self.progress = QProgressBar(self)
        self.progress.setObjectName("failureProgress")
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        foot.addWidget(self.progress)
        self.status = QLabel("", self)
        self.status.setObjectName("failureStatus")
        self.status.setWordWrap(True)
        foot.addWidget(self.status, 1)
        layout.addLayout(foot)

    def _spin(self, bar: QHBoxLayout, label: str, name: str, lo: int, hi: int, value: int,
              tip: str) -> QSpinBox:
        bar.addWidget(QLabel(label, self))
        spin = QSpinBox(self)
        spin.setObjectName(name)
        spin.setRange(lo, hi)
        spin.setValue(value)
        spin.setToolTip(tip)
        bar.addWidget(spin)
        return spin

    # ------------------------------------------------------------------ status
    def say(self, message: str, error: bool = False) -> None:
        self.status.setText(message)
        self.status.setStyleSheet("color: #ff6b6b;" if error else "")
        if error:
            self.last_error = message

    def _set_running(self, running: bool) -> None:
        for w in (self.open_button, self.evaluate_button, self.views_spin, self.images_spin,
                  self.steps_spin):
            w.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.progress.setVisible(running)

    def is_running(self) -> bool:
        return self.run.is_running()

    # ------------------------------------------------------------------ report
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open evaluation report", "",
                                              "Evaluation reports (*.json);;All files (*)")
        if path:
            self.open_report(path)

    def open_report(self, path: str | Path) -> FailureReport | None:
        """Load a report into the table; a bad file is a message (None returned)."""
        if self.is_running():
            self.say("An evaluation is running: stop it first", error=True)
            return None
        try:
            report = load_report(path)
        except ReportError as exc:
            self.say(f"Cannot open the evaluation: {exc}", error=True)
            return None
        self.images, self.template = {}, None
        self._show_report(report)
        self.say(f"{report.path.name}: {len(report.rows)} rows of {report.category} "
                 f"({', '.join(report.variants) or 'no variant'}); choose one to see it in "
                 "the Pose dock (rendered again and reconstructed live)")
        return report

    def _show_report(self, report: FailureReport) -> None:
        self.report = report
        self.model.set_rows(report.rows)
        self._fill_variants(report.variants)
        self.report_loaded.emit(report)

    def _fill_variants(self, variants: list[str]) -> None:
        keep = self.proxy.variant
        self.variant_combo.blockSignals(True)
        self.variant_combo.clear()
        self.variant_combo.addItem(ALL_VARIANTS, "")
        for v in variants:
            self.variant_combo.addItem(v, v)
        index = self.variant_combo.findData(keep)
        self.variant_combo.setCurrentIndex(max(index, 0))
        self.variant_combo.blockSignals(False)
        self.variant_combo.setEnabled(len(variants) > 1)
        self.proxy.set_variant(self.variant_combo.currentData() or "")

    def _variant_changed(self, _index: int) -> None:
        self.proxy.set_variant(self.variant_combo.currentData() or "")

    def set_variant(self, variant: str) -> bool:
        """Show only ``variant``'s rows ("" for all); False when it is not listed."""
        index = self.variant_combo.findData(variant)
        if index >= 0:
            self.variant_combo.setCurrentIndex(index)
        return index >= 0

    # --------------------------------------------------------------- evaluation
    def options(self) -> EvalOptions:
        return EvalOptions(views_per_model=self.views_spin.value(),
                           max_images=self.images_spin.value(),
                           steps=self.steps_spin.value())

    def evaluate(self, category: str | None = None) -> bool:
        """Evaluate ``category`` (default: the shown one) in the background; False (and a
        message) when it cannot start."""
        if self.is_running():
            return False
        store, target = self.project.store, self.project.target
        category = category or self.category()
        if store is None or target is None or not category:
            self.say("Open a project and show a model: its category is evaluated", error=True)
            return False
        options = self.options()
        self.images, self.template = {}, None
        self._show_report(FailureReport(category, (), options.render, options.steps,
                                        objective=options.objective))
        self.progress.setRange(0, 0)  # busy until the images are known
        self._set_running(True)
        self.say(f"Preparing the {category} evaluation (shape space, renders)…")
        self.run.start(store, target, category, options)
        return True

    def stop(self) -> None:
        if self.is_running():
            self.run.stop()
            self.say("Stopping after the current step…")

    def _started(self, started: EvalStarted) -> None:
        self.template = started.template
        self.progress.setRange(0, started.n_images)
        self.progress.setValue(0)
        self.progress.setFormat(f"%v / %m images ({started.variant})")
        self.say(f"Evaluating {started.n_images} images of {started.category} "
                 f"({started.variant}: {started.predictor_note})…")

    def _image_done(self, image: EvaluatedImage) -> None:
        if self.report is None:
            return
        self.images.update({row.key: image for row in image.rows})
        self.report = replace(self.report, rows=self.report.rows + tuple(image.rows))
        self.model.append_rows(image.rows)
        if self.variant_combo.count() <= 1:
            self._fill_variants(self.report.variants)
        self.progress.setValue(self.progress.value() + 1)

    def _ended(self, result) -> None:
        self._set_running(False)
        n = len(self.report.rows) if self.report is not None else 0
        if isinstance(result, EvalFinished):
            stopped = " (stopped)" if result.report.cancelled else ""
            self.say(f"Evaluated {len(result.report.images)} images of "
                     f"{result.report.category}{stopped} in {result.report.seconds:.0f} s; "
                     "choose a row to replay its run in the Pose dock")
        elif isinstance(result, BaseException):
            self.say(f"The evaluation failed: {result}", error=True)
        else:
            self.say(f"Stopped: {n} rows")
        self.evaluation_finished.emit(result)

    # --------------------------------------------------------------- selection
    def _selection_changed(self, selected: QItemSelection, _deselected) -> None:
        rows = {i.row() for i in selected.indexes()}
        if len(rows) == 1:
            self.choose(rows.pop())

    def choose(self, proxy_row: int) -> ChosenImage | None:
        """Emit :attr:`image_chosen` for the table's row ``proxy_row`` (as shown)."""
        row = self.proxy.row_at(proxy_row)
        if row is None or self.report is None:
            return None
        image = self.images.get(row.key)
        chosen = ChosenImage(self.report, row, image, self.template if image else None)
        self.image_chosen.emit(chosen)
        return chosen

    def shown_rows(self) -> list[FailureRow]:
        """The rows in the table's order (sorted and filtered)."""
        return [self.proxy.row_at(r) for r in range(self.proxy.rowCount())]

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop an evaluation and wait for its thread (window close)."""
        return self.run.shutdown(timeout_ms)
