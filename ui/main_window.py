"""The main window: assembles the menus, docks, central 3D view and status bar.

It holds no project state and no undo history: those live in the
:class:`ProjectController` and :class:`Selection` it wires together.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QWidget

from core import __version__
from ui import settings as app_settings
from ui.actions import new_action
from ui.annotate_actions import AnnotateActions
from ui.annotation_controller import AnnotationController
from ui.close_guard import confirm_close
from ui.embeddings import install_embeddings
from ui.error_reporter import ErrorReporter
from ui.failures import install_failure_browser
from ui.file_actions import FileActions
from ui.guide_panel import GuidePanel
from ui.image_annotation import install_image_annotation
from ui.image_view import ImageView
from ui.mesh_view import MeshView
from ui.pose.pose_dock import PoseDock
from ui.progress_matrix import ProgressMatrix
from ui.project_browser import ProjectBrowser
from ui.project_controller import ProjectController
from ui.qa import install_qa
from ui.resources import app_icon
from ui.selection import Selection
from ui.session_state import SessionState
from ui.store_banner import StoreBanner
from ui.template_actions import TemplateActions

WINDOW_TITLE = "CorrStudio"


class MainWindow(QMainWindow):
    """CorrStudio's main window."""

    closing = Signal()  # the window closes (after the unsaved-edits question)

    def __init__(self, show_dialogs: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self._closed = False
        self.setWindowTitle(WINDOW_TITLE)
        self.setWindowIcon(app_icon())
        self.resize(1280, 800)
        self.errors = ErrorReporter(self, show_dialogs=show_dialogs)
        self.selection = Selection(self)
        self.controller = ProjectController(self.selection, self.errors, self)

        self.mesh_view = MeshView(self)
        self.setCentralWidget(self.mesh_view)
        self.browser = ProjectBrowser(self.selection, self)
        self.image_view = ImageView(self)
        self.browser_dock = self._dock("Project", "projectBrowserDock", self.browser,
                                       Qt.DockWidgetArea.LeftDockWidgetArea)
        self.image_dock = self._dock("Image", "imageViewDock", self.image_view,
                                     Qt.DockWidgetArea.RightDockWidgetArea)
        self.file_actions = FileActions(self, self.controller, self.image_view, self.errors)
        self.annotation = AnnotationController(self.controller, self.errors, self)
        self.annotate_actions = AnnotateActions(self, self.annotation, self.selection,
                                                self.browser)
        self.store_banner = StoreBanner(self.annotation.writes, self.mesh_view)
        self.mesh_view.layout().insertWidget(0, self.store_banner)  # above the 3D view
        self.progress = ProgressMatrix(self.annotation, self.selection, self)
        self.progress_dock = self._dock("Progress", "progressDock", self.progress,
                                        Qt.DockWidgetArea.BottomDockWidgetArea)
        self.template_actions = TemplateActions(self, self.annotation, self.errors)
        self.guide = GuidePanel(self.annotation, self.mesh_view, self)
        self.guide_dock = self._dock("Guide", "guideDock", self.guide,
                                     Qt.DockWidgetArea.RightDockWidgetArea)
        self.pose_dock = PoseDock(self.controller, self.selection, self.image_view, self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.pose_dock)
        self.tabifyDockWidget(self.progress_dock, self.pose_dock)
        self.pose_dock.hide()  # View > Pose or the Run menu shows it
        self._build_menus()
        self._status_project = QLabel("No project", self)
        self.statusBar().addPermanentWidget(self._status_project)
        self._wire()
        self.qa = install_qa(self)  # suggestions, review and agreement docks
        self.embeddings = install_embeddings(self)  # live training and the inspector
        self.failures = install_failure_browser(self)  # evaluated images -> the Pose dock
        self.image_annotation = install_image_annotation(self)  # 2D points on images
        self.session = SessionState(self)
        self.resizeDocks([self.browser_dock, self.image_dock], [300, 420],
                         Qt.Orientation.Horizontal)
        self._restore_layout()

    # ----------------------------------------------------------------- layout
    def _dock(self, title: str, name: str, widget: QWidget,
              area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        fa = self.file_actions
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.setObjectName("fileMenu")
        file_menu.addAction(new_action(self, "&New project...", fa.new_project,
                                       QKeySequence.StandardKey.New, "Create an empty project",
                                       "actionNewProject"))
        file_menu.addAction(new_action(self, "&Open project...", fa.open_project_dialog,
                                       QKeySequence.StandardKey.Open, "Open a project file",
                                       "actionOpenProject"))
        fa.recent_menu = file_menu.addMenu("Open &recent")
        fa.recent_menu.setObjectName("recentMenu")
        fa.rebuild_recent_menu()
        file_menu.addSeparator()
        file_menu.addAction(new_action(self, "Import &meshes...", fa.import_meshes_dialog,
                                       "Ctrl+Shift+M", "Add mesh files to a category",
                                       "actionImportMeshes"))
        file_menu.addAction(new_action(self, "Import &images...", fa.import_images_dialog,
                                       "Ctrl+Shift+I", "Open an image in the image view",
                                       "actionImportImages"))
        import_menu = file_menu.addMenu("Import &annotations")
        export_menu = file_menu.addMenu("&Export")
        fa.build_io_menus(import_menu, export_menu)
        file_menu.addSeparator()
        file_menu.addAction(new_action(self, "&Quit", self.close, QKeySequence.StandardKey.Quit,
                                       "Quit CorrStudio", "actionQuit"))

        edit_menu = bar.addMenu("&Edit")
        edit_menu.setObjectName("editMenu")
        undo = self.controller.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        undo.setObjectName("actionUndo")
        redo = self.controller.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        redo.setObjectName("actionRedo")
        edit_menu.addActions([undo, redo])

        annotate_menu = bar.addMenu("&Annotate")
        annotate_menu.setObjectName("annotateMenu")
        self.annotate_actions.build_menu(annotate_menu)
        self.template_actions.build_menu(annotate_menu)

        view_menu = bar.addMenu("&View")
        view_menu.setObjectName("viewMenu")
        for dock in (self.browser_dock, self.image_dock, self.guide_dock, self.progress_dock,
                     self.pose_dock):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        view_menu.addAction(new_action(self, "&Fit image", self.image_view.fit, "Ctrl+0",
                                       "Fit the image to the view", "actionFitImage"))

        run_menu = bar.addMenu("&Run")
        run_menu.setObjectName("runMenu")
        self.pose_dock.build_menu(run_menu)

        help_menu = bar.addMenu("&Help")
        help_menu.setObjectName("helpMenu")
        help_menu.addAction(new_action(self, "&About CorrStudio", self.about, None,
                                       "About CorrStudio", "actionAbout"))

    def _wire(self) -> None:
        c = self.controller
        c.categories_changed.connect(self._on_categories)
        c.models_listed.connect(self.browser.set_models)
        c.model_loaded.connect(lambda scene: self.mesh_view.show_scene(
            scene, self.annotation.visible_keypoints(scene)))
        self.annotation.keypoints_changed.connect(self.mesh_view.show_keypoints)
        self.mesh_view.surface_clicked.connect(self.annotation.place_at)
        self.mesh_view.marker_moved.connect(self.annotation.move_marker)
        self.mesh_view.marker_clicked.connect(self.annotation.select_marker)
        c.project_opened.connect(self._on_project_opened)
        c.busy.connect(self._on_busy)
        self.template_actions.templates_changed.connect(self.guide.on_templates_changed)

    # ---------------------------------------------------------------- reacting
    def _on_categories(self, categories: list) -> None:
        self.browser.set_categories(categories)
        for cat in categories:
            self.controller.list_models(cat.name)

    def _on_project_opened(self, target: str) -> None:
        name = self.controller.store.name if self.controller.store else target
        self.setWindowTitle(f"{name} — {WINDOW_TITLE}")
        self._status_project.setText(target)
        self.statusBar().showMessage(f"Opened {target}", 5000)

    def _on_busy(self, message: str) -> None:
        if message:
            self.statusBar().showMessage(message)
        else:
            self.statusBar().clearMessage()

    def about(self) -> None:
        QMessageBox.about(self, "About CorrStudio",
                          f"CorrStudio {__version__}\n\nSemantic correspondence sets on meshes, "
                          "point embeddings, and image-to-3D keypoint transfer.")

    # ----------------------------------------------------------- persistence
    def _restore_layout(self) -> None:
        s = app_settings.settings()
        geometry = s.value("mainWindow/geometry")
        state = s.value("mainWindow/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def save_layout(self) -> None:
        s = app_settings.settings()
        s.setValue("mainWindow/geometry", self.saveGeometry())
        s.setValue("mainWindow/state", self.saveState())
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if not self._closed:
            queues = (self.annotation.writes, self.image_annotation.controller.writes)
            if not confirm_close(self, queues, ask=self.errors.show_dialogs):
                event.ignore()  # edits still wait for the database: the window stays
                return
            self._closed = True
            self.closing.emit()  # installed panels stop their threads (CloseWatcher)
            self.save_layout()
            self.session.save()
            self.pose_dock.shutdown()  # cancels a pose run and waits for its thread
            self.controller.shutdown()
            self.guide.close()
            self.mesh_view.close()
        super().closeEvent(event)
