"""The pose run in 3D: the template mesh, its semantic points and the camera's frustum with
the image on its image plane (its own small QtInteractor, apart from the main mesh view, so
annotation and pose runs keep their own cameras and the per-step renders stay small).

Set up once per run (:meth:`PoseScene3D.set_scene`); per step only the 5 frustum points and
the 4 image-plane corners change (and, in a reconstruction, the mesh's vertices and the
point spheres: the step's shape), in place in the drawn ``vtkPolyData``, and the widget is
marked for repaint: the VTK render happens in the widget's ``paintEvent`` during Qt's next
paint pass, together with the other views' changes (calling ``plotter.render()`` as well
would render twice). The view is a native window drawn by VTK (pyvistaqt 0.11), so its frame
costs only its own pixels, not a composition of the whole main window. The
update rate is the run worker's (at most ~30 a second, paced to the measured cost of an
update); nothing renders while the widget is hidden. ``frames`` / ``last_frame_ms`` count and
time the VTK renders (render window Start/End events). For the same reason the view draws
without multisampling and the mesh flat-shaded: with pyvista's default 8x MSAA and smooth
shading, a frame cost about 50 ms in software OpenGL instead of 5-10 ms.

The frustum is a pyramid from the camera centre to the image's corners at
:data:`ui.pose.records.FRUSTUM_DEPTH` times the camera distance; the ground-truth camera
(synthetic images) is drawn as a fixed green frustum.

``scene_ready`` says a run's scene is drawn (the linked-view marks and the pointer attach to
it then: :mod:`ui.pose.link_marks`, :mod:`ui.pose.scene_pick`; emitted in the next pass of
the event loop, so that no pass carries both set-ups, ~20 ms each in software OpenGL);
:meth:`PoseScene3D.snapshot` renders the view into a QImage (figures and run exports).
"""

from __future__ import annotations

import time

import numpy as np
import pyvista as pv
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pyvistaqt import QtInteractor
from vtkmodules.util.numpy_support import vtk_to_numpy

from core.pose.category_template import CategoryTemplate
from ui.mesh_view import BACKGROUND, MESH_COLOR
from ui.palette import set_colors
from ui.pose.records import CameraGeometry, StepRecord
from ui.view_grab import render_view_image

FRUSTUM_COLOR = "#ffd400"
TRUTH_COLOR = "#3ddc84"
FRAME_PAD = 0.15  # the framed box is padded by this fraction of its largest side
POINT_SCALE = 0.018  # point sphere radius, times the mesh's bounding-box diagonal
_PYRAMID = np.array([2, 0, 1, 2, 0, 2, 2, 0, 3, 2, 0, 4,
                     2, 1, 2, 2, 2, 3, 2, 3, 4, 2, 4, 1])
# texture coordinates of the image corners (top-left, top-right, bottom-right, bottom-left);
# pyvista textures put the array's first row at t = 1
_TCOORDS = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])


def frustum_points(geometry: CameraGeometry) -> np.ndarray:
    """(5, 3): the camera centre, then the image-plane corners."""
    return np.vstack([geometry.center[None, :], geometry.corners])


