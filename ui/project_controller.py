"""Owns the open project and loads what the views need, off the GUI thread.

Emits plain records (``CategoryInfo`` lists, ``ModelScene``) through signals;
failures go to the :class:`ErrorReporter` and leave the previous state intact.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from core.model_scene import ModelScene, load_model_scene
from core.store import ProjectStore
from ui.error_reporter import ErrorReporter
from ui.selection import Selection
from ui.workers import start_kept


class ProjectController(QObject):
    """Open/close projects, list their contents and load the selected model."""

    project_opened = Signal(str)  # project target (file path or URL)
    project_failed = Signal(str)  # target
    categories_changed = Signal(list)  # list[CategoryInfo]
    models_listed = Signal(str, list)  # category, list[ModelInfo]
    model_loaded = Signal(object)  # ModelScene
    busy = Signal(str)  # status message ("" when idle)

    def __init__(self, selection: Selection, errors: ErrorReporter,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.selection = selection
        self.errors = errors
        self.undo_stack = QUndoStack(self)
        self.store: ProjectStore | None = None
        self.target: str | None = None  # what open_project was given (path or URL)
        self._workers: list = []
        self._pending_model: tuple[str, str] | None = None
        selection.model_changed.connect(self._on_model_changed)

    # ---------------------------------------------------------------- project
    def open_project(self, target: str | Path) -> None:
        """Open a project in the background; emits ``project_opened`` or reports."""
        target = str(target)
        self.busy.emit(f"Opening {target} ...")
        self._start(ProjectStore.open, target,
                    on_done=lambda store: self._set_store(store, target),
                    on_error=lambda exc: self._open_failed(target, exc))

    def create_project(self, target: str | Path, name: str) -> None:
        target = str(target)
        self._start(ProjectStore.create, target, name,
                    on_done=lambda store: self._set_store(store, target),
                    on_error=lambda exc: self._open_failed(target, exc))

    def close_project(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
        self.undo_stack.clear()

    def refresh(self) -> None:
        """Re-read the category list (after an import, say)."""
        if self.store is not None:
            self._start(self.store.categories, on_done=self.categories_changed.emit,
                        on_error=lambda exc: self.errors.report("Cannot read project", str(exc)))

    def list_models(self, category: str) -> None:
        if self.store is None:
            return
        self._start(self.store.models, category,
                    on_done=lambda models: self.models_listed.emit(category, models),
                    on_error=lambda exc: self.errors.report("Cannot list models", str(exc)))

    # ----------------------------------------------------------------- models
    def _on_model_changed(self, category: str, name: str) -> None:
        if self.store is None or not name:
            return
        store = self.store
        self._pending_model = (category, name)
        self.busy.emit(f"Loading {category}/{name} ...")

        def load() -> ModelScene:
            return load_model_scene(store, store.model(category, name))

        self._start(load, on_done=self._model_done,
                    on_error=lambda exc: self._model_failed(category, name, exc))

    def _model_done(self, scene: ModelScene) -> None:
        if self._pending_model != (scene.info.category, scene.info.name):
            return  # superseded by a newer selection
        self.busy.emit("")
        self.model_loaded.emit(scene)

    def _model_failed(self, category: str, name: str, exc: BaseException) -> None:
        self.busy.emit("")
        self.errors.report(f"Cannot load model {category}/{name}", str(exc))

    # ---------------------------------------------------------------- helpers
    def _set_store(self, store: ProjectStore, target: str) -> None:
        self.close_project()
        self.store = store
        self.target = target
        self.busy.emit("")
        self.project_opened.emit(target)
        self.refresh()

    def _open_failed(self, target: str, exc: BaseException) -> None:
        self.busy.emit("")
        self.errors.report("Cannot open project", str(exc))
        self.project_failed.emit(target)

    def _start(self, fn, *args, on_done=None, on_error=None):
        return start_kept(self._workers, fn, *args, on_done=on_done, on_error=on_error)

    def shutdown(self) -> None:
        """Wait for background loads and close the store (window close)."""
        from superqt.utils._qthreading import WorkerBase

        for worker in list(self._workers):
            worker.quit()
        WorkerBase.await_workers(msecs=10_000)
        self.close_project()
