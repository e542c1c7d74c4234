"""The 2D image view: pan (drag), zoom (wheel, +/-), fit (F)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

ZOOM_STEP = 1.25


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) uint8 array -> QImage that owns a copy of the pixels."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class ImageView(QGraphicsView):
    """A zoomable, pannable view of one image."""

    image_shown = Signal(str)  # path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageView")
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QBrush(QColor("#2b2f36")))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self._item: QGraphicsPixmapItem | None = None
        self.path: str | None = None
        self.setToolTip("Drag to pan, wheel to zoom, F to fit")
        self._show_placeholder()

    def _show_placeholder(self) -> None:
        text = self.scene().addText("No image\nFile > Import images (Ctrl+Shift+I)")
        text.setDefaultTextColor(QColor("#8a9099"))
        self.scene().setSceneRect(text.boundingRect())

    @property
    def zoom(self) -> float:
        """Current scale factor (1 = one image pixel per screen pixel)."""
        return float(self.transform().m11())

    def show_rgb(self, rgb: np.ndarray, path: str = "") -> None:
        """Show an (H, W, 3) uint8 image and fit it to the view."""
        self.scene().clear()
        self._item = self.scene().addPixmap(QPixmap.fromImage(rgb_to_qimage(rgb)))
        self.scene().setSceneRect(self._item.boundingRect())
        self.path = path
        self.fit()
        self.image_shown.emit(path)

    def has_image(self) -> bool:
        return self._item is not None

    def fit(self) -> None:
        if self._item is not None:
            self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)

    def zoom_by(self, factor: float) -> None:
        new = self.zoom * factor
        if 0.02 <= new <= 64:
            self.scale(factor, factor)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt override)
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(ZOOM_STEP ** steps)
        event.accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(ZOOM_STEP)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(1 / ZOOM_STEP)
        elif key == Qt.Key.Key_F:
            self.fit()
        else:
            super().keyPressEvent(event)
