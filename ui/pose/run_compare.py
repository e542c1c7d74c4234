"""Two saved runs side by side (*Runs…* > select two > *Compare*).

The window ("poseCompareDialog", non-modal) shows, per run, a pane with its name, kind,
category, image and settings above its source image with the 2D pose overlays
(:class:`~ui.image_view.ImageView` + :class:`~ui.pose.overlay_2d.PoseOverlay2D`: mask,
silhouette outline, projected points, ground truth, error lines); each pane shows its own
image, so runs of different images or categories compare too. Below: ONE slider that scrubs
both runs (step by step when they have as many steps, else by fraction of each run: see
:func:`ui.pose.compare_data.shown_indices`; the label says which step of each is shown),
both runs' loss and IoU curves in one plot with a cursor per run
(:class:`~ui.pose.compare_plot.ComparePlot`), and a table of each run's final numbers
(:func:`ui.pose.compare_data.run_numbers`).

The runs load off the GUI thread (:func:`RunCompareWindow.load`: store reads and the
template / image rebuilt from the saved steps); the status line says so, and says why when a
run is missing or malformed (the window then stays empty; nothing crashes).
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.image_view import ImageView
from ui.pose.compare_data import (
    ComparedRun,
    params_text,
    run_numbers,
    same_length,
    shown_indices,
    slider_steps,
)
from ui.pose.compare_plot import RUN_COLORS, RUN_LETTERS, ComparePlot
from ui.pose.overlay_2d import PoseOverlay2D
from ui.pose.records import StepRecord
from ui.workers import run_in_thread

TABLE_COLUMNS = ("Run", "Steps", "Final loss", "Final IoU", "Best IoU", "Rotation error")


def _number(value: float | None, digits: int = 4, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}{unit}"


class ComparePane(QWidget):
    """One run: its title, settings, image with overlays and the shown step."""

    def __init__(self, number: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.letter = RUN_LETTERS[number % len(RUN_LETTERS)]
        self.color = RUN_COLORS[number % len(RUN_COLORS)]
        self.setObjectName(f"poseComparePane{self.letter}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.title = QLabel(f"{self.letter}: loading…", self)
        self.title.setObjectName(f"poseCompareTitle{self.letter}")
        self.title.setStyleSheet(f"color: {self.color}; font-weight: bold;")
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.details = QLabel("", self)
        self.details.setObjectName(f"poseCompareParams{self.letter}")
        self.details.setWordWrap(True)
        self.details.setStyleSheet("color: #9aa0a8;")
        layout.addWidget(self.details)
        self.image_view = ImageView(self)
        self.image_view.setObjectName(f"poseCompareImage{self.letter}")
        self.image_view.show_placeholder("Loading the saved run…")
        self.image_view.setMinimumSize(200, 160)
        self.overlay = PoseOverlay2D(self.image_view)
        layout.addWidget(self.image_view, 1)
        self.step_label = QLabel("", self)
        self.step_label.setObjectName(f"poseCompareStep{self.letter}")
        layout.addWidget(self.step_label)
        self.run: ComparedRun | None = None
        self.record: StepRecord | None = None

    def set_run(self, run: ComparedRun) -> None:
        self.run = run
        info = run.info
        self.title.setText(f"{self.letter}: {run.name}  [{run.kind}, {run.category}, "
                           f"{len(run.records)} steps]")
        self.details.setText(f"{run.source.name}\n{params_text(run.params)}")
        self.details.setToolTip(f"saved {info.created_at:%Y-%m-%d %H:%M} UTC; mask: "
                                f"{run.source.mask_origin}; template {run.template.model}")
        self.image_view.show_rgb(run.source.rgb)
        self.overlay.set_source(run.source.mask, run.source.truth, run.template.set_numbers)

    def show_step(self, index: int) -> StepRecord | None:
        if self.run is None or not 0 <= index < len(self.run.records):
            return None
        record = self.run.records[index]
        self.record = record
        self.overlay.show_record(record)
        loss = "" if math.isnan(record.loss) else f", loss {record.loss:.4f}"
        self.step_label.setText(f"step {record.index + 1}/{len(self.run.records)}: "
                                f"{record.label} (IoU {record.iou:.3f}{loss})")
        return record

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.image_view.fit()  # the whole image whatever the pane's size

    def show_message(self, message: str) -> None:
        self.run, self.record = None, None
        self.title.setText(f"{self.letter}: –")
        self.details.setText("")
        self.step_label.setText("")
        self.image_view.show_placeholder(message)


class RunCompareWindow(QDialog):
    """Saved runs side by side (see the module docstring)."""

    loaded = Signal()  # the runs are shown
    failed = Signal(str)  # why they could not be
    message = Signal(str, bool)  # status text, is an error

    def __init__(self, parent: QWidget | None = None, count: int = 2) -> None:
        super().__init__(parent)
        self.setObjectName("poseCompareDialog")
        self.setWindowTitle("Compare saved runs")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.runs: list[ComparedRun] = []
        self._open = [True]  # plain state the loader's callbacks read (safe once deleted)
        self._worker = None
        layout = QVBoxLayout(self)
        split = QSplitter(Qt.Orientation.Vertical, self)
        top = QWidget(split)
        row = QHBoxLayout(top)
        row.setContentsMargins(0, 0, 0, 0)
        self.panes = [ComparePane(i, top) for i in range(count)]
        for pane in self.panes:
            row.addWidget(pane, 1)
        bottom = QWidget(split)
        lower = QHBoxLayout(bottom)
        lower.setContentsMargins(0, 0, 0, 0)
        self.plot = ComparePlot(bottom)
        lower.addWidget(self.plot, 3)
        self.table = QTableWidget(0, len(TABLE_COLUMNS), bottom)
        self.table.setObjectName("poseCompareTable")
        self.table.setHorizontalHeaderLabels(list(TABLE_COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        lower.addWidget(self.table, 2)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout.addWidget(split, 1)
        slide = QHBoxLayout()
        slide.addWidget(QLabel("Both runs:", self))
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("poseCompareSlider")
        self.slider.setToolTip("Scrub both runs together")
        self.slider.setEnabled(False)
        self.slider.setRange(0, 0)
        slide.addWidget(self.slider, 1)
        layout.addLayout(slide)
        self.step_label = QLabel("", self)
        self.step_label.setObjectName("poseCompareStepLabel")
        layout.addWidget(self.step_label)
        self.status = QLabel("", self)
        self.status.setObjectName("poseCompareStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.slider.valueChanged.connect(self.show_position)
        self.resize(1200, 820)

    # ------------------------------------------------------------------ loading
    def load(self, store, run_ids: list[int]) -> None:
        """Read ``run_ids`` off the GUI thread, then show them (or say why not)."""
        from ui.pose.compare_data import load_compared

        self.say(f"Loading saved runs {', '.join(str(i) for i in run_ids)}…")
        window, is_open = self, self._open

        def done(runs) -> None:
            if is_open[0]:
                window.set_runs(runs)

        def error(exc: BaseException) -> None:
            if is_open[0]:
                window.fail(f"Cannot compare the runs: {exc}")

        self._worker = run_in_thread(load_compared, store, list(run_ids), on_done=done,
                                     on_error=error)

    def loading(self) -> bool:
        return self._worker is not None and self._worker.is_running

    def set_runs(self, runs: list[ComparedRun]) -> None:
        """Show ``runs`` (one per pane), the last step of each."""
        self.runs = list(runs)[:len(self.panes)]
        for pane, run in zip(self.panes, self.runs, strict=False):
            pane.set_run(run)
        self.plot.set_runs([r.records for r in self.runs])
        self._fill_table()
        lengths = self.lengths()
        self.slider.blockSignals(True)
        self.slider.setRange(0, slider_steps(lengths) - 1)
        self.slider.setValue(self.slider.maximum())
        self.slider.blockSignals(False)
        self.slider.setEnabled(self.slider.maximum() > 0)
        self.show_position(self.slider.value())
        names = " and ".join(repr(r.name) for r in self.runs)
        self.say(f"Comparing {names}" + ("" if same_length(lengths) else
                 " (different lengths: the slider moves by fraction of each run)"))
        self.loaded.emit()

    def fail(self, message: str) -> None:
        for pane in self.panes:
            pane.show_message("No run to show")
        self.say(message, error=True)
        self.failed.emit(message)

    # ------------------------------------------------------------------ showing
    def lengths(self) -> list[int]:
        return [len(r.records) for r in self.runs]

    def shown(self) -> list[int]:
        """The step index each pane shows (-1: none)."""
        return [-1 if p.record is None else p.record.index for p in self.panes]

    def show_position(self, position: int) -> None:
        """Slider ``position``: each run's step (see :func:`shown_indices`)."""
        if not self.runs:
            return
        lengths = self.lengths()
        indices = shown_indices(lengths, position)
        for pane, index in zip(self.panes, indices, strict=False):
            pane.show_step(index)
        self.plot.set_cursors(indices)
        how = "same step" if same_length(lengths) else "same fraction of each run"
        self.step_label.setText("   ·   ".join(
            f"{p.letter}: step {i + 1}/{n}" for p, i, n in zip(self.panes, indices, lengths,
                                                              strict=False)) + f"   ({how})")

    def numbers(self):
        return [run_numbers(r.records, r.source) for r in self.runs]

    def _fill_table(self) -> None:
        self.table.setRowCount(len(self.runs))
        for row, (pane, run, n) in enumerate(zip(self.panes, self.runs, self.numbers(),
                                                 strict=False)):
            values = (f"{pane.letter}: {run.name}", str(n.steps), _number(n.final_loss),
                      _number(n.final_iou, 3), _number(n.best_iou, 3),
                      _number(n.rotation_error, 1, "°") if n.rotation_error is not None
                      else "no ground truth")
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)

    def table_text(self) -> list[list[str]]:
        return [[self.table.item(r, c).text() for c in range(self.table.columnCount())]
                for r in range(self.table.rowCount())]

    def say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #ff6b6b;" if error else "color: #9aa0a8;")
        self.message.emit(text, error)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self._open[0] = False
        super().closeEvent(event)

    def done(self, result: int) -> None:  # Escape (reject) hides without a closeEvent
        self._open[0] = False
        super().done(result)

    @property
    def closed(self) -> bool:
        return not self._open[0]