class PoseScene3D(QWidget):
    """Template, semantic points and live camera frustum (see the module docstring)."""

    rendered = Signal()
    frame_swapped = Signal()  # a frame of this view is on screen (VTK swapped its buffers)
    scene_ready = Signal()  # a run's scene is drawn (mesh, points, frustum, image)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("poseScene3D")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.setMinimumSize(200, 180)
        self.plotter: QtInteractor | None = None  # made when first shown
        self._pending: tuple | None = None  # set_scene() arguments before that
        self._truth_shown = True
        self._creating = False
        self.frames = 0  # VTK renders so far
        self.last_frame_ms = 0.0
        self._frame_t0 = 0.0
        self.record: StepRecord | None = None
        self._frustum = None  # the drawn vtkPolyData
        self._plane = None
        self._mesh = None  # the drawn mesh's vtkPolyData (its points move per step)
        self._markers = None  # the drawn point spheres' vtkPolyData
        self._marker_offsets: np.ndarray | None = None  # sphere points minus their centre
        self._shape_key: int | None = None  # id of the vertices drawn (None: the template's)
        self._framed = False
        self._frame_box: tuple[np.ndarray, np.ndarray] | None = None
        self._mesh_box = np.zeros((2, 3))
        self._closed = False
        self._warming = False
        self._first_frame_pending = False  # a new scene's first frame is scheduled
        self.template: CategoryTemplate | None = None  # of the drawn scene
        self.marker_radius = POINT_SCALE  # the drawn point spheres' radius, world units

    # ------------------------------------------------------------------ set-up
    def _ensure_plotter(self) -> None:
        """Create the QtInteractor on first show (a hidden dock costs no render window)."""
        if self.plotter is not None or self._closed or self._creating:
            return
        self._creating = True  # making the GL child re-enters showEvent
        try:
            # no multisampling: pyvista's default 8x MSAA made each live frame ~5x slower
            # in software OpenGL (50 ms instead of 10 ms at 550 x 330)
            plotter = QtInteractor(self, auto_update=False, multi_samples=0)
        finally:
            self._creating = False
        plotter.set_background(BACKGROUND)
        self.layout().addWidget(plotter.interactor, 1)
        plotter.ren_win.AddObserver("StartEvent", self._frame_started)
        plotter.ren_win.AddObserver("EndEvent", self._frame_ended)
        self.rendered.connect(self.frame_swapped)  # VTK swaps its own window's buffers
        self.plotter = plotter
        if self._pending is not None:
            pending, record, self._pending = self._pending, self.record, None
            self.set_scene(*pending)
            if record is not None:
                self.show_record(record)
        else:
            QTimer.singleShot(0, self._warm_up)

    def _warm_up(self) -> None:
        """Draw a tiny scene of the same kinds of actors once, before any run, so that the
        first run does not compile their shaders (hundreds of ms in software OpenGL)."""
        if self._closed or self.plotter is None or self._frustum is not None or \
                not self.isVisible():
            return
        tetra = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
        dummy = CategoryTemplate(
            category="", model="", annotator="", vertices=tetra,
            faces=np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]),
            set_numbers=np.array([0]), set_names=(None,), set_ids=np.array([0]),
            point_faces=np.array([0]), points=tetra[:1] * 0.5)
        dummy_geometry = CameraGeometry({}, np.eye(3), np.zeros(3), tetra)
        self._warming = True
        try:
            self.set_scene(dummy, np.zeros((4, 4, 3), np.uint8), dummy_geometry)
        finally:
            self._warming = False
        self.plotter.render()
        for name in list(self.plotter.actors):
            self.plotter.remove_actor(name, render=False)
        self._frustum = self._plane = self._mesh = self._markers = None
        self.template = None
        self.plotter.render()

    def set_scene(self, template: CategoryTemplate, rgb: np.ndarray,
                  truth: CameraGeometry | None = None) -> None:
        """Draw the template with its points, an empty frustum and the image's plane."""
        self.record, self._framed, self._frame_box = None, False, None
        v = np.asarray(template.vertices, dtype=np.float64)
        self._mesh_box = np.array([v.min(axis=0), v.max(axis=0)])
        self.template = template
        self.marker_radius = POINT_SCALE * (float(np.linalg.norm(np.ptp(v, axis=0))) or 1.0)
        if self.plotter is None:
            self._pending = (template, rgb, truth)
            return
        p = self.plotter
        for name in list(p.actors):
            p.remove_actor(name, render=False)
        faces = np.hstack([np.full((len(template.faces), 1), 3, np.int64),
                           template.faces]).ravel()
        actor = p.add_mesh(pv.PolyData(np.array(template.vertices, dtype=np.float64), faces),
                           color=MESH_COLOR, smooth_shading=False, name="mesh", specular=0.2,
                           render=False, reset_camera=False)
        self._mesh = actor.mapper.dataset  # (the mapper's GetInput() may be a pipeline's)
        self._markers = self._marker_offsets = self._shape_key = None
        pts = np.asarray(template.points, dtype=np.float64).reshape(-1, 3)
        if len(pts):
            markers = pv.PolyData(pts.copy()).glyph(
                geom=pv.Sphere(radius=self.marker_radius, theta_resolution=10,
                               phi_resolution=10), scale=False, orient=False)
            per = markers.n_points // len(pts)
            markers.point_data["rgb"] = np.repeat(set_colors(template.set_numbers), per,
                                                  axis=0)
            actor = p.add_mesh(markers, scalars="rgb", rgb=True, name="points", render=False,
                               reset_camera=False)
            self._markers = actor.mapper.dataset
            drawn = vtk_to_numpy(self._markers.GetPoints().GetData()).astype(np.float64)
            if len(drawn) == per * len(pts):  # one sphere per point, in order
                self._marker_offsets = drawn - np.repeat(pts, per, axis=0)
        if truth is not None:
            actor = p.add_mesh(pv.PolyData(frustum_points(truth), lines=_PYRAMID),
                               color=TRUTH_COLOR, line_width=1.5, name="truth",
                               lighting=False, render=False, reset_camera=False)
            actor.SetVisibility(self._truth_shown)
        zero = np.zeros((5, 3))
        actor = p.add_mesh(pv.PolyData(zero, lines=_PYRAMID), color=FRUSTUM_COLOR,
                           line_width=2.5, name="frustum", lighting=False, render=False,
                           reset_camera=False)
        self._frustum = actor.GetMapper().GetInput()
        quad = pv.PolyData(zero[:4].copy(), faces=np.array([4, 0, 1, 2, 3]))
        quad.active_texture_coordinates = _TCOORDS.copy()
        actor = p.add_mesh(quad, texture=pv.Texture(np.ascontiguousarray(rgb)),
                           name="image", lighting=False, opacity=0.92, render=False,
                           reset_camera=False)
        self._plane = actor.GetMapper().GetInput()
        if self._warming:
            self.request_render()
        else:
            # the first frame of the new scene in a later pass than this set-up, with the
            # event loop handling input in between (two zero timers: the first may fire in
            # the round of timers that called this, the second cannot); the marks and the
            # pointer attach in a pass of their own
            self._first_frame_pending = True
            QTimer.singleShot(0, lambda: QTimer.singleShot(0, self._first_frame))
            QTimer.singleShot(0, self._announce_ready)

    def _first_frame(self) -> None:
        self._first_frame_pending = False
        self.request_render()

    def _announce_ready(self) -> None:
        if not self._closed and self.plotter is not None and self._frustum is not None:
            self.scene_ready.emit()

    def set_truth_shown(self, on: bool) -> None:
        self._truth_shown = bool(on)
        if self.plotter is None:
            return
        actor = self.plotter.actors.get("truth")
        if actor is not None:
            actor.SetVisibility(bool(on))
            self.request_render()

    # ----------------------------------------------------------------- per step
    def show_record(self, record: StepRecord) -> None:
        """Move the frustum and the image plane to ``record``'s camera (in place)."""
        self.record = record
        if self._frustum is None or self._closed:
            return
        pts = frustum_points(record.geometry)
        self._write(self._frustum, pts)
        self._write(self._plane, pts[1:])
        self._show_shape(record)
        if not self._framed or not self._in_frame(pts):  # first step, or it moved away
            self._frame(record.geometry)
        self.request_render()

    def _show_shape(self, record: StepRecord) -> None:
        """The step's shape and points (reconstruction), else the template's, in place."""
        t = self.template
        if t is None or self._mesh is None:
            return
        key = None if record.vertices is None else id(record.vertices)
        if key == self._shape_key:  # (pose runs: the template throughout, never rewritten)
            return
        self._shape_key = key
        vertices = self.current_vertices()
        if len(vertices) == self._mesh.GetNumberOfPoints():
            self._write(self._mesh, vertices)
        points = self.current_points()
        if self._markers is not None and self._marker_offsets is not None and len(points):
            per = len(self._marker_offsets) // len(points)
            if per * len(points) == len(self._marker_offsets):
                self._write(self._markers, np.repeat(points, per, axis=0) +
                            self._marker_offsets)

    def current_vertices(self) -> np.ndarray:
        """(V, 3) the mesh as shown: the shown step's shape, else the template's."""
        record = self.record
        if record is not None and record.vertices is not None:
            return record.vertices
        return np.zeros((0, 3)) if self.template is None else self.template.vertices

    def current_points(self) -> np.ndarray:
        """(N, 3) the semantic points as shown (the shown step's, else the template's)."""
        record = self.record
        if record is not None and record.points is not None:
            return np.asarray(record.points, dtype=np.float64).reshape(-1, 3)
        if self.template is None:
            return np.zeros((0, 3))
        return np.asarray(self.template.points, dtype=np.float64).reshape(-1, 3)

    def drawn_vertices(self) -> np.ndarray:
        """(V, 3) the drawn mesh's points."""
        if self._mesh is None:
            return np.zeros((0, 3))
        return vtk_to_numpy(self._mesh.GetPoints().GetData()).astype(np.float64).copy()

    @staticmethod
    def _write(polydata, points: np.ndarray) -> None:
        vtk_points = polydata.GetPoints()
        vtk_to_numpy(vtk_points.GetData())[:] = points  # a view on the drawn points
        vtk_points.Modified()
        polydata.Modified()

    def _frame(self, geometry: CameraGeometry) -> None:
        """Look from beside the camera's viewing axis (and a little above) at the box
        holding the mesh and this frustum, padded so that nearby cameras stay in view."""
        target = np.asarray(geometry.camera["target"], dtype=np.float64)
        axis = geometry.center - target
        axis = axis / (np.linalg.norm(axis) or 1.0)
        up = np.array([0.0, 1.0, 0.0])
        side = np.cross(up, axis)
        if np.linalg.norm(side) < 1e-6:
            side = np.array([1.0, 0.0, 0.0])
        side /= np.linalg.norm(side)
        pts = np.vstack([self._mesh_box, frustum_points(geometry)])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = FRAME_PAD * (hi - lo).max()
        self._frame_box = (lo - pad, hi + pad)
        p = self.plotter
        p.view_vector(side + 0.6 * axis + 0.5 * up, viewup=up, render=False)
        p.reset_camera(render=False, bounds=np.ravel(np.column_stack(self._frame_box)).tolist())
        p.camera.zoom(1.3)
        self._framed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def view_state(self) -> tuple:
        """What :meth:`restore_view_state` needs to put the framing back (exports)."""
        return self._framed, self._frame_box

    def restore_view_state(self, state: tuple) -> None:
        self._framed, self._frame_box = state

    def _in_frame(self, points: np.ndarray) -> bool:
        if self._frame_box is None:
            return False
        lo, hi = self._frame_box
        return bool(((points >= lo) & (points <= hi)).all())

    # ----------------------------------------------------------------- queries
    def drawn_frustum(self) -> np.ndarray:
        """(5, 3) the drawn frustum: camera centre, then the image corners."""
        if self._frustum is None:
            return np.zeros((0, 3))
        return vtk_to_numpy(self._frustum.GetPoints().GetData()).astype(np.float64).copy()

    def drawn_plane(self) -> np.ndarray:
        """(4, 3) the drawn image plane's corners."""
        if self._plane is None:
            return np.zeros((0, 3))
        return vtk_to_numpy(self._plane.GetPoints().GetData()).astype(np.float64).copy()

    def display_position(self, xyz) -> tuple[float, float, float]:
        """Display coordinates (VTK: device pixels, origin bottom-left) and display depth
        (0 near .. 1 far) of a world point."""
        r = self.plotter.renderer
        r.SetWorldPoint(float(xyz[0]), float(xyz[1]), float(xyz[2]), 1.0)
        r.WorldToDisplay()
        x, y, z = r.GetDisplayPoint()
        return x, y, z

    def snapshot(self) -> QImage | None:
        """Render the view now and return it (device pixels); None when it is not shown."""
        if self.plotter is None or self._closed or not self.isVisible():
            return None
        self.plotter.renderer.ResetCameraClippingRange()
        return render_view_image(self.plotter)

    # --------------------------------------------------------------- rendering
    def request_render(self) -> None:
        """Draw the scene in the next paint pass (coalesced by Qt; none while hidden; a
        new scene's first frame waits for its own pass, see :meth:`set_scene`)."""
        if self.plotter is not None and not self._closed and not self._first_frame_pending:
            self.plotter.renderer.ResetCameraClippingRange()
            self.plotter.update()

    def render_now(self) -> None:
        """Render at once (tests, screenshots)."""
        if self.plotter is not None and not self._closed and self.isVisible():
            self.plotter.renderer.ResetCameraClippingRange()
            self.plotter.render()

    def _frame_started(self, *_args) -> None:
        self._frame_t0 = time.perf_counter()

    def _frame_ended(self, *_args) -> None:
        self.last_frame_ms = (time.perf_counter() - self._frame_t0) * 1000.0
        self.frames += 1
        self.rendered.emit()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self._ensure_plotter()

    def close(self) -> bool:
        if not self._closed:
            self._closed = True
            if self.plotter is not None:
                self.plotter.close()
        return super().close()
