"""The Guide: the annotator's template model with its numbered points, beside the work.

CPNet's process: while labelling a model the annotator keeps a reference (a *template*,
one of up to 6 per category, see :mod:`ui.template_actions`) in view. The panel shows the
current annotator's template of the shown model's category in a small 3D view:

- its points as spheres in the set colours, each with its set number as a label; the
  current set's point is drawn larger and outlined;
- its camera follows the main view's orientation (view direction and view-up only: it
  keeps framing its own model). The main camera's ModifiedEvent only (re)starts a
  single-shot QTimer; the guide renders when that fires and the orientation changed, at
  most ~30 times a second (less when a frame is slow), so it never stalls the GUI;
- the template mesh loads off the GUI thread ("Loading…" meanwhile); a missing or broken
  mesh is said in the panel.

It renders only when something it shows changed, and not at all while hidden.
"""

from __future__ import annotations

import time

import numpy as np
import pyvista as pv
from PySide6.QtCore import QSignalBlocker, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from pyvistaqt import QtInteractor

from core.model_scene import ModelScene, load_model_scene
from core.store import ModelInfo, ModelKeypoints
from ui.annotation_controller import AnnotationController
from ui.mesh_view import BACKGROUND, HOME_VIEW, MESH_COLOR, MeshView
from ui.palette import set_colors
from ui.template_actions import template_models
from ui.workers import start_kept

NO_TEMPLATE = "No template: Annotate > Use current model as template"
NO_ANNOTATOR = "No annotator: Annotate > Choose annotator to see your templates"
NO_MODEL = "Show a model to see its category's templates"
LOADING = "Loading…"
MIN_INTERVAL_MS = 33  # camera-link renders: at most ~30 per second
MAX_INTERVAL_MS = 250  # ...and at least 4 per second however slow a frame is
MARKER_SCALE = 0.018  # marker radius, times the template's bounding-box diagonal
HIGHLIGHT_SCALE = 1.9  # the current set's marker, times the normal radius


