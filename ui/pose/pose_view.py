"""The Pose panel: pick an image, run the pose engine live, watch and replay it.

Controls: the source (a synthetic demo view of the current category, a project image of
it, or the image view's file), the objective (auto / fast / soft), hypotheses and steps,
and Run / Pause / Step / Stop (actions, also in the main window's Run menu). Views: the
image with its overlays (:mod:`ui.pose.overlay_2d`, toggles below it), the 3D scene
(:mod:`ui.pose.scene_3d`), the loss / IoU plot (:mod:`ui.pose.loss_plot`) and the timeline
(:mod:`ui.pose.timeline`); a status line says what happens, how a run ended, and why it
could not start (no project, missing image file: the image view then shows a placeholder).

The category is the shown model's (else the project's first). The template and the source
image load in the run's worker thread (:class:`~ui.pose.run_worker.PoseRunWorker`), before
the pose engine runs there.

Linked views (:mod:`ui.pose.linking`): hovering or clicking a semantic point in either view
marks it in both; a click on the mesh in 3D marks its projection in the image; a click in the
image casts the pixel's ray onto the posed mesh (the shown step's camera) and selects the 3D
point it hits. The line under the views says what is hovered or picked (also in the window's
status bar).

Exports (:mod:`ui.pose.export`): *Export figure…* (Ctrl+Shift+E) writes one PNG of both views
and a caption; *Export run…* (Ctrl+Alt+E) writes every kept step as a numbered PNG (and a
GIF) in a folder, a step per event-loop pass behind a cancellable progress dialog, drawing
the steps offscreen (the screen keeps the shown step) and then returning to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QImage, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.pose.category_template import CategoryTemplate, load_category_template
from core.pose.pipeline import OBJECTIVES
from ui.actions import new_action
from ui.image_view import ImageView
from ui.pose.export import RunExport
from ui.pose.export_actions import PoseExports
from ui.pose.link_marks import ImageMarks, SceneMarks
from ui.pose.link_state import LinkState
from ui.pose.linking import PoseLinker
from ui.pose.loss_plot import LossPlot
from ui.pose.overlay_2d import LAYER_LABELS, LAYERS, PoseOverlay2D
from ui.pose.recon_prepare import prepare_reconstruction
from ui.pose.records import StepRecord
from ui.pose.run_control import RunLog
from ui.pose.run_library import RunLibrary
from ui.pose.run_worker import PoseRunWorker, PrepareContext, Prepared, RunOutcome
from ui.pose.scene_3d import PoseScene3D
from ui.pose.scene_pick import ScenePointer
from ui.pose.sources import PoseSource, file_source, project_image_source, synthetic_source
from ui.pose.timeline import Timeline
from ui.workers import start_kept

SYNTHETIC = "synthetic"
POSE, SEARCH, TTP, RECONSTRUCTION = "pose", "search", "ttp", "reconstruction"
RUN_KINDS = (("Pose refinement", POSE), ("Viewpoint search", SEARCH), ("TTP solve", TTP),
             ("Reconstruction", RECONSTRUCTION))
TEMPLATE_KINDS = (POSE, SEARCH)  # runs on the category's template (the others: shape space)
RUN_KIND_TIPS = {
    POSE: "The camera of the category's template: viewpoint search, then refinement",
    SEARCH: "The viewpoint search alone: the template's silhouette against the mask over a "
            "sphere of viewpoints (no refinement)",
    TTP: "Shape and camera in closed form from 2D points (To The Point): the image "
         "networks' points, else the points clicked on a project image, else a synthetic "
         "view's true points; no refinement",
    RECONSTRUCTION: "The shape (shape space) and the camera: viewpoints, TTP, refinement"}
NO_PROJECT = "Open a project and show a model: runs pose its category's template"
IDLE, PREPARING, RUNNING, PAUSED, STOPPING = "idle", "preparing", "running", "paused", \
    "stopping"


def source_key(kind: str, arg=None) -> str:
    """The source combo's item data: ``"synthetic"``, ``"image:<id>"``, ``"file:<path>"``."""
    return kind if arg is None else f"{kind}:{arg}"


