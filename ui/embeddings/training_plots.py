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
from ui.live_plot import fit_range, new_live_plot

LOSS_COLOR = "#ff9f1c"
PULL_COLOR = "#8ecae6"
PUSH_COLOR = "#e76f51"
MGE_COLOR = "#2ec4b6"
REFRESH_MS = 200


class TrainingPlots(QWidget):
    """Loss per step (total, pull, push) above validation mGE per epoch."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = new_live_plot("embeddingLossPlot", "step", "loss")
        self.mge_plot = new_live_plot("embeddingMgePlot", "epoch", "validation mGE")
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
        fit_range(self.loss_plot.getPlotItem().vb, s[:, 0], s[:, 1], s[:, 2], s[:, 3])
        e = np.asarray(self._epochs, dtype=np.float64).reshape(-1, 2)
        self.mge_curve.setData(e[:, 0], e[:, 1])
        fit_range(self.mge_plot.getPlotItem().vb, e[:, 0], e[:, 1])
