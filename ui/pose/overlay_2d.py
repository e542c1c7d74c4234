"""Pose overlays on an :class:`ui.image_view.ImageView`: mask tint, silhouette outline,
projected semantic points, ground-truth points and error lines.

Everything is a child of the view's overlay layer, in image pixels. Per step only the
outline path, the error-line path and the point items' positions and styles change (no
image is redrawn). Points keep a constant size on screen whatever the zoom (items that
ignore the view's transformation): filled in their set colour when visible, hollow rings
when occluded, hidden when outside the image; ground-truth points are crosses in the set
colour; error lines join each projected point to its true position.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
)

from ui.image_view import ImageView
from ui.palette import set_colors
from ui.pose.records import StepRecord
from ui.pose.sources import GroundTruth

LAYERS = ("mask", "silhouette", "points", "truth", "errors")
LAYER_LABELS = {"mask": "Mask", "silhouette": "Silhouette", "points": "Projected points",
                "truth": "Ground truth", "errors": "Error lines"}
MASK_TINT = (40, 200, 255, 90)  # RGBA over the object's mask
SILHOUETTE_COLOR = "#ffd400"
ERROR_COLOR = "#ff3b3b"
POINT_RADIUS = 5.5  # screen pixels
CROSS_HALF = 6.0  # screen pixels


def _pen(color, width: float, style=Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(QColor(color), width, style)
    pen.setCosmetic(True)
    return pen


def _polygon(points: np.ndarray) -> QPolygonF:
    return QPolygonF([QPointF(float(x), float(y)) for x, y in points])


def mask_tint_image(mask: np.ndarray, rgba=MASK_TINT) -> QImage:
    """(H, W) bool -> premultiplied-free RGBA QImage: ``rgba`` on the mask, clear off it."""
    h, w = mask.shape
    img = np.zeros((h, w, 4), dtype=np.uint8)
    img[mask] = rgba
    return QImage(img.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


class PoseOverlay2D:
    """The pose overlays of one :class:`ImageView` (see the module docstring)."""

    def __init__(self, view: ImageView) -> None:
        self.view = view
        self.layer = view.overlay_layer()
        self.shown = {name: True for name in LAYERS}
        self.record: StepRecord | None = None
        self.truth: GroundTruth | None = None
        self.colors = np.zeros((0, 3), dtype=np.uint8)
        self._mask_item: QGraphicsPixmapItem | None = None
        self._outline = QGraphicsPathItem(self.layer)
        self._outline.setPen(_pen(SILHOUETTE_COLOR, 2.0))
        self._outline.setZValue(1)
        self._errors = QGraphicsPathItem(self.layer)
        self._errors.setPen(_pen(ERROR_COLOR, 1.5))
        self._errors.setZValue(2)
        self._crosses: list[QGraphicsPathItem] = []
        self._points: list[QGraphicsEllipseItem] = []

    # ------------------------------------------------------------------ set-up
    def set_source(self, mask: np.ndarray, truth: GroundTruth | None,
                   set_numbers: np.ndarray) -> None:
        """A new image: its mask tint, ground truth and one marker per semantic point."""
        scene = self.layer.scene()
        for item in [self._mask_item, *self._crosses, *self._points]:
            if item is not None:
                item.setParentItem(None)
                if scene is not None:
                    scene.removeItem(item)
        self.truth, self.record = truth, None
        self.colors = set_colors(set_numbers)
        self._mask_item = QGraphicsPixmapItem(QPixmap.fromImage(mask_tint_image(mask)),
                                              self.layer)
        self._mask_item.setZValue(0)
        self._crosses = []
        if truth is not None:
            for (x, y), known, rgb in zip(truth.uv, truth.known, self.colors, strict=True):
                if not known:
                    continue
                path = QPainterPath()
                path.moveTo(-CROSS_HALF, -CROSS_HALF)
                path.lineTo(CROSS_HALF, CROSS_HALF)
                path.moveTo(-CROSS_HALF, CROSS_HALF)
                path.lineTo(CROSS_HALF, -CROSS_HALF)
                cross = QGraphicsPathItem(path, self.layer)
                cross.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
                cross.setPen(_pen(QColor(*rgb.tolist()), 2.5))
                cross.setPos(float(x), float(y))
                cross.setZValue(3)
                self._crosses.append(cross)
        self._points = []
        r = POINT_RADIUS
        for _ in range(len(self.colors)):
            item = QGraphicsEllipseItem(-r, -r, 2 * r, 2 * r, self.layer)
            item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            item.setZValue(4)
            item.setVisible(False)
            self._points.append(item)
        self._outline.setPath(QPainterPath())
        self._errors.setPath(QPainterPath())
        self._apply_visibility()

    # ----------------------------------------------------------------- per step
    def show_record(self, record: StepRecord) -> None:
        """Draw one step: outline, points (filled / hollow), error lines."""
        self.record = record
        path = QPainterPath()
        for poly in record.outline:
            path.addPolygon(_polygon(poly))
            path.closeSubpath()
        self._outline.setPath(path)
        dark = _pen("#111111", 1.0)
        for i, item in enumerate(self._points[:len(record.uv)]):
            rgb = QColor(*self.colors[i].tolist())
            item.setPos(float(record.uv[i, 0]), float(record.uv[i, 1]))
            item.setData(0, "visible" if record.visible[i] else
                         "occluded" if record.in_image[i] else "outside")
            if record.visible[i]:
                item.setBrush(QBrush(rgb))
                item.setPen(dark)
            else:
                item.setBrush(Qt.BrushStyle.NoBrush)
                item.setPen(_pen(rgb, 2.5))
            item.setVisible(bool(record.in_image[i]) and self.shown["points"])
        lines = QPainterPath()
        truth = self.truth
        if truth is not None:
            for i in np.flatnonzero(truth.known[:len(record.uv)] & record.in_image):
                lines.moveTo(float(record.uv[i, 0]), float(record.uv[i, 1]))
                lines.lineTo(float(truth.uv[i, 0]), float(truth.uv[i, 1]))
        self._errors.setPath(lines)

    # ------------------------------------------------------------------ toggles
    def set_shown(self, layer: str, on: bool) -> None:
        """Show or hide one of :data:`LAYERS`."""
        self.shown[layer] = bool(on)
        self._apply_visibility()

    def _apply_visibility(self) -> None:
        if self._mask_item is not None:
            self._mask_item.setVisible(self.shown["mask"])
        self._outline.setVisible(self.shown["silhouette"])
        self._errors.setVisible(self.shown["errors"])
        for cross in self._crosses:
            cross.setVisible(self.shown["truth"])
        rec = self.record
        for i, item in enumerate(self._points):
            inside = rec is not None and i < len(rec.in_image) and bool(rec.in_image[i])
            item.setVisible(self.shown["points"] and inside)

    # ----------------------------------------------------------------- queries
    def point_positions(self) -> np.ndarray:
        """(N, 2) where the point markers are drawn (image pixels)."""
        return np.array([[it.pos().x(), it.pos().y()] for it in self._points]).reshape(-1, 2)

    def point_states(self) -> list[str]:
        """Per marker: ``"visible"`` (filled), ``"occluded"`` (hollow), ``"outside"``."""
        return [str(it.data(0)) for it in self._points]

    def outline_rect(self) -> tuple[float, float, float, float]:
        """Bounding box ``(x0, y0, x1, y1)`` of the drawn silhouette outline."""
        r = self._outline.path().boundingRect()
        return r.left(), r.top(), r.right(), r.bottom()

    def error_path_elements(self) -> int:
        """Elements of the error-line path (2 per line)."""
        return self._errors.path().elementCount()
