"""The 3D view: one model and its keypoints in a pyvistaqt QtInteractor.

Draws only what :class:`core.model_scene.ModelScene` holds; keeps no project state.
A left click on the surface emits ``surface_clicked``; pressing on a marker drags it
(:mod:`ui.marker_drag`): ``marker_moved`` on release, ``marker_clicked`` without motion.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget
from pyvistaqt import QtInteractor
from vtkmodules.util.numpy_support import vtk_to_numpy

from core.model_scene import ModelScene
from core.store import ModelKeypoints
from ui.click_tracker import ClickTracker
from ui.marker_drag import MarkerDrag
from ui.palette import set_colors
from ui.surface_picker import SurfacePicker

BACKGROUND = "#1e2227"
MESH_COLOR = "#c9cdd3"
# similarity heatmaps: 0 = the plain mesh colour, rising through orange to yellow at 1
HEATMAP_STOPS = ((0.0, "#c9cdd3"), (0.35, "#d3b8a6"), (0.7, "#e8590c"), (1.0, "#ffe066"))
HOME_VIEW = (0.9, 0.55, 1.3)  # direction from the model to the camera


class MeshView(QWidget):
    """Shows a mesh with its keypoints as colored spheres (color = set number)."""

    scene_shown = Signal(str, str)  # category, model name, after the first render
    surface_clicked = Signal(int, object)  # face index, (3,) picked position
    marker_moved = Signal(int, int, object)  # keypoint id, face index, (3,) picked position
    marker_clicked = Signal(int, int)  # keypoint id, set number

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("meshView")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("No model selected", self)
        self.title.setObjectName("meshViewTitle")
        layout.addWidget(self.title)
        self.plotter = QtInteractor(self, auto_update=False)
        self.plotter.set_background(BACKGROUND)
        layout.addWidget(self.plotter.interactor, 1)
        self.scene: ModelScene | None = None
        self._marker_radius = 0.008
        self.picker = SurfacePicker(self.plotter.renderer)
        self._surface: pv.PolyData | None = None  # the drawn mesh (the mesh actor's input)
        self.keypoints: ModelKeypoints | None = None  # the drawn markers
        self._markers = None  # the vtkPolyData of their glyphs, as the actor draws it
        self._centres = np.zeros((0, 3))  # where each marker is drawn now
        self.clicks = ClickTracker()
        self.drag = MarkerDrag(self)
        self.drag.moved.connect(self.marker_moved)
        self.drag.clicked.connect(self.marker_clicked)
        self.plotter.interactor.installEventFilter(self)  # clicks vs. drags, at the Qt level

    def show_scene(self, scene: ModelScene, keypoints=None) -> None:
        """Replace the drawn model by ``scene`` (with ``keypoints``, default the scene's
        own) and render once."""
        self.scene = scene
        self.drag.abort()
        p = self.plotter
        for name in list(p.actors):  # clear without a render per removed actor
            p.remove_actor(name, render=False)
        faces = np.hstack([np.full((scene.faces.shape[0], 1), 3, dtype=np.int64),
                           scene.faces]).ravel()
        mesh = pv.PolyData(scene.vertices, faces)
        self._surface = mesh
        actor = p.add_mesh(mesh, color=MESH_COLOR, smooth_shading=True, split_sharp_edges=True,
                           name="mesh", specular=0.2, render=False)
        # smooth shading draws a copy with split vertices; its cells keep the face order
        self.picker.set_target(actor, actor.GetMapper().GetInput())
        self.show_keypoints(scene.keypoints if keypoints is None else keypoints, render=False)
        self.reset_camera()
        p.render()
        self.scene_shown.emit(scene.info.category, scene.info.name)

    def show_keypoints(self, kp, render: bool = True) -> None:
        """Redraw only the keypoint markers (colour = set number)."""
        p = self.plotter
        self.drag.abort()
        p.remove_actor("keypoints", render=False)
        self.keypoints, self._markers = kp, None
        self._centres = np.array(kp.xyz, dtype=np.float64).reshape(-1, 3)
        if len(kp):
            markers = pv.PolyData(self._centres.copy()).glyph(
                geom=pv.Sphere(radius=self._marker_radius, theta_resolution=10,
                               phi_resolution=10), scale=False, orient=False)
            colors = np.repeat(set_colors(kp.numbers), markers.n_points // len(kp), axis=0)
            markers.point_data["rgb"] = colors
            actor = p.add_mesh(markers, scalars="rgb", rgb=True, name="keypoints",
                               lighting=True, pickable=False, render=False,
                               reset_camera=False)
            self._markers = actor.GetMapper().GetInput()  # not a copy: edits are drawn
        if self.scene is not None:
            info = self.scene.info
            self.title.setText(f"{info.category} / {info.name}  —  "
                               f"{self.scene.faces.shape[0]:,} faces, {len(kp)} keypoints")
        if render:
            p.render()

    def show_heatmap(self, values=None, render: bool = True) -> None:
        """Colour the mesh by per-vertex values in [0, 1] (``HEATMAP_STOPS``); None: back
        to the plain mesh colour. ``values`` has one entry per scene vertex."""
        actor = self.plotter.actors.get("mesh")
        if actor is None or self._surface is None:
            return
        mapper = actor.GetMapper()
        if values is None:
            if "heatmap" not in self._surface.point_data:
                return
            self._surface.point_data.remove("heatmap")
            mapper.ScalarVisibilityOff()
        else:
            values = np.asarray(values, dtype=np.float32).reshape(-1)
            if values.shape[0] != self._surface.n_points:
                raise ValueError(f"heatmap has {values.shape[0]} values for "
                                 f"{self._surface.n_points} vertices")
            self._surface.point_data["heatmap"] = values
            mapper.SetScalarModeToUsePointFieldData()
            mapper.SelectColorArray("heatmap")
            mapper.SetScalarRange(0.0, 1.0)
            mapper.SetLookupTable(heatmap_lut())
            mapper.ScalarVisibilityOn()
        self._surface.Modified()
        mapper.Update()  # smooth shading's split copy takes the array now (picking uses it)
        if render:
            self.plotter.render()

    def heatmap(self) -> np.ndarray | None:
        """(V,) the per-vertex values drawn now (None when the mesh has its plain colour)."""
        if self._surface is None or "heatmap" not in self._surface.point_data:
            return None
        return np.asarray(self._surface.point_data["heatmap"])

    @property
    def marker_radius(self) -> float:
        return self._marker_radius

    def marker_centres(self) -> np.ndarray:
        """(K, 3) where each marker of :attr:`keypoints` is drawn now."""
        return self._centres

    def move_marker(self, index: int, xyz, render: bool = True) -> None:
        """Draw marker ``index`` at ``xyz`` (the drawing only: nothing is stored)."""
        if self._markers is None:
            return
        xyz = np.asarray(xyz, dtype=np.float64)
        vtk_points = self._markers.GetPoints()
        points = vtk_to_numpy(vtk_points.GetData())  # a view on the drawn points
        n = points.shape[0] // len(self._centres)  # glyph points per marker, in order
        points[index * n:(index + 1) * n] += (xyz - self._centres[index]).astype(points.dtype)
        vtk_points.Modified()
        self._centres[index] = xyz
        if render:
            self.plotter.render()

    def display_position(self, xyz) -> tuple[float, float]:
        """Display coordinates (VTK, origin bottom-left) of a world point."""
        r = self.plotter.renderer
        r.SetWorldPoint(float(xyz[0]), float(xyz[1]), float(xyz[2]), 1.0)
        r.WorldToDisplay()
        x, y, _ = r.GetDisplayPoint()
        return x, y

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if self.drag.handle(event):  # a marker is grabbed: VTK must not rotate
            self.clicks.reset()
            return True
        click = self.clicks.handle(event)
        if click is not None:
            self._click(*click)  # a click, not a drag (camera rotation)
        return False

    def _click(self, x: float, y: float) -> None:
        """Pick at widget coordinates (logical pixels, origin top-left)."""
        widget = self.plotter.interactor
        ratio = widget.devicePixelRatioF()
        hit = self.picker.pick(x * ratio, (widget.height() - y) * ratio)
        if hit is not None:
            self.surface_clicked.emit(hit[0], hit[1])

    def reset_camera(self) -> None:
        """Front-left-above view with +Y up (the models' frame: +Z front, +X left)."""
        self.plotter.view_vector(HOME_VIEW, viewup=(0.0, 1.0, 0.0), render=False)
        self.plotter.reset_camera(render=False)
        self.plotter.camera.zoom(1.1)

    def close(self) -> bool:
        self.plotter.close()
        return super().close()


def heatmap_lut() -> pv.LookupTable:
    """256 colours interpolated between ``HEATMAP_STOPS``, for values in [0, 1]."""
    t = np.linspace(0.0, 1.0, 256)
    at = [v for v, _ in HEATMAP_STOPS]
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for _, c in HEATMAP_STOPS],
                   dtype=np.float64)
    table = np.column_stack([np.interp(t, at, rgb[:, k]) for k in range(3)]
                            + [np.full(256, 255.0)])
    lut = pv.LookupTable()
    lut.values = np.round(table).astype(np.uint8)
    lut.scalar_range = (0.0, 1.0)
    return lut
