"""Linking the pose run's 2D and 3D views both ways, through one :class:`LinkState`.

- Hover a projected semantic point in the image (within :data:`HOVER_PX` screen pixels of
  its marker) or its sphere in 3D: that point becomes ``hovered``; both views mark it.
- Click in the image: the pixel's ray (the shown step's camera, :func:`core.raster.picking.
  ray_cast`) meets the template mesh; the hit becomes the probe (a marker in both views)
  and the semantic point nearest the hit within :data:`SNAP_FRACTION` of the mesh's
  bounding-box diagonal becomes ``selected`` (else a marker under the click, e.g. an
  occluded one's ring; else none). A ray that misses selects nothing and says so.
- Click on the mesh in 3D: the surface point becomes the probe; its projection with the
  shown step's camera is marked in the image (filled when visible, hollow when hidden by
  the mesh); the nearest semantic point within the same radius is selected. A click on a
  semantic point's sphere selects that point (the probe sits on it).
- A new step shown (live or scrubbed) moves the 2D marks and re-projects the probe with
  that step's camera: linking always uses the shown step's camera and mesh (the template's,
  or in a reconstruction the step's shape and its points).

``message`` says what is hovered or picked (the panel shows it, and the window's status
bar). Everything runs on the GUI thread in well under a frame: a ray cast prunes faces by
their projected boxes, and a single point is projected per step.
"""

from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from core.cameras import camera_from_dict
from core.pose.projection import project_keypoints
from core.raster.picking import ray_cast
from ui.image_view import ImageView
from ui.pose.link_state import LinkState, Probe
from ui.pose.records import StepRecord
from ui.pose.scene_pick import ScenePointer

HOVER_PX = 9.0  # screen pixels from a projected point's marker that still point at it
SNAP_FRACTION = 0.05  # picked surface point -> semantic point radius, times the mesh diagonal


def record_camera(record: StepRecord):
    """The perspective (or weak-perspective) camera of a step, float64, batch of one."""
    return camera_from_dict(record.geometry.camera, dtype=torch.float64)


