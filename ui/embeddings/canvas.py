"""A 3D canvas for the embedding panels: a QtInteractor made on first show, with clicks.

A hidden dock costs no render window: the interactor (and its OpenGL context) is created
the first time the canvas is shown, then ``ready`` fires. A left click without drag on a
mesh registered with :meth:`Canvas3D.set_pick_target` emits ``picked``.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pyvistaqt import QtInteractor

from ui.click_tracker import ClickTracker
from ui.surface_picker import SurfacePicker

BACKGROUND = "#1e2227"


class Canvas3D(QWidget):
    """Lazily created pyvista interactor with ``shape`` subplots (rows, columns)."""

    ready = Signal()
    picked = Signal(int, object)  # face index, (3,) world position

    def __init__(self, name: str, shape: tuple[int, int] = (1, 1),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setMinimumSize(160, 140)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.shape = shape
        self.plotter: QtInteractor | None = None
        self.picker: SurfacePicker | None = None
        self.clicks = ClickTracker()
        self._closed = False
        self._creating = False

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self.plotter is not None or self._closed or self._creating:
            return
        self._creating = True  # making the GL child re-enters showEvent
        try:
            plotter = QtInteractor(self, shape=self.shape, auto_update=False, multi_samples=0,
                                   border=False)
        finally:
            self._creating = False
        plotter.set_background(BACKGROUND)
        self.layout().addWidget(plotter.interactor, 1)
        plotter.interactor.installEventFilter(self)
        self.plotter = plotter
        self.ready.emit()

    def set_pick_target(self, actor, mesh: pv.PolyData) -> None:
        """Clicks pick faces of ``actor`` (drawn from ``mesh``) in the first subplot."""
        if self.plotter is None:
            return
        self.picker = SurfacePicker(self.plotter.renderers[0])
        self.picker.set_target(actor, mesh)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        click = self.clicks.handle(event)
        if click is not None:
            self.click(*click)
        return False

    def click(self, x: float, y: float) -> bool:
        """Pick at widget coordinates (logical pixels, origin top-left); True on a hit."""
        if self.plotter is None or self.picker is None:
            return False
        widget = self.plotter.interactor
        ratio = widget.devicePixelRatioF()
        hit = self.picker.pick(x * ratio, (widget.height() - y) * ratio)
        if hit is None:
            return False
        self.picked.emit(hit[0], hit[1])
        return True

    def widget_position(self, xyz) -> tuple[float, float]:
        """Widget coordinates (logical pixels, top-left) of a world point in subplot 0."""
        assert self.plotter is not None
        r = self.plotter.renderers[0]
        r.SetWorldPoint(float(xyz[0]), float(xyz[1]), float(xyz[2]), 1.0)
        r.WorldToDisplay()
        x, y, _ = r.GetDisplayPoint()
        widget = self.plotter.interactor
        ratio = widget.devicePixelRatioF()
        return x / ratio, widget.height() - y / ratio

    def close(self) -> bool:
        if not self._closed:
            self._closed = True
            if self.plotter is not None:
                self.plotter.close()
            self.plotter, self.picker = None, None  # late worker results draw nothing
        return super().close()


def triangle_mesh(vertices: np.ndarray, faces: np.ndarray) -> pv.PolyData:
    """(V, 3) vertices and (F, 3) faces as pyvista PolyData (cells in face order)."""
    f = np.asarray(faces, dtype=np.int64)
    cells = np.hstack([np.full((f.shape[0], 1), 3, dtype=np.int64), f]).ravel()
    return pv.PolyData(np.asarray(vertices, dtype=np.float64), cells)