class GuidePanel(QWidget):
    """A template (reference model) with numbered points, camera linked to ``main_view``."""

    template_shown = Signal(int, str)  # slot, model name: drawn (after its first render)
    message_changed = Signal(str)  # what the panel says ("" when it shows a template)

    def __init__(self, annotation: AnnotationController, main_view: MeshView,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("guidePanel")
        self.annotation = annotation
        self.main_view = main_view
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        row = QHBoxLayout()
        row.addWidget(QLabel("Template:", self))
        self.combo = QComboBox(self)
        self.combo.setObjectName("guideTemplateCombo")
        self.combo.setToolTip("The annotator's templates of this category, by slot")
        row.addWidget(self.combo, 1)
        layout.addLayout(row)
        self.title = QLabel("", self)
        self.title.setObjectName("guideTitle")
        layout.addWidget(self.title)
        self.message = QLabel(NO_MODEL, self)
        self.message.setObjectName("guideMessage")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.plotter = QtInteractor(self, auto_update=False)
        self.plotter.set_background(BACKGROUND)
        self.plotter.interactor.setMinimumSize(220, 200)
        layout.addWidget(self.plotter.interactor, 1)

        self.category = ""  # the category whose templates are listed
        self.entries: list[tuple[int, ModelInfo]] = []  # (slot, model), by slot
        self.slot = 0  # the shown slot (0: none)
        self.scene: ModelScene | None = None  # the shown template
        self.keypoints: ModelKeypoints | None = None  # its drawn points (the annotator's)
        self.marker_radius = 0.0
        self.highlighted_set: int | None = None
        self._generation = 0  # bumped per request: late worker results are dropped
        self._workers: list = []
        self._closed = False
        self._dirty = False  # a render was skipped while hidden
        self._applied_view: tuple[np.ndarray, np.ndarray] | None = None
        self.interval_ms = MIN_INTERVAL_MS
        self._camera_timer = QTimer(self)
        self._camera_timer.setSingleShot(True)
        self._camera_timer.timeout.connect(self.sync_camera)
        self._camera = None
        self._observer: int | None = None
        self._watch_camera()

        self.combo.activated.connect(self._on_combo)
        annotation.annotator_changed.connect(lambda _n: self.refresh())
        annotation.current_set_changed.connect(lambda _n: self._update_highlight())
        annotation.keypoints_changed.connect(self._on_keypoints)
        annotation.project.selection.model_changed.connect(self._on_model_changed)
        annotation.project.project_opened.connect(lambda _t: self._on_project())
        main_view.scene_shown.connect(lambda *_: self._watch_camera())

    # ------------------------------------------------------------- requests
    def refresh(self, show_slot: int = 0) -> None:
        """Re-read the annotator's templates of the category (off the GUI thread) and
        show ``show_slot`` (0: keep the shown slot when it is still there, else the
        first)."""
        self._generation += 1
        gen = self._generation
        store, editor = self.annotation.store, self.annotation.editor
        category = self.annotation.project.selection.model[0]
        self.category = category
        if store is None or not category:
            self._clear(NO_MODEL)
            return
        if editor is None:
            self._clear(NO_ANNOTATOR)
            return
        wanted = show_slot or self.slot
        self._start(template_models, store, editor, category,
                    on_done=lambda entries: self._listed(gen, entries, wanted),
                    on_error=lambda exc: self._failed(gen, f"Cannot read templates: {exc}"))

    def on_templates_changed(self, category: str, slot: int) -> None:
        """A template slot of ``category`` changed (``slot``: the one to show, or 0)."""
        if category == self.category:
            self.refresh(show_slot=slot)

    def show_slot(self, slot: int) -> None:
        """Load and show template ``slot`` of the listed ones."""
        info = dict(self.entries).get(slot)
        if info is None:
            return
        self._generation += 1
        gen = self._generation
        self.slot = slot
        self._select_combo(slot)
        self._say(LOADING)
        store = self.annotation.store
        self._start(load_model_scene, store, info,
                    on_done=lambda scene: self._loaded(gen, slot, scene),
                    on_error=lambda exc: self._failed(
                        gen, f"Cannot load template {info.name} (slot {slot}): {exc}"))

    # --------------------------------------------------------------- results
    def _listed(self, gen: int, entries: list, wanted: int) -> None:
        if gen != self._generation or self._closed:
            return
        self.entries = list(entries)
        with QSignalBlocker(self.combo):
            self.combo.clear()
            for slot, info in self.entries:
                self.combo.addItem(f"Slot {slot}: {info.name}", slot)
        self.combo.setEnabled(bool(self.entries))
        if not self.entries:
            self._clear(NO_TEMPLATE)
            return
        slots = [s for s, _ in self.entries]
        self.show_slot(wanted if wanted in slots else slots[0])

    def _loaded(self, gen: int, slot: int, scene: ModelScene) -> None:
        if gen != self._generation or self._closed:
            return
        self.scene = scene
        self._draw(self.annotation.visible_keypoints(scene), frame=True)
        self._say("")
        self.template_shown.emit(slot, scene.info.name)

    def _failed(self, gen: int, message: str) -> None:
        if gen != self._generation or self._closed:
            return
        self._clear(message, keep_list=True)

    def _on_model_changed(self, category: str, _name: str) -> None:
        if category != self.category:
            self.refresh()

    def _on_project(self) -> None:
        self.category = ""
        self.refresh()

    def _on_combo(self, index: int) -> None:
        slot = self.combo.itemData(index)
        if slot and (slot != self.slot or self.scene is None):
            self.show_slot(int(slot))

    def _on_keypoints(self, kp: ModelKeypoints) -> None:
        """The annotator edited the shown model: redraw when it is the template."""
        shown = self.annotation.scene
        if self.scene is not None and shown is not None and \
                shown.info.id == self.scene.info.id:
            self._draw(kp, frame=False)

    # --------------------------------------------------------------- drawing
    def _draw(self, kp: ModelKeypoints, frame: bool) -> None:
        """Draw the template mesh (``frame``: also aim the camera) and ``kp``."""
        p, scene = self.plotter, self.scene
        for name in list(p.actors):
            p.remove_actor(name, render=False)
        faces = np.hstack([np.full((scene.faces.shape[0], 1), 3, dtype=np.int64),
                           scene.faces]).ravel()
        p.add_mesh(pv.PolyData(scene.vertices, faces), color=MESH_COLOR, smooth_shading=True,
                   split_sharp_edges=True, name="mesh", specular=0.2, render=False,
                   reset_camera=False)
        diag = float(np.linalg.norm(np.ptp(scene.vertices, axis=0))) or 1.0
        self.marker_radius = MARKER_SCALE * diag
        self.keypoints = kp
        centres = self.marker_centres()
        if len(kp):
            markers = pv.PolyData(centres.copy()).glyph(
                geom=pv.Sphere(radius=self.marker_radius, theta_resolution=12,
                               phi_resolution=12), scale=False, orient=False)
            markers.point_data["rgb"] = np.repeat(set_colors(kp.numbers),
                                                  markers.n_points // len(kp), axis=0)
            p.add_mesh(markers, scalars="rgb", rgb=True, name="markers", pickable=False,
                       render=False, reset_camera=False)
            for n, xyz, rgb in zip(kp.numbers, centres, set_colors(kp.numbers), strict=True):
                light = float(np.dot(rgb, (0.299, 0.587, 0.114))) > 140
                p.add_point_labels(
                    xyz[None, :], [str(int(n) + 1)], font_size=13, bold=True,
                    text_color="black" if light else "white", shape_color=rgb / 255.0,
                    shape="rounded_rect", margin=2, show_points=False, always_visible=True,
                    name=f"label{int(n)}", render=False, reset_camera=False,
                    justification_horizontal="left", justification_vertical="bottom")
        self.title.setText(f"Slot {self.slot}: {scene.info.category} / {scene.info.name}  —  "
                           f"{len(kp)} points")
        self._update_highlight(render=False)
        if frame:
            direction, up = self._main_orientation()
            p.view_vector(-direction, viewup=up, render=False)
            p.reset_camera(render=False)
            p.camera.zoom(1.15)
            self._applied_view = (direction, up)
        self._render()

    def _update_highlight(self, render: bool = True) -> None:
        """Draw the current set's point larger and outlined (nothing when it has none)."""
        p = self.plotter
        before = self.highlighted_set
        for name in ("highlight", "highlight-silhouette"):
            p.remove_actor(name, render=False)
        self.highlighted_set = None
        kp = self.keypoints
        number = self.annotation.current_set
        if self.scene is not None and kp is not None:
            rows = np.flatnonzero(np.asarray(kp.numbers) == number)
            if rows.size:
                xyz = self.marker_centres()[rows[0]]
                sphere = pv.Sphere(radius=self.marker_radius * HIGHLIGHT_SCALE, center=xyz,
                                   theta_resolution=20, phi_resolution=20)
                p.add_mesh(sphere, color=set_colors([number])[0], name="highlight",
                           pickable=False, render=False, reset_camera=False,
                           silhouette=dict(color="white", line_width=3.0))
                self.highlighted_set = int(number)
        if render and (before is not None or self.highlighted_set is not None):
            self._render()  # (nothing to redraw when neither set has a point here)

    def marker_centres(self) -> np.ndarray:
        """(K, 3) where the template's points are drawn."""
        kp = self.keypoints
        if kp is None:
            return np.zeros((0, 3))
        return np.asarray(kp.xyz, dtype=np.float64).reshape(-1, 3)

    def highlight_actor(self):
        """The current set's enlarged marker (None when there is none)."""
        return self.plotter.actors.get("highlight")

    def _clear(self, message: str, keep_list: bool = False) -> None:
        """Show ``message`` instead of a template."""
        self.scene, self.keypoints, self.highlighted_set = None, None, None
        if not keep_list:
            self.entries, self.slot = [], 0
            with QSignalBlocker(self.combo):
                self.combo.clear()
            self.combo.setEnabled(False)
        self.title.setText("")
        p = self.plotter
        if p.actors:
            for name in list(p.actors):
                p.remove_actor(name, render=False)
            self._render()
        self._say(message)

    def _say(self, message: str) -> None:
        self.message.setText(message)
        self.message.setVisible(bool(message))
        self.message_changed.emit(message)

    def _select_combo(self, slot: int) -> None:
        index = self.combo.findData(slot)
        if index >= 0:
            with QSignalBlocker(self.combo):
                self.combo.setCurrentIndex(index)

    # ---------------------------------------------------------- camera link
    def _watch_camera(self) -> None:
        """Observe the main view's (current) camera."""
        camera = self.main_view.plotter.renderer.GetActiveCamera()
        if camera is self._camera:
            return
        self._unwatch_camera()
        self._camera = camera
        self._observer = camera.AddObserver("ModifiedEvent", self._on_main_camera)

    def _unwatch_camera(self) -> None:
        if self._camera is not None and self._observer is not None:
            self._camera.RemoveObserver(self._observer)
        self._camera, self._observer = None, None

    def _on_main_camera(self, _obj=None, _event=None) -> None:
        if not self._camera_timer.isActive() and not self._closed:
            self._camera_timer.start(self.interval_ms)

    def _main_orientation(self) -> tuple[np.ndarray, np.ndarray]:
        """The main camera's unit view direction (camera -> focal point) and view-up."""
        cam = self.main_view.plotter.renderer.GetActiveCamera()
        direction = np.subtract(cam.GetFocalPoint(), cam.GetPosition())
        norm = np.linalg.norm(direction)
        if norm < 1e-12:
            direction, norm = -np.asarray(HOME_VIEW), np.linalg.norm(HOME_VIEW)
        up = np.asarray(cam.GetViewUp(), dtype=np.float64)
        return direction / norm, up / (np.linalg.norm(up) or 1.0)

    def sync_camera(self) -> bool:
        """Turn the guide's camera to the main view's orientation around its own focal
        point (same distance); render when it changed. Returns True when it rendered."""
        if self._closed or self.scene is None:
            return False
        direction, up = self._main_orientation()
        if self._applied_view is not None:
            d0, u0 = self._applied_view
            if np.dot(d0, direction) > 1 - 1e-9 and np.dot(u0, up) > 1 - 1e-9:
                return False  # the main camera zoomed, panned or re-rendered: nothing to do
        cam = self.plotter.camera
        focal = np.asarray(cam.GetFocalPoint())
        cam.SetPosition(*(focal - direction * cam.GetDistance()))
        cam.SetViewUp(*up)
        cam.OrthogonalizeViewUp()
        self.plotter.renderer.ResetCameraClippingRange()
        self._applied_view = (direction, up)
        return self._render()

    def guide_direction(self) -> np.ndarray:
        """The guide camera's unit view direction."""
        cam = self.plotter.camera
        d = np.subtract(cam.GetFocalPoint(), cam.GetPosition())
        return d / np.linalg.norm(d)

    # ------------------------------------------------------------- rendering
    def _render(self) -> bool:
        """Render now when visible (remember it for later otherwise); adapt the
        camera-link interval to the frame time."""
        if not self.isVisible():
            self._dirty = True
            return False
        self._dirty = False
        start = time.perf_counter()
        self.plotter.render()
        ms = (time.perf_counter() - start) * 1000.0
        self.interval_ms = int(min(MAX_INTERVAL_MS, max(MIN_INTERVAL_MS, 2.0 * ms)))
        return True

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._dirty or self.scene is not None:
            QTimer.singleShot(0, self._catch_up)

    def _catch_up(self) -> None:
        if self._closed or not self.isVisible():
            return
        if not self.sync_camera() and self._dirty:
            self._render()

    # ---------------------------------------------------------------- helpers
    def _start(self, fn, *args, on_done, on_error) -> None:
        start_kept(self._workers, fn, *args, on_done=on_done, on_error=on_error)

    def close(self) -> bool:
        """Stop following the main camera and release the 3D view (window close)."""
        if not self._closed:
            self._closed = True
            self._camera_timer.stop()
            self._unwatch_camera()
            self.plotter.close()
        return super().close()


__all__ = ["GuidePanel", "NO_TEMPLATE", "LOADING"]
