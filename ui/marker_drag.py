"""Dragging a keypoint marker along the surface in the 3D view.

Pressing the left button on a drawn marker (the nearest one within a few pixels of the
press that the mesh does not hide) grabs it. The events of that press are consumed
before VTK sees them, so the camera does not rotate. While the button is held the marker
follows the surface under the cursor (one pick and one render per frame at most);
nothing is written. On release :attr:`MarkerDrag.moved` is emitted once with the final
face and picked position; a press and release without motion emits
:attr:`MarkerDrag.clicked` instead (select that set, place nothing). Escape during the
drag puts the marker back and emits nothing. Presses elsewhere are left to VTK (camera).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:
    from ui.mesh_view import MeshView

CLICK_SLOP_PX = 3  # logical pixels of motion that still count as a click
GRAB_MARGIN_PX = 6  # logical pixels around a marker's drawn disc that still grab it
FRAME_MS = 16  # at most one pick + render per frame while dragging


@dataclass
class _Drag:
    """The marker being dragged."""

    index: int  # row in the view's keypoints
    keypoint_id: int
    number: int  # set number
    press: tuple[float, float]  # widget coordinates of the press (logical, top-left)
    cursor: tuple[float, float]  # latest cursor position
    origin: np.ndarray  # (3,) where the marker was
    hit: tuple[int, np.ndarray] | None = None  # last surface pick under the cursor
    moving: bool = False


class MarkerDrag(QObject):
    """The drag state machine of one :class:`~ui.mesh_view.MeshView` (fed by its filter)."""

    moved = Signal(int, int, object)  # keypoint id, face index, (3,) picked position
    clicked = Signal(int, int)  # keypoint id, set number

    def __init__(self, view: MeshView) -> None:
        super().__init__(view)
        self.view = view
        self._drag: _Drag | None = None
        self._swallow_release = False  # the button is still down after a cancel
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._follow)

    @property
    def active(self) -> bool:
        return self._drag is not None

    # ---------------------------------------------------------------- events
    def handle(self, event: QEvent) -> bool:
        """Feed one interactor event; True when it was consumed (VTK must not see it)."""
        kind = event.type()
        T = QEvent.Type
        if kind in (T.MouseButtonPress, T.MouseButtonDblClick):
            if self._drag is not None:
                return True
            if event.button() != Qt.MouseButton.LeftButton:
                return False
            pos = event.position()
            index = self.marker_at(pos.x(), pos.y())
            if index is None:
                return False
            self._begin(index, pos.x(), pos.y())
            return True
        if kind == T.MouseMove:
            drag = self._drag
            if drag is None:
                return False
            pos = event.position()
            drag.cursor = (pos.x(), pos.y())
            if not drag.moving and abs(pos.x() - drag.press[0]) + \
                    abs(pos.y() - drag.press[1]) > CLICK_SLOP_PX:
                drag.moving = True
            if drag.moving and not self._timer.isActive():
                self._timer.start()
            return True
        if kind == T.MouseButtonRelease:
            if self._swallow_release:
                self._swallow_release = event.buttons() != Qt.MouseButton.NoButton
                return True
            if self._drag is None:
                return False
            if event.button() == Qt.MouseButton.LeftButton:
                pos = event.position()
                self._end(pos.x(), pos.y())
            return True
        if kind == T.KeyPress and self._drag is not None:
            if event.key() == Qt.Key.Key_Escape:
                self.cancel()
            return True
        return False

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        """Application-wide while dragging: Escape cancels wherever the focus is."""
        if self._drag is not None and event.type() == QEvent.Type.KeyPress and \
                event.key() == Qt.Key.Key_Escape:
            self.cancel()
            return True
        return False

    # -------------------------------------------------------------- picking
    def marker_at(self, x: float, y: float) -> int | None:
        """Row of the visible marker under widget point (x, y), or None."""
        view = self.view
        kp = view.keypoints
        if kp is None or not len(kp):
            return None
        widget = view.plotter.interactor
        ratio = widget.devicePixelRatioF()
        px, py = x * ratio, (widget.height() - y) * ratio
        centres = view.marker_centres()
        screen = np.array([view.display_position(c) for c in centres])
        dist = np.hypot(screen[:, 0] - px, screen[:, 1] - py)
        camera = np.array(view.plotter.camera.position)
        up = np.array(view.plotter.camera.up, dtype=np.float64)
        up /= max(np.linalg.norm(up), 1e-12)
        radius = view.marker_radius
        for i in np.argsort(dist):
            c = centres[i]
            top = view.display_position(c + radius * up)
            reach = np.hypot(top[0] - screen[i, 0], top[1] - screen[i, 1]) + \
                GRAB_MARGIN_PX * ratio
            if dist[i] > reach:
                if dist[i] > 4 * reach:  # sorted by distance: nothing nearer is left
                    break
                continue
            hit = view.picker.pick(*screen[i])
            if hit is not None and np.linalg.norm(hit[1] - camera) < \
                    np.linalg.norm(c - camera) - 2 * radius:
                continue  # the mesh hides this marker
            return int(i)
        return None

    def _pick(self, x: float, y: float) -> tuple[int, np.ndarray] | None:
        widget = self.view.plotter.interactor
        ratio = widget.devicePixelRatioF()
        return self.view.picker.pick(x * ratio, (widget.height() - y) * ratio)

    # ------------------------------------------------------------ the drag
    def _begin(self, index: int, x: float, y: float) -> None:
        kp = self.view.keypoints
        self._drag = _Drag(index, int(kp.keypoint_ids[index]), int(kp.numbers[index]),
                           (x, y), (x, y), self.view.marker_centres()[index].copy())
        QApplication.instance().installEventFilter(self)

    def _follow(self) -> None:
        """Move the marker to the surface under the latest cursor position."""
        drag = self._drag
        if drag is None:
            return
        hit = self._pick(*drag.cursor)
        if hit is not None:  # off the model: the marker waits where it was
            drag.hit = hit
            self.view.move_marker(drag.index, hit[1])

    def _end(self, x: float, y: float) -> None:
        drag = self._drag
        self._timer.stop()
        if not drag.moving:
            self._stop()
            self.clicked.emit(drag.keypoint_id, drag.number)
            return
        hit = self._pick(x, y) or drag.hit
        if hit is None:  # never over the model
            self.cancel()
            self._swallow_release = False
            return
        self.view.move_marker(drag.index, hit[1])
        self._stop()
        self.moved.emit(drag.keypoint_id, int(hit[0]), hit[1])

    def cancel(self) -> None:
        """Put the dragged marker back; nothing is emitted."""
        drag = self._drag
        if drag is None:
            return
        self._timer.stop()
        self.view.move_marker(drag.index, drag.origin)
        self._stop()
        self._swallow_release = True  # the button is still down

    def abort(self) -> None:
        """Forget the drag without touching the markers (they are being redrawn)."""
        if self._drag is not None:
            self._timer.stop()
            self._stop()
            self._swallow_release = True

    def _stop(self) -> None:
        self._drag = None
        QApplication.instance().removeEventFilter(self)