def _prepare(store, category: str, template: CategoryTemplate | None, kind: str, arg,
             seed: int) -> Prepared:
    """Worker thread: the category's template (unless cached) and the source image."""
    if template is None:
        template = load_category_template(store, category)
    if kind == SYNTHETIC:
        source = synthetic_source(template, seed)
    elif kind == "image":
        source = project_image_source(store, int(arg), template)
    else:
        source = file_source(arg)
    return Prepared(source.mask, template, source)


class PoseView(QWidget):
    """The panel (see the module docstring)."""

    state_changed = Signal(str)  # idle | preparing | running | paused | stopping
    run_started = Signal(object)  # the PoseSource
    run_finished = Signal(object)  # RunOutcome
    record_shown = Signal(object)  # the StepRecord both views now show
    status_changed = Signal(str)
    export_finished = Signal(object)  # ExportResult of an "Export run"

    def __init__(self, project, selection, image_view: ImageView | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("poseView")
        self.project = project  # ProjectController (store, categories)
        self.selection = selection
        self.main_image_view = image_view  # its file is a source
        self.state = IDLE
        self.source: PoseSource | None = None
        self.template: CategoryTemplate | None = None
        self._templates: dict[str, CategoryTemplate] = {}
        self._spaces: dict[str, object] = {}  # category -> its ShapeSpace (reconstruction)
        self.run_kind = POSE  # of the run shown
        self.run_params: dict = {}  # the controls of the run shown (saved with it)
        self._notes = ""  # what the run's preparation chose (reconstruction resources)
        self._categories: list[str] = []
        self._category = ""  # of the run in progress
        self._workers: list = []
        self._closed = False
        self.events = None  # replaces iter_estimate_pose in runs when set (same arguments)
        self.update_ms = 0.0  # what the last live update cost the GUI thread (with repaint)
        self._update_start: float | None = None
        self._scene_serial = 0  # counts the scenes shown (a deferred 3D set-up checks it)
        self.worker = PoseRunWorker(self)
        self._build_actions()
        self._build_ui()
        self.link = LinkState(self)
        self.pointer3d = ScenePointer(self.scene3d, self)
        self.linker = PoseLinker(self.link, self.image_view, self.pointer3d, self)
        self.image_marks = ImageMarks(self.image_view, self.link)
        self.scene_marks = SceneMarks(self.scene3d, self.link)
        self.linker.message.connect(self._link_message)
        self.worker.prepared.connect(self._prepared)
        self.worker.step_ready.connect(self._on_step)
        self.worker.finished.connect(self._on_finished)
        self.worker.state_changed.connect(self._set_state)
        self.worker.progress.connect(self.say)
        self.timeline.scrubbed.connect(self.show_record)
        self.scene3d.frame_swapped.connect(self._on_frame_swapped)
        project.categories_changed.connect(self._on_categories)
        project.project_opened.connect(lambda _t: self._on_project())
        selection.model_changed.connect(lambda *_: self.refresh_sources())
        if image_view is not None:
            image_view.image_shown.connect(lambda _p: self.refresh_sources())
        self._set_state(IDLE)
        self.say(NO_PROJECT)

    # -------------------------------------------------------------------- build
    def _build_actions(self) -> None:
        self.run_action = new_action(self, "&Run", self.run, "F5",
                                     "Run the chosen kind (pose refinement, viewpoint search, "
                                     "TTP solve, reconstruction) on the source image, live",
                                     "actionPoseRun")
        self.pause_action = new_action(self, "&Pause", self.toggle_pause, "F6",
                                       "Pause or resume the run", "actionPosePause")
        self.step_action = new_action(self, "S&tep", self.step, "F10",
                                      "One more step (pauses the run)", "actionPoseStep")
        self.stop_action = new_action(self, "St&op", self.stop, QKeySequence("Shift+F5"),
                                      "Stop the run", "actionPoseStop")
        self.reconstruct_action = new_action(
            self, "Run &reconstruction", self.run_reconstruction, QKeySequence("Ctrl+F5"),
            "Reconstruct the source image's shape and camera, live", "actionPoseReconstruct")
        self.actions_list: list[QAction] = [self.run_action, self.reconstruct_action,
                                            self.pause_action, self.step_action,
                                            self.stop_action]
        self.exports = PoseExports(self)  # Export figure… / Export run…
        self.export_figure_action = self.exports.figure_action
        self.export_run_action = self.exports.run_action
        self.library = RunLibrary(self)  # Save run… / Runs…
        self.export_actions: list[QAction] = [self.export_figure_action,
                                              self.export_run_action,
                                              self.library.save_action,
                                              self.library.runs_action,
                                              self.library.compare_action]

    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        controls = QHBoxLayout()
        self.kind_combo = QComboBox(self)
        self.kind_combo.setObjectName("poseRunKind")
        for i, (label, kind) in enumerate(RUN_KINDS):
            self.kind_combo.addItem(label, kind)
            self.kind_combo.setItemData(i, RUN_KIND_TIPS[kind], Qt.ItemDataRole.ToolTipRole)
        self.kind_combo.setToolTip("What the run estimates (hover an item for details)")
        self.kind_combo.currentIndexChanged.connect(lambda _i: self._set_state(self.state))
        controls.addWidget(self.kind_combo)
        controls.addWidget(QLabel("Source:", self))
        self.source_combo = QComboBox(self)
        self.source_combo.setObjectName("poseSource")
        self.source_combo.setToolTip("The image to pose")
        self.source_combo.setMinimumContentsLength(24)
        controls.addWidget(self.source_combo, 1)
        controls.addWidget(QLabel("View #", self))
        self.seed_spin = self._spin("poseSeed", 0, 9999, 0,
                                    "Which held-out synthetic view (seed)")
        controls.addWidget(self.seed_spin)
        controls.addWidget(QLabel("Objective:", self))
        self.objective_combo = QComboBox(self)
        self.objective_combo.setObjectName("poseObjective")
        self.objective_combo.addItems(list(OBJECTIVES))
        self.objective_combo.setToolTip("auto: soft silhouette on CUDA, fast points "
                                        "objective on CPU")
        controls.addWidget(self.objective_combo)
        controls.addWidget(QLabel("Hypotheses:", self))
        self.k_spin = self._spin("poseHypotheses", 1, 10, 3, "Viewpoints refined")
        controls.addWidget(self.k_spin)
        controls.addWidget(QLabel("Steps:", self))
        self.steps_spin = self._spin("poseSteps", 0, 1000, 60,
                                     "Refinement steps per hypothesis")
        controls.addWidget(self.steps_spin)
        self.buttons: dict[str, QToolButton] = {}
        for key, action in zip(("run", "reconstruct", "pause", "step", "stop"),
                               self.actions_list, strict=True):
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setObjectName(f"pose{key.title()}Button")
            controls.addWidget(button)
            self.buttons[key] = button
        layout.addLayout(controls)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.image_view = ImageView(self.splitter)
        self.image_view.setObjectName("poseImageView")
        self.image_view.show_placeholder("No run yet: choose a source and press Run (F5)")
        self.overlay = PoseOverlay2D(self.image_view)
        self.scene3d = PoseScene3D(self.splitter)
        self.plot = LossPlot(self.splitter)
        for i, stretch in enumerate((4, 4, 2)):
            self.splitter.setStretchFactor(i, stretch)
        self.splitter.setSizes([400, 400, 200])  # proportions, until the user drags
        layout.addWidget(self.splitter, 1)

        toggles = QHBoxLayout()
        toggles.addWidget(QLabel("Show:", self))
        self.toggles: dict[str, QCheckBox] = {}
        for name in LAYERS:
            box = QCheckBox(LAYER_LABELS[name], self)
            box.setObjectName(f"poseShow_{name}")
            box.setChecked(True)
            box.toggled.connect(lambda on, n=name: self.set_layer_shown(n, on))
            toggles.addWidget(box)
            self.toggles[name] = box
        toggles.addStretch(1)
        for key, action in (("ExportFigure", self.export_figure_action),
                            ("ExportRun", self.export_run_action),
                            ("SaveRun", self.library.save_action),
                            ("Runs", self.library.runs_action)):
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setObjectName(f"pose{key}Button")
            toggles.addWidget(button)
        layout.addLayout(toggles)
        self.link_info = QLabel("Hover or click a point in either view; click the image to "
                                "find its 3D point", self)
        self.link_info.setObjectName("poseLinkInfo")
        self.link_info.setStyleSheet("color: #9aa0a8;")
        layout.addWidget(self.link_info)
        self.timeline = Timeline(self)
        layout.addWidget(self.timeline)
        self.status = QLabel("", self)
        self.status.setObjectName("poseStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

    def _spin(self, name: str, lo: int, hi: int, value: int, tip: str) -> QSpinBox:
        spin = QSpinBox(self)
        spin.setObjectName(name)
        spin.setRange(lo, hi)
        spin.setValue(value)
        spin.setToolTip(tip)
        return spin

    # ------------------------------------------------------------------ sources
    def category(self) -> str:
        """The shown model's category, else the project's first ("" when none)."""
        return self.selection.model[0] or (self._categories[0] if self._categories else "")

    def _on_categories(self, categories: list) -> None:
        self._categories = [c.name for c in categories]
        self.refresh_sources()

    def _on_project(self) -> None:
        self._templates.clear()
        self._spaces.clear()
        self._categories = []
        self.refresh_sources()

    def refresh_sources(self) -> None:
        """List the sources: synthetic, the category's project images, the image view's
        file (project images are listed off the GUI thread)."""
        current = self.source_combo.currentData()
        self.source_combo.clear()
        category = self.category()
        self.source_combo.addItem(f"Synthetic demo image ({category or 'no category'})",
                                  source_key(SYNTHETIC))
        path = self.main_image_view.path if self.main_image_view is not None else None
        if path:
            self.source_combo.addItem(f"Image view: {path}", source_key("file", path))
        self._select_source(current)
        store = self.project.store
        if store is None or not category:
            return
        from core.store.image_store import list_images

        def listed(images) -> None:
            if self._closed or category != self.category():
                return
            keep = self.source_combo.currentData()
            for info in images:
                self.source_combo.addItem(f"Project image: {info.name}",
                                          source_key("image", info.id))
            self._select_source(keep)

        self._start(list_images, store, category, on_done=listed,
                    on_error=lambda exc: self.say(f"Cannot list the category's images: {exc}"))

    def _select_source(self, data) -> None:
        index = self.source_combo.findData(data) if data is not None else -1
        self.source_combo.setCurrentIndex(max(index, 0))

    def select_source(self, kind: str, arg=None) -> bool:
        """Choose a source by kind (``"synthetic"``, ``"image"``, ``"file"``)."""
        index = self.source_combo.findData(source_key(kind, arg))
        if index < 0 and kind == "file":
            self.source_combo.addItem(f"File: {arg}", source_key(kind, arg))
            index = self.source_combo.count() - 1
        if index >= 0:
            self.source_combo.setCurrentIndex(index)
        return index >= 0

    # ------------------------------------------------------------------- runs
    def run(self, k: int | None = None, steps: int | None = None,
            objective: str | None = None) -> bool:
        """Prepare the source and start a run (arguments default to the controls).
        Returns False (and says why) when it cannot start."""
        if self.state != IDLE or self.export is not None:
            return False
        if k is not None:
            self.k_spin.setValue(k)
        if steps is not None:
            self.steps_spin.setValue(steps)
        if objective is not None:
            self.objective_combo.setCurrentText(objective)
        store, category = self.project.store, self.category()
        if store is None or not category:
            self.say(NO_PROJECT)
            return False
        kind, _, arg = (self.source_combo.currentData() or SYNTHETIC).partition(":")
        seed, cached = self.seed_spin.value(), self._templates.get(category)
        self._category = category
        self.run_kind = self.kind_combo.currentData() or POSE
        self._notes = ""
        self.run_params = {"kind": self.run_kind, "source": kind, "arg": arg or None,
                           "seed": seed, "k": self.k_spin.value(),
                           "steps": self.steps_spin.value(),
                           "objective": self.objective_combo.currentText()}
        steps = 0 if self.run_kind in (SEARCH, TTP) else self.steps_spin.value()
        self.run_params["steps"] = steps
        if self.run_kind not in TEMPLATE_KINDS:
            prepare = prepare_reconstruction(
                store, self.project.target, category, kind, arg, seed, cached,
                self._spaces.get(category), self.objective_combo.currentText(),
                steps, self.k_spin.value(),
                on_loaded=lambda t, space, c=category: self._cache(c, t, space),
                refine=self.run_kind == RECONSTRUCTION)
            return self.run_prepared(prepare, category, self.run_kind, self.run_params,
                                     f"Loading the {category} shape space and the source "
                                     "image…")
        else:
            self.say(f"Loading the {category} template and the source image…")
            self._update_start = None  # (a cost still measured from the last run's update)
            log = self.worker.start(lambda: _prepare(store, category, cached, kind, arg, seed),
                                    k=self.k_spin.value(), steps=steps,
                                    objective=self.objective_combo.currentText(),
                                    events=self.events)
        self.timeline.set_log(log)
        self.plot.request(log.snapshot, cursor=0)  # emptied in its own pass, soon
        return True

    def run_prepared(self, prepare: Callable[[PrepareContext], Prepared], category: str,
                     kind: str, params: dict, message: str) -> bool:
        """Start a run whose worker-thread ``prepare`` is given (it loads the image and
        returns the :class:`Prepared` run with its own events: a reconstruction, an
        evaluation's view…); ``kind`` and ``params`` are kept with the run (Save run),
        ``message`` is said while it prepares. False when a run or an export is going on."""
        if self.state != IDLE or self.export is not None or self.worker.is_running():
            return False
        self._category, self.run_kind, self._notes = category, kind, ""
        self.run_params = dict(params)
        self._update_start = None  # (a cost still measured from the last run's update)
        self.say(message)
        log = self.worker.start(prepare, context=True)
        self.timeline.set_log(log)
        self.plot.request(log.snapshot, cursor=0)  # emptied in its own pass, soon
        return True

    def run_reconstruction(self, steps: int | None = None,
                           objective: str | None = None) -> bool:
        """Choose the Reconstruction run kind and start a run (see :meth:`run`)."""
        return self.run_kind_now(RECONSTRUCTION, steps=steps, objective=objective)

    def run_kind_now(self, kind: str, **options) -> bool:
        """Choose run kind ``kind`` (``pose``, ``search``, ``ttp``, ``reconstruction``) and
        start a run (``options`` as :meth:`run`'s)."""
        index = self.kind_combo.findData(kind)
        if index < 0:
            raise ValueError(f"unknown run kind {kind!r}")
        self.kind_combo.setCurrentIndex(index)
        return self.run(**options)

    def _cache(self, category: str, template, space) -> None:
        """Worker thread: keep what a reconstruction's preparation loaded (dict writes)."""
        if template is not None:
            self._templates.setdefault(category, template)
        self._spaces[category] = space

    def _prepared(self, ready: Prepared) -> None:
        """The worker has the image: set both views up (the 3D scene in a later pass of
        the event loop, so that no pass carries both costs)."""
        if self._closed:
            return
        source, template = ready.payload, ready.template
        if self.run_kind in TEMPLATE_KINDS:
            self._templates[self._category] = template
        self.template, self.source = template, source
        self.image_view.show_rgb(source.rgb)
        self.overlay.set_source(source.mask, source.truth, template.set_numbers)
        self.link.set_template(template)
        self.exports.update_actions()
        truth = source.truth.geometry if source.truth is not None else None
        # the 3D scene once the window has painted the 2D one, with the event loop
        # handling input in between: two zero timers (the first may fire in the same round
        # of timers as the paint's, the second cannot)
        self._scene_serial += 1
        serial = self._scene_serial
        QTimer.singleShot(0, lambda: QTimer.singleShot(
            0, lambda: self._setup_3d(template, source.rgb, truth, serial)))
        self._notes = notes = "; ".join(ready.notes)
        self.say(f"Running on {source.name} (mask: {source.mask_origin}; template "
                 f"{template.model}, points of {template.annotator})" +
                 (f"; {notes}" if notes else "") + "…")
        self.run_started.emit(source)

    def _setup_3d(self, template: CategoryTemplate, rgb, truth, serial: int) -> None:
        if self._closed or serial != self._scene_serial:  # another scene was shown since
            return
        self.scene3d.set_scene(template, rgb, truth)
        current = self.timeline.current()
        if current is not None:  # a step already shown in 2D
            self.scene3d.show_record(current)

    def replay(self, records: list[StepRecord], template: CategoryTemplate, source,
               kind: str, params: dict, name: str) -> None:
        """Show a saved run's steps (no engine runs): both views set up on its template and
        image, the timeline and the plot over its steps, the last step shown."""
        log = RunLog()
        for record in records:
            log.append(record)
        self.run_kind, self.run_params, self._notes = kind, params, ""
        missing = self._show_run_controls(kind, params)
        self._scene_serial += 1  # a run's pending 3D set-up must not replace this scene
        self._update_start = None
        self.template, self.source = template, source
        self.image_view.show_rgb(source.rgb)
        self.overlay.set_source(source.mask, source.truth, template.set_numbers)
        self.link.set_template(template)
        truth = source.truth.geometry if source.truth is not None else None
        self.scene3d.set_scene(template, source.rgb, truth)
        self.timeline.set_log(log)
        if records:
            self.timeline.advance(records[-1])
            self.show_record(records[-1])
        self.plot.request(log.snapshot, cursor=len(log) - 1)
        self.exports.update_actions()
        self.library.update_actions()
        self.say(f"{name}: {kind} of {source.name}, {len(records)} steps (replay"
                 + (f"; the controls show its settings, but {missing})" if missing else ")"))

    def _show_run_controls(self, kind: str, params: dict) -> str:
        """Set the controls to what a replayed run used, where they can show it: its kind,
        its source (a synthetic view, a file, or a project image when listed), seed,
        hypotheses, steps and objective; Run then runs it again. Returns what could not be
        set ("" when everything was)."""
        index = self.kind_combo.findData(kind)
        if index >= 0:
            self.kind_combo.setCurrentIndex(index)
        source, arg = params.get("source"), params.get("arg")
        if source not in (SYNTHETIC, "image", "file"):  # (an evaluation's view: kind only)
            return ""
        missing = ""
        if source == "file":
            if arg:
                self.select_source("file", arg)  # (listed now if it was not)
        elif not self.select_source(source, arg if source == "image" else None):
            missing = "its project image is not listed here"
        for key, spin in (("seed", self.seed_spin), ("k", self.k_spin),
                          ("steps", self.steps_spin)):
            value = params.get(key)
            if key == "steps" and kind in (SEARCH, TTP):
                continue  # (no refinement steps: the control keeps its value)
            if isinstance(value, int) and spin.minimum() <= value <= spin.maximum():
                spin.setValue(value)
        objective = params.get("objective")
        if isinstance(objective, str) and self.objective_combo.findText(objective) >= 0:
            self.objective_combo.setCurrentText(objective)
        return missing

    def toggle_pause(self) -> None:
        if self.state == RUNNING:
            self.worker.pause()
        elif self.state == PAUSED:
            self.worker.resume()

    def pause(self) -> None:
        if self.state == RUNNING:
            self.worker.pause()

    def resume(self) -> None:
        if self.state == PAUSED:
            self.worker.resume()

    def step(self) -> None:
        if self.state in (RUNNING, PAUSED):
            self.worker.step()

    def stop(self) -> None:
        """Cancel the run (also while it prepares); does not wait."""
        if self.state in (PREPARING, RUNNING, PAUSED):
            self.worker.stop()

    # ---------------------------------------------------------------- updates
    def _on_step(self, record: StepRecord) -> None:
        """A throttled update: the views when the timeline follows (2D and 3D drawn in the
        same paint pass, the timeline after them: see :meth:`show_record`), the plot soon
        (its own pass). What the update cost the GUI thread, until the 3D view had drawn it
        (its ``frame_swapped``), paces the next ones
        (:meth:`PoseRunWorker.report_update_cost`)."""
        if self._closed:
            return
        start = time.perf_counter()
        self.plot.request(self.worker.log.snapshot)
        shown = self.timeline.following and self.export is None
        if shown:
            self.show_record(record)  # (while hidden too: nothing is painted then)
        self.timeline.advance(record)  # after the scenes' changes (see show_record)
        if shown and self.isVisible() and self.scene3d.plotter is not None:
            self._update_start = start  # the cost is known when the 3D view has drawn
            return
        self._report_cost(start)

    def _on_frame_swapped(self) -> None:
        """The 3D view drew the update (the 2D view painted in the same pass): pace by its
        cost."""
        if self._update_start is not None:
            self._report_cost(self._update_start)

    def _report_cost(self, start: float) -> None:
        self._update_start = None
        self.update_ms = (time.perf_counter() - start) * 1000.0
        self.worker.report_update_cost(self.update_ms)

    def show_record(self, record: StepRecord) -> None:
        """Show ``record`` in both views (live or scrubbed), and the plot's cursor soon.

        The 2D scene changes first: a graphics scene processes its changes in a queued
        call, and if a directly repainted widget (the 3D view, a label) had asked the window
        to repaint before that call was queued, the window would repaint twice. The plot
        (another graphics scene) is refreshed in a pass of its own."""
        if self._closed:
            return
        self._show_views(record)
        self.plot.request(cursor=record.index)
        self.record_shown.emit(record)
        self.exports.update_actions()

    def _show_views(self, record: StepRecord) -> None:
        """Both views and the link marks on ``record`` (not the timeline, not the plot),
        the 2D scene first (see :meth:`show_record`)."""
        self.overlay.show_record(record)
        self.link.set_record(record)
        self.scene3d.show_record(record)

    def _on_finished(self, outcome: RunOutcome) -> None:
        if self._closed:
            return
        from core.images import ImageError

        if not outcome.prepared and isinstance(outcome.error, ImageError | OSError):
            self.image_view.show_placeholder(f"Cannot read the image\n{outcome.error}")
            self.say(f"Cannot read the image: {outcome.error}", error=True)
        else:
            notes = f" ({self._notes})" if self._notes and outcome.status == "done" else ""
            self.say(outcome.message + notes, error=outcome.status in ("diverged", "failed"))
        self.plot.request(self.worker.log.snapshot)
        self.exports.update_actions()
        self.library.update_actions()
        self.run_finished.emit(outcome)

    def set_layer_shown(self, name: str, on: bool) -> None:
        self.overlay.set_shown(name, on)
        if name == "truth":
            self.scene3d.set_truth_shown(on)

    # ------------------------------------------------------------------ state
    def _set_state(self, state: str) -> None:
        self.state = state
        active = self.state in (RUNNING, PAUSED)
        self.run_action.setEnabled(self.state == IDLE)
        self.reconstruct_action.setEnabled(self.state == IDLE)
        self.pause_action.setEnabled(active)
        self.pause_action.setText("&Resume" if self.state == PAUSED else "&Pause")
        self.step_action.setEnabled(active)
        self.stop_action.setEnabled(active or self.state == PREPARING)
        for w in (self.kind_combo, self.source_combo, self.seed_spin, self.objective_combo,
                  self.k_spin, self.steps_spin):
            w.setEnabled(self.state == IDLE)
        if self.kind_combo.currentData() in (SEARCH, TTP):  # no refinement steps
            self.steps_spin.setEnabled(False)
        if self.export is not None:
            self.run_action.setEnabled(False)
            self.reconstruct_action.setEnabled(False)
        self.exports.update_actions()
        self.library.update_actions()
        self.state_changed.emit(self.state)

    def say(self, message: str, error: bool = False) -> None:
        self.status.setText(message)
        self.status.setStyleSheet("color: #ff6b6b;" if error else "")
        self.status_changed.emit(message)

    # ----------------------------------------------------------------- exports
    @property
    def export(self) -> RunExport | None:
        """The run export in progress, if any."""
        return self.exports.current

    def figure_view_size(self) -> tuple[int, int]:
        """``(height, width)`` of the 3D view (the figure's 3D panel takes its aspect)."""
        return self.exports.view_size()

    def render_figure(self, record: StepRecord | None = None,
                      view_size: tuple[int, int] | None = None) -> QImage | None:
        """See :meth:`ui.pose.export_actions.PoseExports.render_figure`."""
        return self.exports.render_figure(record, view_size)

    def export_figure(self, path: str | Path) -> Path | None:
        """See :meth:`ui.pose.export_actions.PoseExports.export_figure`."""
        return self.exports.export_figure(path)

    def export_run(self, folder: str | Path, gif: bool = True,
                   dialog: bool = True) -> RunExport | None:
        """See :meth:`ui.pose.export_actions.PoseExports.export_run`."""
        return self.exports.export_run(folder, gif, dialog)

    def _link_message(self, text: str) -> None:
        self.link_info.setText(text)
        window = self.window()
        if isinstance(window, QMainWindow) and self.isVisible():
            window.statusBar().showMessage(text, 5000)

    # ---------------------------------------------------------------- helpers
    def _start(self, fn, *args, on_done, on_error) -> None:
        start_kept(self._workers, fn, *args, on_done=on_done, on_error=on_error)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel any run and wait for its thread; release the 3D view (window close).
        Returns True when no run thread is left."""
        if self._closed:
            return not self.worker.thread_alive()
        self._closed = True
        self.exports.cancel()
        ended = self.worker.shutdown(timeout_ms)
        self.image_marks.close()
        self.scene_marks.close()
        self.pointer3d.close()
        self.scene3d.close()
        return ended
