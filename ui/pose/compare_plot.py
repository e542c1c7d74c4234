"""The comparison's plot: every compared run's loss (left axis, solid) and IoU (right axis,
0..1, dashed) against its step index, one colour per run, and a cursor per run at the step
its pane shows. A :mod:`ui.live_plot` plot: no grid, ranges set by :func:`fit_range`.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ui.live_plot import fit_range, new_live_plot
from ui.pose.records import StepRecord

RUN_COLORS = ("#4cc9f0", "#f72585", "#b5e48c", "#ffb703")  # run A, B, …
RUN_LETTERS = "ABCD"


class ComparePlot(pg.PlotWidget):
    """Loss and IoU curves of several runs (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        new_live_plot("poseComparePlot", "step", "loss", plot=self)
        item = self.getPlotItem()
        self.iou_box = pg.ViewBox()
        item.showAxis("right")
        item.scene().addItem(self.iou_box)
        item.getAxis("right").linkToView(self.iou_box)
        item.getAxis("right").setLabel("IoU (dashed)")
        self.iou_box.setXLink(item)
        self.iou_box.disableAutoRange()
        self.iou_box.setYRange(0.0, 1.0, padding=0.02)
        self.iou_box.setMouseEnabled(x=False, y=False)
        item.vb.sigResized.connect(self._sync_boxes)
        self.loss_curves: list[pg.PlotDataItem] = []
        self.iou_curves: list[pg.PlotDataItem] = []
        self.cursors: list[pg.InfiniteLine] = []

    def _sync_boxes(self) -> None:
        self.iou_box.setGeometry(self.getPlotItem().vb.sceneBoundingRect())

    def set_runs(self, runs: list[list[StepRecord]]) -> None:
        """One loss curve, one IoU curve and one cursor per run (its records)."""
        item = self.getPlotItem()
        for curve in self.loss_curves + self.cursors:
            item.removeItem(curve)
        for curve in self.iou_curves:
            self.iou_box.removeItem(curve)
            item.legend.removeItem(curve)
        self.loss_curves, self.iou_curves, self.cursors = [], [], []
        xs, losses = [], []
        for i, records in enumerate(runs):
            color, letter = RUN_COLORS[i % len(RUN_COLORS)], RUN_LETTERS[i % len(RUN_LETTERS)]
            x = np.array([r.index for r in records], dtype=np.float64)
            loss = np.array([r.loss for r in records], dtype=np.float64)
            iou = np.array([r.iou for r in records], dtype=np.float64)
            self.loss_curves.append(item.plot(x, loss, pen=pg.mkPen(color, width=2),
                                              name=f"{letter} loss", connect="finite"))
            curve = pg.PlotDataItem(x, iou, name=f"{letter} IoU", connect="finite",
                                    pen=pg.mkPen(color, width=1.5,
                                                 style=Qt.PenStyle.DashLine))
            self.iou_box.addItem(curve)
            item.legend.addItem(curve, f"{letter} IoU")
            self.iou_curves.append(curve)
            cursor = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen(color, width=1))
            item.addItem(cursor)
            self.cursors.append(cursor)
            xs.append(x)
            losses.append(loss)
        x_all = np.concatenate(xs) if xs else np.empty(0)
        loss_all = np.concatenate(losses) if losses else np.empty(0)
        fit_range(item.vb, x_all, loss_all, linked=(self.iou_box,))

    def set_cursors(self, indices: list[int]) -> None:
        """Each run's cursor at its shown step index."""
        for cursor, index in zip(self.cursors, indices, strict=False):
            cursor.setValue(index)

    def curve_points(self, run: int) -> tuple[int, int]:
        """(loss points, IoU points) drawn for run ``run``."""
        lx, _ = self.loss_curves[run].getData()
        ix, _ = self.iou_curves[run].getData()
        return (0 if lx is None else len(lx)), (0 if ix is None else len(ix))
