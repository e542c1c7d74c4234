"""The 2D image view: pan (drag), zoom (wheel, +/-), fit (F), and an overlay layer.

Overlays (masks, outlines, points drawn by other modules) are items parented to
:meth:`ImageView.overlay_layer`, a content-less item above the image in scene coordinates =
image pixels (x right, y down, pixel ``(i, j)`` covers ``[i, i+1) x [j, j+1)``). The layer
survives :meth:`ImageView.show_rgb`, so only the overlay items change when they are
updated; :meth:`ImageView.show_placeholder` hides it with the image.

Pointer signals, in image pixels (continuous, the same coordinates): ``hovered`` with
``(x, y)`` while the pointer moves over the view without a button held (``None`` when it
leaves), ``clicked`` for a left press and release that did not move (a drag pans instead).
:meth:`ImageView.render_image` draws the image with its overlays into a QImage (figures).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

ZOOM_STEP = 1.25
CLICK_SLOP_PX = 3  # logical pixels of motion between press and release that still click


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) uint8 array -> QImage that owns a copy of the pixels."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def _overlay_layer() -> QGraphicsRectItem:
    """An item without contents (a plain C++ item: painting it calls no Python) that holds
    the overlay items, its children, above the image."""
    layer = QGraphicsRectItem()
    layer.setPen(QPen(Qt.PenStyle.NoPen))
    layer.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, True)
    layer.setZValue(1.0)
    return layer


PLACEHOLDER = "No image\nFile > Import images (Ctrl+Shift+I)"


class ImageView(QGraphicsView):
    """A zoomable, pannable view of one image."""

    image_shown = Signal(str)  # path
    hovered = Signal(object)  # (x, y) image pixels under the pointer, None when it leaves
    clicked = Signal(float, float)  # image pixels of a left click (not a drag)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageView")
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QBrush(QColor("#2b2f36")))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self._item: QGraphicsPixmapItem | None = None
        self._overlay: QGraphicsRectItem | None = None
        self.path: str | None = None
        self.placeholder_text = PLACEHOLDER
        self.setToolTip("Drag to pan, wheel to zoom, F to fit")
        self.viewport().setMouseTracking(True)  # hovered, without a button held
        self._press: QPointF | None = None
        self.show_placeholder()

    def show_placeholder(self, message: str = PLACEHOLDER) -> None:
        """Drop the image (and hide the overlays) and show ``message`` instead."""
        self._clear_scene()
        self._item = None
        self.path = None
        self.placeholder_text = message
        self.resetTransform()
        text = self.scene().addText(message)
        text.setDefaultTextColor(QColor("#8a9099"))
        self.scene().setSceneRect(text.boundingRect())

    def _clear_scene(self) -> None:
        """Clear the scene but keep the overlay layer (taken out, not deleted)."""
        if self._overlay is not None and self._overlay.scene() is self.scene():
            self.scene().removeItem(self._overlay)
        self.scene().clear()

    def overlay_layer(self) -> QGraphicsRectItem:
        """The parent of overlay items (scene coordinates = image pixels)."""
        if self._overlay is None:
            self._overlay = _overlay_layer()
            if self._item is not None:
                self.scene().addItem(self._overlay)
        return self._overlay

    @property
    def zoom(self) -> float:
        """Current scale factor (1 = one image pixel per screen pixel)."""
        return float(self.transform().m11())

    def show_rgb(self, rgb: np.ndarray, path: str = "") -> None:
        """Show an (H, W, 3) uint8 image and fit it to the view (overlays stay)."""
        self._clear_scene()
        self._item = self.scene().addPixmap(QPixmap.fromImage(rgb_to_qimage(rgb)))
        self.scene().setSceneRect(self._item.boundingRect())
        if self._overlay is not None:
            self.scene().addItem(self._overlay)
        self.path = path
        self.placeholder_text = ""
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

    # ------------------------------------------------------------ coordinates
    def image_position(self, pos: QPointF) -> tuple[float, float]:
        """Viewport position (logical pixels) -> image pixels ``(x, y)`` (continuous)."""
        inverse, _ok = self.viewportTransform().inverted()
        p = inverse.map(QPointF(pos))
        return float(p.x()), float(p.y())

    def view_position(self, x: float, y: float) -> QPointF:
        """Image pixels ``(x, y)`` -> viewport position (logical pixels)."""
        return self.viewportTransform().map(QPointF(float(x), float(y)))

    def render_image(self, width: int, height: int,
                     background: str = "#000000") -> QImage | None:
        """The image with its overlays, scaled to fit ``width`` x ``height`` (centred on
        ``background``); None without an image. Overlay items that ignore the view's
        transformation keep their size in output pixels."""
        if self._item is None:
            return None
        out = QImage(int(width), int(height), QImage.Format.Format_RGB32)
        out.fill(QColor(background))
        source = self._item.boundingRect()
        scale = min(width / source.width(), height / source.height())
        w, h = source.width() * scale, source.height() * scale
        target = QRectF((width - w) / 2.0, (height - h) / 2.0, w, h)
        painter = QPainter(out)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.scene().render(painter, target, source, Qt.AspectRatioMode.IgnoreAspectRatio)
        painter.end()
        return out

    # ----------------------------------------------------------------- events
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        super().mouseReleaseEvent(event)
        press, self._press = self._press, None
        if event.button() != Qt.MouseButton.LeftButton or press is None or self._item is None:
            return
        pos = event.position()
        if abs(pos.x() - press.x()) + abs(pos.y() - press.y()) <= CLICK_SLOP_PX:
            self.clicked.emit(*self.image_position(pos))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        super().mouseMoveEvent(event)
        if event.buttons() == Qt.MouseButton.NoButton and self._item is not None:
            self.hovered.emit(self.image_position(event.position()))

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().leaveEvent(event)
        self.hovered.emit(None)

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
