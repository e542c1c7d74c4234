"""Live curves of an embedding training run: the step loss and the validation mGE.

Curves are redrawn at most every :data:`REFRESH_MS` however fast steps arrive
(pyqtgraph paints in Python; on a software-rendered display a redraw costs milliseconds).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

from core.embedding.trainer import EpochEvent, StepEvent

LOSS_COLOR = "#ff9f1c"
PULL_COLOR = "#8ecae6"
PUSH_COLOR = "#e76f51"
MGE_COLOR = "#2ec4b6"
REFRESH_MS = 200


def _plot(name: str, bottom: str, left: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setObjectName(name)
    plot.setBackground("#1e2227")
    item = plot.getPlotItem()
    item.setLabel("bottom", bottom)
    item.setLabel("left", left)
    item.showGrid(x=True, y=True, alpha=0.2)
    item.getAxis("left").enableAutoSIPrefix(False)  # mGE 0.25, not "250 m"
    item.addLegend(offset=(-10, 10))
    return plot


class TrainingPlots(QWidget):
    """Loss per step (total, pull, push) above validation mGE per epoch."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = _plot("embeddingLossPlot", "step", "loss")
        self.mge_plot = _plot("embeddingMgePlot", "epoch", "validation mGE")
        layout.addWidget(self.loss_plot, 3)
        layout.addWidget(self.mge_plot, 2)
        item = self.loss_plot.getPlotItem()
        self.loss_curve = item.plot([], [], pen=pg.mkPen(LOSS_COLOR, width=2), name="loss")
        self.pull_curve = item.plot([], [], pen=pg.mkPen(PULL_COLOR, width=1), name="pull")
        self.push_curve = item.plot([], [], pen=pg.mkPen(PUSH_COLOR, width=1), name="push")
        self.mge_curve = self.mge_plot.getPlotItem().plot(
            [], [], pen=pg.mkPen(MGE_COLOR, width=2), symbol="o", symbolSize=6,
            symbolBrush=MGE_COLOR, name="val mGE")
        self._steps: list[tuple[int, float, float, float]] = []
        self._epochs: list[tuple[int, float]] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    def clear(self) -> None:
        self._steps.clear()
        self._epochs.clear()
        self.refresh()

    def add_steps(self, steps: list[StepEvent]) -> None:
        self._steps += [(s.global_step, s.loss, s.pull, s.push) for s in steps]
        if not self._timer.isActive():
            self._timer.start()

    def add_epoch(self, event: EpochEvent) -> None:
        self._epochs.append((event.epoch + 1, event.val_mge))
        if not self._timer.isActive():
            self._timer.start()

    @property
    def n_steps(self) -> int:
        return len(self._steps)

    @property
    def mge_values(self) -> list[float]:
        return [v for _, v in self._epochs]

    def refresh(self) -> None:
        """Redraw both plots from the data received so far."""
        s = np.asarray(self._steps, dtype=np.float64).reshape(-1, 4)
        self.loss_curve.setData(s[:, 0], s[:, 1])
        self.pull_curve.setData(s[:, 0], s[:, 2])
        self.push_curve.setData(s[:, 0], s[:, 3])
        e = np.asarray(self._epochs, dtype=np.float64).reshape(-1, 2)
        self.mge_curve.setData(e[:, 0], e[:, 1])
