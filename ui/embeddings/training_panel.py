"""The Training tab of the Embeddings dock: train a category's point embedding and watch it.

Controls (backbone, epochs, samples per model) and Run / Pause / Step / Stop; while it
trains, the loss and validation mGE curves grow (:mod:`ui.embeddings.training_plots`) and,
after every epoch, the preview model's points take the colours of their embeddings' first
three principal components (:func:`core.embedding.inspect.pca_rgb`): parts that the network
tells apart get different colours, the same part on every model the same colour.
Checkpoints go to the category's artifacts folder (``<project>.d/<category>/embeddings/``);
"Use for suggestions" makes the best one the category's suggestion checkpoint.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyvista as pv
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.embedding.inspect import pca_rgb
from core.embedding.trainer import EpochEvent, TrainConfig
from core.paths import artifacts_dir
from ui.embeddings.canvas import Canvas3D
from ui.embeddings.training_plots import TrainingPlots
from ui.embeddings.training_worker import EmbeddingTrainingWorker, TrainingOutcome

BACKBONES = ("pointnet", "dgcnn")


class TrainingPanel(QWidget):
    """See the module docstring. ``project`` is the ProjectController (``store``, ``target``)."""

    checkpoint_ready = Signal(str, str)  # category, path of the best checkpoint
    use_requested = Signal(str, str)  # category, checkpoint to use for suggestions

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("embeddingTrainingPanel")
        self.project = project
        self.category = ""
        self.worker = EmbeddingTrainingWorker(self)
        self.preview_basis: np.ndarray | None = None
        self.preview_colors: np.ndarray | None = None  # (N, 3) float in [0, 1]
        self.epochs_seen = 0
        self.last_outcome: TrainingOutcome | None = None
        self._build()
        self.worker.preparing.connect(self._on_preparing)
        self.worker.steps_ready.connect(self.plots.add_steps)
        self.worker.epoch_ready.connect(self._on_epoch)
        self.worker.state_changed.connect(self._on_state)
        self.worker.finished.connect(self._on_finished)
        self._on_state("idle")

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.category_label = QLabel("(show a model to pick its category)")
        form.addRow("Category", self.category_label)
        self.backbone = QComboBox()
        self.backbone.addItems(BACKBONES)
        self.backbone.setObjectName("embeddingBackbone")
        form.addRow("Backbone", self.backbone)
        self.epochs = self._spin("embeddingEpochs", 1, 1000, 20)
        form.addRow("Epochs", self.epochs)
        self.points = self._spin("embeddingPoints", 128, 8192, 1024)
        self.points.setSingleStep(128)
        form.addRow("Samples per model", self.points)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Train")
        self.run_button.setToolTip("Train an embedding on this category's correspondence sets")
        self.pause_button = QPushButton("Pause")
        self.step_button = QPushButton("Step")
        self.stop_button = QPushButton("Stop")
        self.use_button = QPushButton("Use for suggestions")
        self.use_button.setToolTip("Make the best checkpoint the category's suggestion "
                                   "checkpoint")
        for b in (self.run_button, self.pause_button, self.step_button, self.stop_button,
                  self.use_button):
            buttons.addWidget(b)
        self.run_button.clicked.connect(self.run)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.step_button.clicked.connect(self.worker.step)
        self.stop_button.clicked.connect(self.worker.stop)
        self.use_button.clicked.connect(self._use_checkpoint)
        layout.addLayout(buttons)
        self.status = QLabel("")
        self.status.setObjectName("embeddingTrainingStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        split = QSplitter()
        self.plots = TrainingPlots()
        self.preview = Canvas3D("embeddingPreview")
        self.preview_title = QLabel("Embedding colours appear after the first epoch")
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.preview_title)
        rl.addWidget(self.preview, 1)
        split.addWidget(self.plots)
        split.addWidget(right)
        layout.addWidget(split, 1)

    def _spin(self, name: str, lo: int, hi: int, value: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(lo, hi)
        spin.setValue(value)
        return spin

    # ------------------------------------------------------------------ actions
    def set_category(self, category: str) -> None:
        if self.worker.is_running():
            return  # the running category stays shown
        if (category or "") != self.category:
            self.last_outcome = None  # its checkpoint belongs to the previous category
        self.category = category or ""
        self.category_label.setText(self.category or "(show a model to pick its category)")
        self._on_state("idle")

    def out_dir(self) -> Path:
        """Where this run's checkpoints go (a new folder per run)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return artifacts_dir(self.project.target, self.category) / "embeddings" / stamp

    def run(self) -> bool:
        """Start training the shown category; False (with a message) when it cannot."""
        store = getattr(self.project, "store", None)
        if store is None or not self.category:
            self.say("Open a project and show a model first: training uses its category")
            return False
        if self.worker.is_running():
            return False
        category, n_points = self.category, int(self.points.value())
        config = TrainConfig(backbone=self.backbone.currentText(),
                             epochs=int(self.epochs.value()))

        def load(progress):
            from core.embedding.dataset import load_category_data

            return load_category_data(store, category, n_points=n_points, progress=progress)

        self.plots.clear()
        self.preview_basis, self.preview_colors, self.epochs_seen = None, None, 0
        self.worker.start(load, config, self.out_dir())
        self.say(f"Preparing {category}…")
        return True

    def toggle_pause(self) -> None:
        if self.worker.is_paused():
            self.worker.resume()
        else:
            self.worker.pause()

    def say(self, text: str) -> None:
        self.status.setText(text)

    # ---------------------------------------------------------------- signals
    def _on_preparing(self, note: str) -> None:
        self.say(note or f"Training {self.category}…")

    def _on_epoch(self, event: EpochEvent) -> None:
        self.plots.add_epoch(event)
        self.epochs_seen += 1
        colors = pca_rgb(event.preview_embedding, self.preview_basis)
        self.preview_basis, self.preview_colors = colors.basis, colors.rgb
        self.preview_title.setText(
            f"{event.preview_name}: embedding PCA as RGB after epoch {event.epoch + 1}/"
            f"{event.epochs} (val mGE {event.val_mge:.4f})")
        self.say(f"Epoch {event.epoch + 1}/{event.epochs}: train loss {event.train_loss:.4f}, "
                 f"validation mGE {event.val_mge:.4f} ({event.seconds:.1f} s)")
        self._draw_preview(event.preview_points, colors.rgb)

    def _draw_preview(self, points: np.ndarray, rgb: np.ndarray) -> None:
        p = self.preview.plotter
        if p is None:
            return
        first = "preview" not in p.actors
        cloud = pv.PolyData(np.asarray(points, dtype=np.float64))
        cloud["rgb"] = np.round(rgb * 255).astype(np.uint8)
        p.add_mesh(cloud, scalars="rgb", rgb=True, point_size=6,
                   render_points_as_spheres=True, name="preview", reset_camera=first,
                   render=False)
        if first:
            p.view_vector((0.9, 0.55, 1.3), viewup=(0.0, 1.0, 0.0), render=False)
            p.reset_camera(render=False)
        p.render()

    def _on_state(self, state: str) -> None:
        running = state != "idle"
        self.run_button.setEnabled(not running and bool(self.category))
        self.pause_button.setEnabled(running and state != "stopping")
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.step_button.setEnabled(running and state != "stopping")
        self.stop_button.setEnabled(running and state != "stopping")
        best = self.last_outcome.best_checkpoint if self.last_outcome else None
        self.use_button.setEnabled(not running and best is not None)

    def _on_finished(self, outcome: TrainingOutcome) -> None:
        self.last_outcome = outcome
        self.say(outcome.message + (f"; best checkpoint {outcome.best_checkpoint}"
                                    if outcome.best_checkpoint else ""))
        self._on_state("idle")
        if outcome.best_checkpoint is not None:
            self.checkpoint_ready.emit(self.category, str(outcome.best_checkpoint))

    def _use_checkpoint(self) -> None:
        outcome = self.last_outcome
        if outcome is None or outcome.best_checkpoint is None:
            return
        self.use_requested.emit(self.category, str(outcome.best_checkpoint))
        self.say(f"Suggestions for {self.category} now use {outcome.best_checkpoint.name}")

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        ended = self.worker.shutdown(timeout_ms)
        self.preview.close()
        return ended
