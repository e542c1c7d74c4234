"""The drawn 2D points over an :class:`~ui.image_view.ImageView` (one adapter, the napari
layer habit: it subscribes in ``__init__`` and lets go in :meth:`MarkerLayer.close`).

Each point is a disc of its set colour (:mod:`ui.palette`) with the set number beside it;
occluded points are hollow rings; absent points have no position and are not drawn (the
legend lists them). The current set's marker wears a white ring. Markers keep their size
on screen at any zoom. Dragging a marker moves it (committed once, on release); a click on
a marker (no drag) selects its set; a click elsewhere on the image places the current
point; a right click on a marker asks for its menu.
"""

from __future__ import annotations

import contextlib

import shiboken6
from PySide6.QtCore import QObject, QPoint, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsSceneContextMenuEvent,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
)

from ui.image_annotation.records import OCCLUDED, ImagePoint
from ui.image_view import CLICK_SLOP_PX, ImageView
from ui.palette import SET_PALETTE

RADIUS_PX = 6.0  # marker radius, screen pixels
CURRENT_RING_PX = 10.0
HIT_PX = RADIUS_PX + 3.0  # a click this close to a marker's centre hits it
Z_MARKERS = 20.0


def set_color(number: int) -> QColor:
    """The set's palette colour."""
    r, g, b = (int(c) for c in SET_PALETTE[int(number) % len(SET_PALETTE)])
    return QColor(r, g, b)


def _pen(color: QColor | str, width: float) -> QPen:
    pen = QPen(QColor(color), width)
    pen.setCosmetic(True)
    return pen


class PointMarker(QGraphicsEllipseItem):
    """One drawn point (see the module notes); positions are image pixels."""

    def __init__(self, layer: MarkerLayer, point: ImagePoint) -> None:
        r = RADIUS_PX
        super().__init__(-r, -r, 2 * r, 2 * r, layer.layer)
        self.owner = layer
        self.point = point
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton)
        self.setCursor(Qt.CursorShape.SizeAllCursor)
        self.setZValue(Z_MARKERS)
        color = set_color(point.number)
        if point.state == OCCLUDED:
            self.setBrush(Qt.BrushStyle.NoBrush)
            self.setPen(_pen(color, 3.0))
        else:
            self.setBrush(QBrush(color))
            self.setPen(_pen("#111111", 1.5))
        self.label = QGraphicsSimpleTextItem(str(point.number + 1), self)
        font = QFont()
        font.setBold(True)
        font.setPointSizeF(9.0)
        self.label.setFont(font)
        self.label.setBrush(QBrush(QColor("#ffffff")))
        self.label.setPen(QPen(QColor("#000000"), 0.7))
        self.label.setPos(r + 1.0, -r - 12.0)
        c = CURRENT_RING_PX
        self.ring = QGraphicsEllipseItem(-c, -c, 2 * c, 2 * c, self)
        self.ring.setPen(_pen("#ffffff", 2.0))
        self.ring.setBrush(Qt.BrushStyle.NoBrush)
        self.ring.setVisible(False)
        self.setPos(*point.xy)
        self._start: QPointF | None = None
        self._press_screen: QPoint | None = None

    @property
    def state(self) -> str:
        return self.point.state

    def set_current(self, current: bool) -> None:
        self.ring.setVisible(current)

    # ----------------------------------------------------------------- events
    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()  # right button: the context menu event follows
            return
        self._start = self.pos()
        self._press_screen = event.screenPos()
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self._start is not None:
            self.setPos(self.owner.clamp(self.point, event.scenePos()))

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        start, press, self._start, self._press_screen = self._start, self._press_screen, \
            None, None
        if start is None or press is None:
            return
        moved = event.screenPos() - press
        if abs(moved.x()) + abs(moved.y()) <= CLICK_SLOP_PX:
            self.setPos(start)  # a click: the view's ``clicked`` selects the set
            return
        self.owner.dropped(self.point, self.pos())

    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:  # noqa: N802
        self.owner.context_requested.emit(self.point.set_id, event.screenPos())
        event.accept()


class MarkerLayer(QObject):
    """Draws a list of :class:`ImagePoint` over an image view and turns pointer input on it
    into requests (signals); it stores nothing itself."""

    point_clicked = Signal(object)  # ImagePoint clicked (no drag)
    background_clicked = Signal(float, float)  # image pixels of a click beside every marker
    moved = Signal(int, float, float)  # set id, image pixels where a dragged point was dropped
    context_requested = Signal(int, QPoint)  # set id, global screen position

    def __init__(self, view: ImageView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.layer = view.overlay_layer()
        self.markers: dict[int, PointMarker] = {}  # set id -> marker
        self.size: tuple[int, int] | None = None  # image (width, height) in pixels
        self._current = -1
        self._links = [(view.clicked, self._clicked)]
        for signal, slot in self._links:
            signal.connect(slot)

    def show_points(self, points: list[ImagePoint], size: tuple[int, int] | None) -> None:
        """Draw ``points`` (absent ones are skipped) on an image of ``size`` (W, H)."""
        self.clear()
        self.size = size
        for p in points:
            if p.xy is not None:
                self.markers[p.set_id] = PointMarker(self, p)
        self.set_current(self._current)

    def set_current(self, number: int) -> None:
        """Ring the marker of set ``number`` (the current set)."""
        self._current = int(number)
        for marker in self.markers.values():
            marker.set_current(marker.point.number == self._current)

    def clear(self) -> None:
        for marker in self.markers.values():
            if shiboken6.isValid(marker):
                shiboken6.delete(marker)  # leaves its parent layer (and scene) with it
        self.markers.clear()

    # ---------------------------------------------------------------- queries
    def point_at(self, x: float, y: float) -> ImagePoint | None:
        """The drawn point nearest to image pixel ``(x, y)`` within :data:`HIT_PX` screen
        pixels, or None."""
        here = self.view.view_position(x, y)
        best, best_d = None, HIT_PX
        for marker in self.markers.values():
            p = self.view.view_position(marker.pos().x(), marker.pos().y())
            d = float(((p.x() - here.x()) ** 2 + (p.y() - here.y()) ** 2) ** 0.5)
            if d <= best_d:
                best, best_d = marker.point, d
        return best

    def clamp(self, point: ImagePoint, pos: QPointF) -> QPointF:
        """Keep a dragged visible point inside the image (occluded ones may leave it)."""
        if self.size is None or point.state == OCCLUDED:
            return QPointF(pos)
        w, h = self.size
        return QPointF(min(max(pos.x(), 0.0), float(w)), min(max(pos.y(), 0.0), float(h)))

    # ----------------------------------------------------------------- events
    def dropped(self, point: ImagePoint, pos: QPointF) -> None:
        """A marker was dragged: report it after the mouse event (markers are redrawn)."""
        set_id, x, y = point.set_id, float(pos.x()), float(pos.y())
        QTimer.singleShot(0, lambda: self.moved.emit(set_id, x, y))

    def _clicked(self, x: float, y: float) -> None:
        hit = self.point_at(x, y)
        if hit is not None:
            self.point_clicked.emit(hit)
        else:
            self.background_clicked.emit(float(x), float(y))

    def close(self) -> None:
        for signal, slot in self._links:
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(slot)
        self.clear()


__all__ = ["MarkerLayer", "PointMarker", "set_color"]
