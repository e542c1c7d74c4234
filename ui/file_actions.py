"""File menu behaviour: new/open project, recent projects, import meshes and images.

Dialogs live here; the work runs in ``core`` off the GUI thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMainWindow, QMenu

from core.images import load_image_rgb
from core.mesh_import import MeshImportReport, iter_import_meshes
from ui import settings as app_settings
from ui.error_reporter import ErrorReporter
from ui.image_view import ImageView
from ui.project_controller import ProjectController
from ui.workers import run_in_thread

PROJECT_FILTER = "CorrStudio projects (*.corrstudio);;All files (*)"
MESH_FILTER = "Meshes (*.obj *.ply *.off *.stl *.glb);;All files (*)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff);;All files (*)"


class FileActions(QObject):
    """Slots behind the File menu."""

    image_loaded = Signal(str)

    def __init__(self, window: QMainWindow, controller: ProjectController,
                 image_view: ImageView, errors: ErrorReporter) -> None:
        super().__init__(window)
        self.window = window
        self.controller = controller
        self.image_view = image_view
        self.errors = errors
        self.recent_menu: QMenu | None = None
        self._workers: list = []
        controller.project_opened.connect(self._remember)

    # ---------------------------------------------------------------- project
    def new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "New project", "", PROJECT_FILTER)
        if path:
            if not path.endswith(".corrstudio"):
                path += ".corrstudio"
            self.controller.create_project(path, Path(path).stem)

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open project", "", PROJECT_FILTER)
        if path:
            self.controller.open_project(path)

    def _remember(self, target: str) -> None:
        app_settings.add_recent_project(target)
        self.rebuild_recent_menu()

    def rebuild_recent_menu(self) -> None:
        if self.recent_menu is None:
            return
        self.recent_menu.clear()
        items = app_settings.recent_projects()
        for i, target in enumerate(items):
            action = self.recent_menu.addAction(f"&{i + 1} {target}")
            action.triggered.connect(lambda _=False, t=target: self.controller.open_project(t))
        self.recent_menu.setEnabled(bool(items))

    # ---------------------------------------------------------------- imports
    def import_meshes_dialog(self) -> None:
        if self.controller.store is None:
            self.errors.report("Import meshes", "Open or create a project first.")
            return
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Import meshes", "", MESH_FILTER)
        if not paths:
            return
        category, ok = QInputDialog.getText(self.window, "Import meshes",
                                            "Into category:", text="imported")
        if ok and category.strip():
            self.import_meshes(category.strip(), paths)

    def import_meshes(self, category: str, paths: list[str]) -> None:
        """Import mesh files in the background; report files that failed."""
        store = self.controller.store
        if store is None:
            return
        report = MeshImportReport()
        status = self.window.statusBar()

        def progress(step) -> None:
            status.showMessage(f"Importing meshes {step.done}/{step.total} ...")

        def done(_=None) -> None:
            status.showMessage(f"Imported {len(report.imported)} mesh(es) into {category}", 8000)
            for path, problem in report.failed:
                self.errors.report(f"Cannot import {Path(path).name}", problem)
            self.controller.refresh()

        worker = run_in_thread(iter_import_meshes, store, category, paths, report,
                               on_yield=progress, on_done=done,
                               on_error=lambda exc: self.errors.report("Import failed", str(exc)))
        self._keep(worker)

    def import_images_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Import images", "", IMAGE_FILTER)
        if paths:
            self.open_image(paths[0])

    def open_image(self, path: str) -> None:
        """Load an image in the background and show it in the image view."""

        def shown(rgb) -> None:
            self.image_view.show_rgb(rgb, path)
            self.image_loaded.emit(path)

        worker = run_in_thread(load_image_rgb, path, on_done=shown,
                               on_error=lambda exc: self.errors.report("Cannot open image",
                                                                       str(exc)))
        self._keep(worker)

    def _keep(self, worker) -> None:
        self._workers.append(worker)
        worker.finished.connect(lambda w=worker: self._workers.remove(w)
                                if w in self._workers else None)
