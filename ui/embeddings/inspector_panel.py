"""The Inspector tab of the Embeddings dock: pick a point on model A, see where the
embedding says it is on model B and on a grid of the category's other models.

Each target model is coloured by its similarity to the picked point (1 = the best match,
the suggestion heatmap's colours) with a marker at the best match. The embedding is the
checkpoint chosen here (the last one trained in the Training tab, or a file), or the
positions fallback (xyz) without one. Meshes, samples and embeddings load off the GUI
thread and are kept for the next pick.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyvista as pv
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.annotation.model_surface import ModelSurface, load_model_surface
from core.embedding.inspect import SimilarityMap, similarity_maps
from ui.embeddings.canvas import Canvas3D, triangle_mesh
from ui.mesh_view import MESH_COLOR, heatmap_lut
from ui.workers import run_in_thread

GRID_SHAPE = (2, 3)  # target subplots: model B first, then the grid
PICK_COLOR = "#ff006e"
MATCH_COLOR = "#4cc9f0"
N_POINTS = 2048


@dataclass
class _Models:
    """What the worker threads load and keep (one job runs at a time)."""

    category: str
    checkpoint: str | None
    embedder: object | None = None
    surfaces: dict[str, ModelSurface] | None = None
    embeddings: dict[int, np.ndarray] | None = None


@dataclass(frozen=True)
class InspectResult:
    """One pick's answer: the picked point and the similarity maps of the targets."""

    source: str
    xyz: np.ndarray
    maps: tuple[SimilarityMap, ...]
    surfaces: tuple[ModelSurface, ...]
    method: str


