"""The 3D view: one model and its keypoints in a pyvistaqt QtInteractor.

Draws only what :class:`core.model_scene.ModelScene` holds; keeps no project state.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget
from pyvistaqt import QtInteractor

from core.model_scene import ModelScene
from ui.palette import set_colors

BACKGROUND = "#1e2227"
MESH_COLOR = "#c9cdd3"
HOME_VIEW = (0.9, 0.55, 1.3)  # direction from the model to the camera


class MeshView(QWidget):
    """Shows a mesh with its keypoints as colored spheres (color = set number)."""

    scene_shown = Signal(str, str)  # category, model name, after the first render

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

    def show_scene(self, scene: ModelScene) -> None:
        """Replace the drawn model by ``scene`` and render once."""
        self.scene = scene
        p = self.plotter
        p.clear_actors()
        faces = np.hstack([np.full((scene.faces.shape[0], 1), 3, dtype=np.int64),
                           scene.faces]).ravel()
        mesh = pv.PolyData(scene.vertices, faces)
        p.add_mesh(mesh, color=MESH_COLOR, smooth_shading=True, split_sharp_edges=True,
                   name="mesh", specular=0.2)
        kp = scene.keypoints
        if len(kp):
            markers = pv.PolyData(kp.xyz).glyph(
                geom=pv.Sphere(radius=self._marker_radius, theta_resolution=10,
                               phi_resolution=10), scale=False, orient=False)
            colors = np.repeat(set_colors(kp.numbers), markers.n_points // len(kp), axis=0)
            markers.point_data["rgb"] = colors
            p.add_mesh(markers, scalars="rgb", rgb=True, name="keypoints", lighting=True)
        info = scene.info
        self.title.setText(f"{info.category} / {info.name}  —  {scene.faces.shape[0]:,} faces, "
                           f"{len(kp)} keypoints")
        self.reset_camera()
        p.render()
        self.scene_shown.emit(info.category, info.name)

    def reset_camera(self) -> None:
        """Front-left-above view with +Y up (the models' frame: +Z front, +X left)."""
        self.plotter.view_vector(HOME_VIEW, viewup=(0.0, 1.0, 0.0))
        self.plotter.reset_camera()
        self.plotter.camera.zoom(1.25)

    def close(self) -> bool:
        self.plotter.close()
        return super().close()
