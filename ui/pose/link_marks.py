"""What the linked views draw for a :class:`~ui.pose.link_state.LinkState`: one adapter per
view, each subscribing in ``__init__`` and disconnecting in ``close()`` (the napari layer
habit); neither knows the other.

- :class:`ImageMarks` (2D, items over an :class:`~ui.image_view.ImageView`, constant size on
  screen): a white ring around the hovered point's marker, a magenta ring around the
  selected one (both hidden when the point is outside the image), and the probe as a cyan
  diamond at its projection, filled when visible, hollow when the mesh hides it.
- :class:`SceneMarks` (3D, actors in a :class:`~ui.pose.scene_3d.PoseScene3D`, made when its
  scene is drawn): a white halo around the hovered point's sphere, a magenta halo around the
  selected one, and the probe as a small cyan sphere. Only actor positions and visibility
  change; the view repaints in the next paint pass.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pyvista as pv
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsPathItem

from ui.image_view import ImageView
from ui.pose.link_state import LinkState
from ui.pose.scene_3d import PoseScene3D

HOVER_COLOR = "#ffffff"
SELECT_COLOR = "#ff4fd8"
PROBE_COLOR = "#00e5ff"
HOVER_RING_PX = 10.0  # ring radii, screen pixels (the point markers are 5.5)
SELECT_RING_PX = 13.0
PROBE_HALF_PX = 7.0
HOVER_HALO = 2.4  # 3D halo radii, times the point spheres' radius
SELECT_HALO = 2.0
PROBE_SCALE = 0.75


def _pen(color: str, width: float) -> QPen:
    pen = QPen(QColor(color), width)
    pen.setCosmetic(True)
    return pen


def _disconnect(pairs) -> None:
    for signal, slot in pairs:
        with contextlib.suppress(RuntimeError, TypeError):
            signal.disconnect(slot)


class ImageMarks:
    """Hover ring, selection ring and probe diamond over an image view (module docstring)."""

    def __init__(self, view: ImageView, state: LinkState) -> None:
        self.view = view
        self.state = state
        layer = view.overlay_layer()
        flag = QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations
        self.hover = self._ring(layer, HOVER_RING_PX, HOVER_COLOR, 2.0, 6)
        self.selected = self._ring(layer, SELECT_RING_PX, SELECT_COLOR, 3.0, 7)
        h = PROBE_HALF_PX
        path = QPainterPath()
        path.addPolygon(QPolygonF([QPointF(0, -h), QPointF(h, 0), QPointF(0, h),
                                   QPointF(-h, 0), QPointF(0, -h)]))
        self.probe = QGraphicsPathItem(path, layer)
        self.probe.setFlag(flag)
        self.probe.setZValue(8)
        self.probe.setVisible(False)
        self._links = [(state.hovered_changed, self._update), (state.selected_changed,
                       self._update), (state.probe_changed, self._update),
                       (state.record_changed, self._update),
                       (state.template_changed, self._update)]
        for signal, slot in self._links:
            signal.connect(slot)

    @staticmethod
    def _ring(layer, radius: float, color: str, width: float, z: float) -> QGraphicsEllipseItem:
        item = QGraphicsEllipseItem(-radius, -radius, 2 * radius, 2 * radius, layer)
        item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        item.setPen(_pen(color, width))
        item.setBrush(Qt.BrushStyle.NoBrush)
        item.setZValue(z)
        item.setVisible(False)
        return item

    def _place(self, item, index: int) -> None:
        record = self.state.record
        shown = record is not None and 0 <= index < len(record.uv) and \
            bool(record.in_image[index])
        if shown:
            item.setPos(float(record.uv[index, 0]), float(record.uv[index, 1]))
        item.setVisible(shown)

    def _update(self, *_args) -> None:
        self._place(self.hover, self.state.hovered)
        self._place(self.selected, self.state.selected)
        probe = self.state.probe
        if probe is None or not probe.in_image or self.state.record is None:
            self.probe.setVisible(False)
            return
        self.probe.setPos(float(probe.uv[0]), float(probe.uv[1]))
        if probe.visible:
            self.probe.setBrush(QBrush(QColor(PROBE_COLOR)))
            self.probe.setPen(_pen("#111111", 1.0))
        else:
            self.probe.setBrush(Qt.BrushStyle.NoBrush)
            self.probe.setPen(_pen(PROBE_COLOR, 2.5))
        self.probe.setData(0, "visible" if probe.visible else "occluded")
        self.probe.setVisible(True)

    # ----------------------------------------------------------------- queries
    def ring_position(self, which: str) -> tuple[float, float] | None:
        """Where the ``"hover"`` or ``"selected"`` ring is drawn (image pixels), or None."""
        item = self.hover if which == "hover" else self.selected
        return (item.pos().x(), item.pos().y()) if item.isVisible() else None

    def probe_mark(self) -> tuple[float, float, str] | None:
        """``(x, y, "visible" | "occluded")`` of the drawn probe, or None."""
        if not self.probe.isVisible():
            return None
        return self.probe.pos().x(), self.probe.pos().y(), str(self.probe.data(0))

    def close(self) -> None:
        _disconnect(self._links)


class SceneMarks:
    """Hover halo, selection halo and probe sphere in the 3D view (module docstring)."""

    def __init__(self, scene: PoseScene3D, state: LinkState) -> None:
        self.scene = scene
        self.state = state
        self.actors: dict[str, object] = {}
        self._links = [(scene.scene_ready, self._make), (state.hovered_changed, self._update),
                       (state.selected_changed, self._update),
                       (state.probe_changed, self._update),
                       (state.template_changed, self._update),
                       (state.record_changed, self._on_record)]
        for signal, slot in self._links:
            signal.connect(slot)

    def _on_record(self, record) -> None:
        """A step with its own shape (reconstruction) moves the points: follow them."""
        if record is not None and record.points is not None:
            self._update()

    def _make(self) -> None:
        """The scene was (re)drawn: add the three actors, hidden."""
        p = self.scene.plotter
        if p is None:
            return
        r = self.scene.marker_radius
        specs = {"link_hover": (HOVER_HALO * r, HOVER_COLOR, 0.4),
                 "link_selected": (SELECT_HALO * r, SELECT_COLOR, 0.55),
                 "link_probe": (PROBE_SCALE * r, PROBE_COLOR, 1.0)}
        self.actors = {}
        for name, (radius, color, opacity) in specs.items():
            sphere = pv.Sphere(radius=radius, theta_resolution=16, phi_resolution=16)
            actor = p.add_mesh(sphere, color=color, opacity=opacity, name=name,
                               smooth_shading=True, render=False, reset_camera=False,
                               pickable=False)
            actor.SetVisibility(False)
            self.actors[name] = actor
        self._update()

    def _place(self, name: str, xyz) -> None:
        actor = self.actors.get(name)
        if actor is None:
            return
        if xyz is None:
            actor.SetVisibility(False)
        else:
            actor.SetPosition(*np.asarray(xyz, dtype=np.float64).tolist())
            actor.SetVisibility(True)

    def _point(self, index: int):
        points = self.scene.current_points()
        if not 0 <= index < len(points):
            return None
        return points[index]

    def _update(self, *_args) -> None:
        if not self.actors:
            return
        self._place("link_hover", self._point(self.state.hovered))
        self._place("link_selected", self._point(self.state.selected))
        probe = self.state.probe
        self._place("link_probe", None if probe is None else probe.xyz)
        self.scene.request_render()

    # ----------------------------------------------------------------- queries
    def position(self, name: str) -> np.ndarray | None:
        """(3,) where ``"link_hover"``, ``"link_selected"`` or ``"link_probe"`` is drawn,
        None when hidden."""
        actor = self.actors.get(name)
        if actor is None or not actor.GetVisibility():
            return None
        return np.array(actor.GetPosition(), dtype=np.float64)

    def close(self) -> None:
        _disconnect(self._links)