class InspectorPanel(QWidget):
    """See the module docstring. ``project`` is the ProjectController."""

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("embeddingInspectorPanel")
        self.project = project
        self.category = ""
        self.checkpoint: str | None = None
        self.model_names: list[str] = []
        self.source: ModelSurface | None = None
        self.result: InspectResult | None = None
        self._models: _Models | None = None
        self._busy = False
        self._queued: tuple[str, np.ndarray] | None = None
        self._pending_source: str | None = None
        self._build()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.checkpoint_label = QLabel("Embedding: positions (xyz), no checkpoint")
        self.checkpoint_label.setObjectName("inspectorCheckpoint")
        load = QPushButton("Load checkpoint…")
        load.clicked.connect(self._choose_checkpoint)
        plain = QPushButton("Use positions")
        plain.clicked.connect(lambda: self.set_checkpoint(None))
        row.addWidget(self.checkpoint_label, 1)
        row.addWidget(load)
        row.addWidget(plain)
        layout.addLayout(row)
        pick = QGridLayout()
        self.model_a = QComboBox()
        self.model_a.setObjectName("inspectorModelA")
        self.model_b = QComboBox()
        self.model_b.setObjectName("inspectorModelB")
        pick.addWidget(QLabel("Model A (click a point)"), 0, 0)
        pick.addWidget(self.model_a, 0, 1)
        pick.addWidget(QLabel("Model B"), 0, 2)
        pick.addWidget(self.model_b, 0, 3)
        layout.addLayout(pick)
        self.status = QLabel("Show a model to inspect its category")
        self.status.setObjectName("inspectorStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        split = QSplitter()
        self.source_canvas = Canvas3D("inspectorSource")
        self.target_canvas = Canvas3D("inspectorTargets", shape=GRID_SHAPE)
        split.addWidget(self.source_canvas)
        split.addWidget(self.target_canvas)
        split.setSizes([300, 600])
        layout.addWidget(split, 1)
        self.model_a.currentTextChanged.connect(self.show_source)
        self.model_b.currentTextChanged.connect(self._repick)
        self.source_canvas.picked.connect(lambda _face, xyz: self.pick(xyz))
        self.source_canvas.ready.connect(lambda: self.show_source(self.model_a.currentText()))

    # ------------------------------------------------------------------ state
    def set_category(self, category: str) -> None:
        """Inspect ``category`` (the shown model's); lists its models off the GUI thread."""
        store = getattr(self.project, "store", None)
        if not category or store is None or category == self.category:
            return
        self.category = category
        self._models = None
        self.result = None

        def listed(infos) -> None:
            if category != self.category:
                return
            self.model_names = [i.name for i in infos]
            for combo, index in ((self.model_a, 0), (self.model_b, 1)):
                combo.blockSignals(True)
                combo.clear()
                combo.addItems(self.model_names)
                combo.setCurrentIndex(min(index, len(self.model_names) - 1))
                combo.blockSignals(False)
            self.show_source(self.model_a.currentText())

        run_in_thread(store.models, category, on_done=listed,
                      on_error=lambda exc: self.say(f"Cannot list {category}: {exc}"))

    def set_checkpoint(self, path: str | None) -> None:
        """Use the embedding checkpoint ``path`` (None: positions)."""
        self.checkpoint = str(path) if path else None
        self._models = None  # embeddings change with the checkpoint
        name = Path(path).name if path else "positions (xyz), no checkpoint"
        self.checkpoint_label.setText(f"Embedding: {name}")
        self._repick()

    def _choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Embedding checkpoint", "",
                                              "Embedding checkpoints (*.safetensors)")
        if path:
            self.set_checkpoint(path)

    def say(self, text: str) -> None:
        self.status.setText(text)

    # ---------------------------------------------------------------- workers
    def _session(self) -> _Models:
        if self._models is None or self._models.category != self.category or \
                self._models.checkpoint != self.checkpoint:
            self._models = _Models(self.category, self.checkpoint, None, {}, {})
        return self._models

    def _surface(self, models: _Models, name: str) -> ModelSurface:
        """Load (worker thread) and keep a model's surface."""
        assert models.surfaces is not None
        if name not in models.surfaces:
            info = next(i for i in self.project.store.models(models.category) if i.name == name)
            models.surfaces[name] = load_model_surface(self.project.store, info, N_POINTS)
        return models.surfaces[name]

    def show_source(self, name: str) -> None:
        """Draw model A (its surface loads off the GUI thread)."""
        if name:
            self._pending_source = name
            self._run_queued()

    def _draw_source(self, surface: ModelSurface) -> None:
        self._busy = False
        self.source = surface
        p = self.source_canvas.plotter
        if p is None:
            return
        p.clear_actors()
        mesh = triangle_mesh(surface.vertices, surface.faces)
        actor = p.add_mesh(mesh, color=MESH_COLOR, smooth_shading=True, name="source",
                           render=False)
        self.source_canvas.set_pick_target(actor, mesh)
        p.add_text(surface.name, font_size=9, name="title")
        _home(p)
        p.render()
        self.say(f"Click a point on {surface.name}")
        self._run_queued()

    def pick(self, xyz) -> None:
        """Inspect the point ``xyz`` (3,) of model A: similarity maps on B and the grid."""
        if self.source is None:
            return
        self._queued = (self.source.name, np.asarray(xyz, dtype=np.float64))
        self._run_queued()

    def _repick(self, *_args) -> None:
        if self.result is not None:
            self._queued = (self.result.source, self.result.xyz)
            self._run_queued()

    def _targets(self) -> list[str]:
        a, b = self.model_a.currentText(), self.model_b.currentText()
        others = [n for n in self.model_names if n not in (a, b)]
        return [b, *others][:GRID_SHAPE[0] * GRID_SHAPE[1]]

    def _run_queued(self) -> None:
        """Start the next job: a model A to load first, then the latest pick."""
        if self._busy:
            return
        name = self._pending_source
        if name and self.source_canvas.plotter is not None:
            self._pending_source = None
            self._busy = True
            self.say(f"Loading {name}…")
            run_in_thread(self._surface, self._session(), name, on_done=self._draw_source,
                          on_error=self._failed)
            return
        if self._queued is None:
            return
        (source, xyz), self._queued = self._queued, None
        models, targets = self._session(), self._targets()
        self._busy = True
        self.say(f"Comparing {len(targets)} models…")
        self._draw_pick(xyz)
        run_in_thread(self._compute, models, source, xyz, targets, on_done=self._show_result,
                      on_error=self._failed)

    def _compute(self, models: _Models, source: str, xyz: np.ndarray,
                 targets: list[str]) -> InspectResult:
        """Worker thread: surfaces, embeddings, similarity maps."""
        from core.annotation.embedders import make_embedder

        if models.embedder is None:
            models.embedder = make_embedder(models.checkpoint)
        src = self._surface(models, source)
        surfaces = [self._surface(models, n) for n in targets]
        maps = similarity_maps(models.embedder, src, xyz, surfaces, models.embeddings)
        return InspectResult(source, xyz, tuple(maps), tuple(surfaces),
                             str(getattr(models.embedder, "name", "xyz")))

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
        self._models = None
        self.say(f"Inspector: {exc}")

    # ----------------------------------------------------------------- drawing
    def _draw_pick(self, xyz: np.ndarray) -> None:
        p = self.source_canvas.plotter
        if p is None or self.source is None:
            return
        radius = 0.015 * self.source.diagonal
        p.add_mesh(pv.Sphere(radius=radius, center=xyz), color=PICK_COLOR, name="pick",
                   render=False)
        p.render()

    def _show_result(self, result: InspectResult) -> None:
        self._busy = False
        self.result = result
        p = self.target_canvas.plotter
        if p is not None:
            lut = heatmap_lut()
            rows, cols = GRID_SHAPE
            for k in range(rows * cols):
                p.subplot(k // cols, k % cols)
                p.renderer.clear_actors()  # this subplot only (Plotter.clear_actors: all)
                if k >= len(result.maps):
                    continue
                m, surface = result.maps[k], result.surfaces[k]
                mesh = triangle_mesh(surface.vertices, surface.faces)
                mesh["similarity"] = m.vertex_similarity
                p.add_mesh(mesh, scalars="similarity", cmap=lut, clim=(0.0, 1.0),
                           show_scalar_bar=False, smooth_shading=True, name="target",
                           render=False)
                p.add_mesh(pv.Sphere(radius=0.015 * surface.diagonal, center=m.best_xyz),
                           color=MATCH_COLOR, name="match", render=False)
                label = "B: " if k == 0 else ""
                p.add_text(f"{label}{m.name}", font_size=8, name="title")
                _home(p)
            p.render()
        self.say(f"{result.method}: best match on {result.maps[0].name} at distance "
                 f"{result.maps[0].distance:.3g}" if result.maps else "No target models")
        self._run_queued()

    def shutdown(self) -> None:
        self.source_canvas.close()
        self.target_canvas.close()


def _home(plotter) -> None:
    plotter.view_vector((0.9, 0.55, 1.3), viewup=(0.0, 1.0, 0.0), render=False)
    plotter.reset_camera(render=False)
