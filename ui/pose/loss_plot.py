"""Live plot of a pose run: loss (left axis) and IoU (right axis, 0..1) against the
timeline index, with a vertical line at the step the views show.

Refreshes are coalesced (:meth:`LossPlot.request`): at most every :data:`REFRESH_MS`,
in an event-loop pass of their own, so that a pass never paints the plot, the 2D view and
the 3D view together. The plot paints in ~2 ms (:mod:`ui.live_plot`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from ui.live_plot import AXIS_WIDTH, fit_range, new_live_plot
from ui.pose.records import StepRecord

LOSS_COLOR = "#ff9f1c"
IOU_COLOR = "#2ec4b6"
REFRESH_MS = 250  # live refreshes at most 4 times a second


class LossPlot(pg.PlotWidget):
    """Loss and IoU per record; :meth:`set_records` redraws both curves from the log."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        new_live_plot("poseLossPlot", "step (timeline)", "loss", plot=self,
                      left_color=LOSS_COLOR)
        item = self.getPlotItem()
        self.loss_curve = item.plot([], [], pen=pg.mkPen(LOSS_COLOR, width=2), name="loss",
                                    connect="finite")
        self.iou_box = pg.ViewBox()
        item.showAxis("right")
        item.scene().addItem(self.iou_box)
        item.getAxis("right").linkToView(self.iou_box)
        item.getAxis("right").setLabel("IoU", color=IOU_COLOR)
        item.getAxis("right").setWidth(AXIS_WIDTH - 12)  # ticks 0.0-1.0
        self.iou_box.setXLink(item)
        self.iou_box.disableAutoRange()
        self.iou_box.setYRange(0.0, 1.0, padding=0.02)
        self.iou_box.setMouseEnabled(x=False, y=False)
        self.iou_curve = pg.PlotDataItem([], [], pen=pg.mkPen(IOU_COLOR, width=2), name="IoU")
        self.iou_box.addItem(self.iou_curve)
        item.legend.addItem(self.iou_curve, "IoU")
        self.cursor = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen("#8a9099", width=1))
        item.addItem(self.cursor)
        item.vb.sigResized.connect(self._sync_boxes)
        self.points = 0
        self._source: Callable[[], list[StepRecord]] | None = None
        self._cursor: int | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh)

    def request(self, source: Callable[[], list[StepRecord]] | None = None,
                cursor: int | None = None) -> None:
        """Refresh soon (coalesced, at most every :data:`REFRESH_MS`): the curves from
        ``source()`` (the run's records) and/or the cursor."""
        if source is not None:
            self._source = source
        if cursor is not None:
            self._cursor = cursor
        if not self._timer.isActive():
            self._timer.start()

    def _refresh(self) -> None:
        if self._source is not None:
            self.set_records(self._source())
            self._source = None
        if self._cursor is not None:
            self.set_cursor(self._cursor)
            self._cursor = None
        # pyqtgraph's deferred work (ranges, transforms) now: done while painting, it asks
        # for a second repaint of the window, at once
        self.scene().prepareForPaint()

    def _sync_boxes(self) -> None:
        self.iou_box.setGeometry(self.getPlotItem().vb.sceneBoundingRect())

    def set_records(self, records: list[StepRecord]) -> None:
        """Redraw both curves from ``records`` (the whole log so far)."""
        x = np.array([r.index for r in records], dtype=np.float64)
        loss = np.array([r.loss for r in records], dtype=np.float64)
        self.loss_curve.setData(x, loss)
        self.iou_curve.setData(x, np.array([r.iou for r in records], dtype=np.float64))
        fit_range(self.getPlotItem().vb, x, loss, linked=(self.iou_box,))
        self.points = len(records)

    def set_cursor(self, index: int) -> None:
        self.cursor.setValue(index)

    def clear_run(self) -> None:
        self._timer.stop()
        self._source, self._cursor = None, None
        self.set_records([])
        self.set_cursor(0)
