"""Pointing in the pose run's 3D view: which semantic point is under the pointer, and which
surface point a click lands on.

An event filter on the view's interactor (installed when a scene is drawn, see
:attr:`~ui.pose.scene_3d.PoseScene3D.scene_ready`) sees every pointer event before VTK and
consumes none, so dragging still rotates the camera. A move without a button held emits
``hovered`` with the semantic point under the pointer (-1 for none) when it changes; a left
press and release that did not move emits ``clicked`` with that point and the mesh surface
under the pointer (a :class:`~ui.surface_picker.SurfacePicker` on the mesh actor only).

A point is under the pointer when its sphere's centre is within :data:`HOVER_PX` logical
pixels (or its drawn radius, if larger) of it and the mesh does not hide it there (the
surface under the pointer is not nearer the camera than the point by more than a few
marker radii); of several, the nearest to the camera wins.
"""

from __future__ import annotations

import contextlib

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Signal

from ui.pose.scene_3d import PoseScene3D
from ui.surface_picker import SurfacePicker

HOVER_PX = 9.0  # logical pixels from a point's drawn centre that still point at it
CLICK_SLOP_PX = 3  # logical pixels of motion between press and release that still click
HIDE_MARGIN = 3.0  # marker radii: a surface nearer than the point by more hides it


class ScenePointer(QObject):
    """Hover and click in a :class:`PoseScene3D` (see the module docstring)."""

    hovered = Signal(int)  # semantic point under the pointer, -1 when none
    clicked = Signal(int, object)  # point under the pointer (-1), (face, xyz) hit or None

    def __init__(self, scene: PoseScene3D, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scene = scene
        self.picker: SurfacePicker | None = None
        self._filtered = None  # the interactor the filter is on
        self._press: tuple[float, float] | None = None
        self._hovered = -1
        scene.scene_ready.connect(self._attach)

    def _attach(self) -> None:
        """A new scene: pick its mesh actor; filter the interactor's events (once)."""
        plotter = self.scene.plotter
        if plotter is None:
            return
        if self.picker is None:
            self.picker = SurfacePicker(plotter.renderer)
        actor = plotter.actors.get("mesh")
        if actor is not None:
            self.picker.set_target(actor, actor.GetMapper().GetInput())
        if self._filtered is not plotter.interactor:
            plotter.interactor.installEventFilter(self)
            self._filtered = plotter.interactor
        self._hovered = -1

    def close(self) -> None:
        """Stop listening (the view is going away)."""
        if self._filtered is not None:
            self._filtered.removeEventFilter(self)
            self._filtered = None
        with contextlib.suppress(RuntimeError, TypeError):
            self.scene.scene_ready.disconnect(self._attach)

    # ------------------------------------------------------------------ queries
    def _ratio(self) -> float:
        return float(self.scene.plotter.interactor.devicePixelRatioF())

    def surface_at(self, x: float, y: float) -> tuple[int, np.ndarray] | None:
        """(face, (3,) world position) of the mesh under widget point (x, y) (logical,
        origin top-left), or None."""
        if self.picker is None or self.scene.plotter is None:
            return None
        ratio = self._ratio()
        height = self.scene.plotter.interactor.height()
        return self.picker.pick(x * ratio, (height - y) * ratio)

    def widget_position(self, xyz) -> tuple[float, float]:
        """Widget position (logical pixels, origin top-left) of a world point."""
        ratio = self._ratio()
        x, y, _ = self.scene.display_position(xyz)
        return x / ratio, self.scene.plotter.interactor.height() - y / ratio

    def point_at(self, x: float, y: float) -> int:
        """The semantic point under widget point (x, y), -1 for none (module docstring)."""
        scene = self.scene
        template = scene.template
        pts = scene.current_points()
        if template is None or scene.plotter is None or len(pts) == 0:
            return -1
        ratio = self._ratio()
        height = scene.plotter.interactor.height()
        display = np.array([scene.display_position(p) for p in pts])
        wx, wy = display[:, 0] / ratio, height - display[:, 1] / ratio
        # the drawn radius on screen, from a point one marker radius away along the view up
        up = np.asarray(scene.plotter.camera.up, dtype=np.float64)
        edge = np.array([scene.display_position(p + scene.marker_radius * up)[:2]
                         for p in pts]) / ratio
        radius = np.hypot(edge[:, 0] - display[:, 0] / ratio,
                          edge[:, 1] - display[:, 1] / ratio)
        near = np.hypot(wx - x, wy - y) <= np.maximum(HOVER_PX, radius)
        if not near.any():
            return -1
        cam = np.asarray(scene.plotter.camera.position, dtype=np.float64)
        dist = np.linalg.norm(pts - cam, axis=1)
        hit = self.surface_at(x, y)
        if hit is not None:
            surface = float(np.linalg.norm(hit[1] - cam))
            near &= dist <= surface + HIDE_MARGIN * scene.marker_radius
        if not near.any():
            return -1
        candidates = np.flatnonzero(near)
        return int(candidates[np.argmin(dist[candidates])])

    # ------------------------------------------------------------------- events
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        kind = event.type()
        T = QEvent.Type
        if kind == T.MouseMove:
            pos = event.position()
            if event.buttons() == Qt.MouseButton.NoButton:
                self._set_hovered(self.point_at(pos.x(), pos.y()))
        elif kind == T.Leave:
            self._set_hovered(-1)
        elif kind == T.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._press = (event.position().x(), event.position().y())
        elif kind == T.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
            press, self._press = self._press, None
            pos = event.position()
            if press is not None and \
                    abs(pos.x() - press[0]) + abs(pos.y() - press[1]) <= CLICK_SLOP_PX:
                self.click(pos.x(), pos.y())
        return False  # VTK still gets every event (camera rotation, zoom)

    def click(self, x: float, y: float) -> None:
        """A click at widget point (x, y): emit ``clicked`` with what is under it."""
        self.clicked.emit(self.point_at(x, y), self.surface_at(x, y))

    def _set_hovered(self, index: int) -> None:
        if index != self._hovered:
            self._hovered = index
            self.hovered.emit(index)