class PoseLinker(QObject):
    """Pointer events of both views -> :class:`LinkState` (see the module docstring)."""

    message = Signal(str)

    def __init__(self, state: LinkState, image_view: ImageView, pointer: ScenePointer,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.image_view = image_view
        self.pointer = pointer
        self._camera_record = None  # the record whose camera is cached (held: ids recycle)
        self._camera = None
        image_view.hovered.connect(self._image_hovered)
        image_view.clicked.connect(self.click_image)
        pointer.hovered.connect(self._scene_hovered)
        pointer.clicked.connect(self._scene_clicked)
        state.record_changed.connect(self._record_changed)
        state.hovered_changed.connect(self._describe_hover)

    # ---------------------------------------------------------------- helpers
    def camera(self):
        """The shown step's camera (cached per record), or None."""
        record = self.state.record
        if record is None:
            return None
        if self._camera_record is not record:
            self._camera, self._camera_record = record_camera(record), record
        return self._camera

    def snap_radius(self) -> float:
        t = self.state.template
        if t is None:
            return 0.0
        return SNAP_FRACTION * float(np.linalg.norm(np.ptp(self.state.vertices(), axis=0)))

    def nearest_point(self, xyz) -> int:
        """The semantic point nearest ``xyz`` within :meth:`snap_radius`, -1 for none."""
        t = self.state.template
        points = self.state.points()
        if t is None or len(points) == 0:
            return -1
        dist = np.linalg.norm(points - np.asarray(xyz), axis=1)
        i = int(np.argmin(dist))
        return i if dist[i] <= self.snap_radius() else -1

    def marker_at(self, x: float, y: float) -> int:
        """The projected point whose 2D marker is under image pixel (x, y) (within
        :data:`HOVER_PX` screen pixels; visible ones first), -1 for none."""
        record = self.state.record
        if record is None or len(record.uv) == 0:
            return -1
        view = self.image_view
        at = view.view_position(x, y)
        best, best_key = -1, None
        for i in np.flatnonzero(record.in_image):
            p = view.view_position(*record.uv[i])
            d = float(np.hypot(p.x() - at.x(), p.y() - at.y()))
            key = (not bool(record.visible[i]), d)
            if d <= HOVER_PX and (best_key is None or key < best_key):
                best, best_key = int(i), key
        return best

    def make_probe(self, origin: str, face: int, xyz, bary=None) -> Probe | None:
        """A :class:`Probe` at ``xyz`` on ``face`` (or, given its barycentric weights
        ``bary``, at that point of the shown step's shape), projected with the shown step's
        camera."""
        t, camera = self.state.template, self.camera()
        if t is None or camera is None:
            return None
        vertices = self.state.vertices()
        tri = np.asarray(vertices, dtype=np.float64)[np.asarray(t.faces)[int(face)]]  # (3, 3)
        if bary is None:
            bary = _barycentric(tri, np.asarray(xyz, dtype=np.float64).reshape(3))
        bary = np.asarray(bary, dtype=np.float64).reshape(3)
        xyz = bary @ tri
        kp = project_keypoints(camera, vertices, t.faces, xyz[None, :],
                               point_faces=np.array([int(face)]))
        return Probe(origin, int(face), xyz, kp.uv[0].copy(), bool(kp.in_image[0]),
                     bool(kp.visible[0]), bary)

    def _say(self, text: str) -> None:
        self.message.emit(text)

    # ----------------------------------------------------------------- 2D side
    def _image_hovered(self, at) -> None:
        self.state.set_hovered(-1 if at is None else self.marker_at(*at))

    def click_image(self, x: float, y: float) -> None:
        """Cast image pixel (x, y) onto the posed mesh (see the module docstring)."""
        t, camera = self.state.template, self.camera()
        if t is None or camera is None:
            return
        hit = ray_cast(camera, self.state.vertices(), t.faces, (x, y))
        if hit is None:
            marker = self.marker_at(x, y)
            self.state.set_probe(None)
            self.state.set_selected(marker)
            where = f"({x:.1f}, {y:.1f})"
            self._say(f"Image {where}: the ray misses the posed mesh" +
                      (f"; selected {self.state.label(marker)}" if marker >= 0 else ""))
            return
        probe = self.make_probe("image", hit.face, hit.xyz)
        near = self.nearest_point(hit.xyz)
        if near < 0:
            near = self.marker_at(x, y)
        self.state.set_probe(probe)
        self.state.set_selected(near)
        text = (f"Image ({x:.1f}, {y:.1f}) -> mesh ({hit.xyz[0]:.3f}, {hit.xyz[1]:.3f}, "
                f"{hit.xyz[2]:.3f}), face {hit.face}, depth {hit.depth:.3f}")
        self._say(text + (f"; selected {self.state.label(near)}" if near >= 0 else
                          "; no semantic point near"))

    # ----------------------------------------------------------------- 3D side
    def _scene_hovered(self, index: int) -> None:
        self.state.set_hovered(index)

    def _scene_clicked(self, index: int, hit) -> None:
        t = self.state.template
        if t is None:
            return
        if index >= 0:
            self.select_point(index)
            return
        if hit is None:
            self.state.set_probe(None)
            self.state.set_selected(-1)
            self._say("Nothing under the pointer in 3D")
            return
        self.click_mesh(int(hit[0]), hit[1])

    def select_point(self, index: int) -> None:
        """Select semantic point ``index`` (the probe sits on it)."""
        t = self.state.template
        points = self.state.points()
        if t is None or not 0 <= index < len(points):
            return
        probe = self.make_probe("mesh", int(t.point_faces[index]), points[index])
        self.state.set_probe(probe)
        self.state.set_selected(index)
        self._say(f"Selected {self.state.label(index)}" + self._where(probe))

    def click_mesh(self, face: int, xyz) -> None:
        """A surface point clicked in 3D: probe it and select the semantic point near it."""
        probe = self.make_probe("mesh", face, xyz)
        if probe is None:
            return
        near = self.nearest_point(probe.xyz)
        self.state.set_probe(probe)
        self.state.set_selected(near)
        x, y, z = probe.xyz
        text = f"Mesh ({x:.3f}, {y:.3f}, {z:.3f}), face {face}" + self._where(probe)
        self._say(text + (f"; selected {self.state.label(near)}" if near >= 0 else ""))

    @staticmethod
    def _where(probe: Probe | None) -> str:
        if probe is None:
            return ""
        if not probe.in_image:
            return ": projects outside the image"
        state = "visible" if probe.visible else "hidden by the mesh"
        return f": image ({probe.uv[0]:.1f}, {probe.uv[1]:.1f}), {state}"

    # ------------------------------------------------------------------ steps
    def _record_changed(self, record) -> None:
        probe = self.state.probe
        if record is None or probe is None:
            return
        self.state.set_probe(self.make_probe(probe.origin, probe.face, probe.xyz, probe.bary))

    def _describe_hover(self, index: int) -> None:
        if index < 0:
            return
        record = self.state.record
        text = f"Hover: {self.state.label(index)}"
        if record is not None and index < len(record.uv):
            if record.visible[index]:
                text += f", visible at ({record.uv[index, 0]:.1f}, {record.uv[index, 1]:.1f})"
            elif record.in_image[index]:
                text += ", hidden by the mesh"
            else:
                text += ", outside the image"
        self._say(text)


def _barycentric(tri: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Barycentric weights (3,) of ``point`` (3,) projected onto the plane of ``tri`` (3, 3)."""
    e = np.stack([tri[1] - tri[0], tri[2] - tri[0]], axis=1)  # (3, 2)
    uv, *_ = np.linalg.lstsq(e, point - tri[0], rcond=None)
    return np.array([1.0 - uv[0] - uv[1], uv[0], uv[1]])
