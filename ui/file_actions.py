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
    imported = Signal(str)  # format
    exported = Signal(str, list)  # format, written paths

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

    # ------------------------------------------------------- annotation files
    IMPORT_FILTERS = {"keypointnet": "KeypointNet annotations (*.json)",
                      "cpnet": "CPNet HDF5 (*.h5)", "bundle": "CorrStudio bundle (*.json)"}
    EXPORT_LABELS = {"keypointnet": "KeypointNet JSON", "cpnet": "CPNet HDF5 folder",
                     "pp": "MeshLab .pp folder", "slicer": "3D Slicer .mrk.json folder",
                     "bundle": "CorrStudio bundle (whole project)"}

    def import_dialog(self, fmt: str) -> None:
        """Ask for files (a folder for ShapeNet) and import them in the background."""
        if self.controller.store is None:
            self.errors.report("Import", "Open or create a project first.")
            return
        if fmt == "shapenet":
            folder = QFileDialog.getExistingDirectory(self.window, "Import a ShapeNet folder")
            paths = [folder] if folder else []
        else:
            paths, _ = QFileDialog.getOpenFileNames(self.window, f"Import {fmt}", "",
                                                    self.IMPORT_FILTERS[fmt])
        if paths:
            self.import_files(fmt, paths)

    def import_files(self, fmt: str, paths: list[str]) -> None:
        """Import annotation/mesh files (all or nothing) off the GUI thread."""
        from core.store.file_io import import_files

        store = self.controller.store
        if store is None:
            return
        status = self.window.statusBar()
        status.showMessage(f"Importing {len(paths)} file(s) ...")

        def done(result) -> None:
            what = f"{result} rows" if isinstance(result, int) else \
                f"{result.keypoints} keypoints, {result.models} models"
            status.showMessage(f"Imported {what} from "
                               f"{', '.join(Path(p).name for p in paths)}", 8000)
            self.imported.emit(fmt)
            self.controller.refresh()

        self._keep(run_in_thread(import_files, store, fmt, paths, on_done=done,
                                 on_error=lambda exc: self.errors.report(
                                     "Import failed (nothing was imported)", str(exc))))

    def export_dialog(self, fmt: str) -> None:
        """Ask where, then export the shown category (the whole project for bundles)."""
        category = self.controller.selection.model[0]
        if self.controller.store is None or (fmt != "bundle" and not category):
            self.errors.report("Export", "Open a project and show a model of the category "
                                         "to export first.")
            return
        if fmt in ("keypointnet", "bundle"):
            out, _ = QFileDialog.getSaveFileName(self.window, f"Export {fmt}",
                                                 f"{category or 'project'}.json",
                                                 "JSON (*.json)")
        else:
            out = QFileDialog.getExistingDirectory(self.window, f"Export {fmt} into folder")
        if out:
            self.export_files(fmt, out, category)

    def export_files(self, fmt: str, out: str, category: str | None) -> None:
        from core.store.file_io import export_files

        store = self.controller.store
        status = self.window.statusBar()

        def done(paths) -> None:
            status.showMessage(f"Exported {len(paths)} file(s) to {out}", 8000)
            self.exported.emit(fmt, [str(p) for p in paths])

        self._keep(run_in_thread(export_files, store, fmt, out, category, on_done=done,
                                 on_error=lambda exc: self.errors.report("Export failed",
                                                                         str(exc))))

    def build_io_menus(self, import_menu: QMenu, export_menu: QMenu) -> None:
        from core.formats.records import EXPORT_FORMATS, IMPORT_FORMATS

        labels = {"keypointnet": "&KeypointNet JSON...", "cpnet": "&CPNet HDF5...",
                  "shapenet": "&ShapeNet mesh folder...", "bundle": "CorrStudio &bundle..."}
        for fmt in IMPORT_FORMATS:
            action = import_menu.addAction(labels[fmt])
            action.setObjectName(f"actionImport_{fmt}")
            action.triggered.connect(lambda _=False, f=fmt: self.import_dialog(f))
        for fmt in EXPORT_FORMATS:
            action = export_menu.addAction(self.EXPORT_LABELS[fmt] + "...")
            action.setObjectName(f"actionExport_{fmt}")
            action.triggered.connect(lambda _=False, f=fmt: self.export_dialog(f))

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
