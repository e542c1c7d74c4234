"""What happens after the window opens: build/open the project, pick the first
model, and (for ``--screenshot``) save a PNG and quit.

Timings (``CORRSTUDIO_TIMINGS=1``) are printed to stderr as
``corrstudio-timing <event> <unix time>`` for the startup benchmark.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QProgressDialog

from core.paths import demo_dir, demo_project_file
from core.store.engine import is_url
from ui.main_window import MainWindow
from ui.session_state import last_model, last_project
from ui.view_grab import grab_widget
from ui.workers import run_in_thread


def _timing(event: str) -> None:
    if os.environ.get("CORRSTUDIO_TIMINGS"):
        print(f"corrstudio-timing {event} {time.time():.6f}", file=sys.stderr, flush=True)


class _FirstPaint(QObject):
    """Reports the main window's first paint once."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.done = False

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if not self.done and event.type() == QEvent.Type.Paint:
            self.done = True
            _timing("first-paint")
        return False


class StartupSession(QObject):
    """Drives startup; ``exit_code`` is the process result in screenshot mode."""

    def __init__(self, window: MainWindow, project: str | None, select: str | None,
                 screenshot: Path | None, timeout: float) -> None:
        super().__init__(window)
        self.window = window
        self.project = project
        self.select = select
        self.screenshot = screenshot
        self.timeout = timeout
        self.exit_code = 0
        self._wanted: tuple[str, str] | None = None
        self._fallback = False
        self._worker = None
        self._progress: QProgressDialog | None = None
        self._painter = _FirstPaint(window)
        window.installEventFilter(self._painter)
        c = window.controller
        c.categories_changed.connect(self._on_categories)
        c.models_listed.connect(self._on_models)
        c.project_failed.connect(lambda target: self._fail(f"cannot open project {target}"))
        window.mesh_view.scene_shown.connect(self._on_scene_shown)
        window.errors.reported.connect(self._on_error)

    def start(self) -> None:
        _timing("window-shown")
        if self.screenshot is not None:
            QTimer.singleShot(int(self.timeout * 1000), self._on_timeout)
        restore = self.screenshot is None and self.project is None
        if self.select:
            category, _, name = self.select.partition("/")
            self._wanted = (category, name)
        elif restore and last_model() is not None:
            self._wanted = last_model()
            self._fallback = True  # a remembered model that may be gone: no error then
        previous = last_project() if restore else None
        if self.project is not None:
            self.window.controller.open_project(self.project)
        elif previous is not None and (is_url(previous) or Path(previous).exists()):
            self.window.controller.open_project(previous)  # where the user left off
        elif demo_project_file().exists():
            self.window.controller.open_project(demo_project_file())
        else:
            self._build_demo()

    # ------------------------------------------------------------- demo build
    def _build_demo(self) -> None:
        from core.demo.build_project import iter_build_demo_project

        dialog = QProgressDialog("Building the demo project (first start only) ...", None, 0, 3,
                                 self.window)
        dialog.setObjectName("demoBuildProgress")
        dialog.setWindowTitle("CorrStudio")
        dialog.setMinimumDuration(0)
        dialog.setValue(0)
        self._progress = dialog

        def progress(step) -> None:
            dialog.setMaximum(step.total)
            dialog.setValue(step.done)
            dialog.setLabelText(step.message)
            self.window.statusBar().showMessage(step.message)

        def done(_=None) -> None:
            dialog.close()
            self.window.controller.open_project(demo_project_file())

        def failed(exc: BaseException) -> None:
            dialog.close()
            self.window.errors.report("Cannot build the demo project", str(exc))

        self._worker = run_in_thread(iter_build_demo_project, demo_dir(), on_yield=progress,
                                     on_done=done, on_error=failed)

    # ------------------------------------------------------- first selection
    def _on_categories(self, categories: list) -> None:
        _timing("project-listed")
        if not categories:
            self._fail("the project has no categories") if self.screenshot else None
            return
        names = [c.name for c in categories]
        if self._wanted is not None and self._fallback and self._wanted[0] not in names:
            self._wanted = None
        if self._wanted is None:
            self._wanted = (names[0], "")
        elif self._wanted[0] not in names:
            self.window.errors.report("Cannot select model",
                                      f"No category {self._wanted[0]!r} in this project "
                                      f"(it has {', '.join(names)})")

    def _on_models(self, category: str, models: list) -> None:
        if self._wanted is None or category != self._wanted[0]:
            return
        wanted_cat, wanted_name = self._wanted
        names = [m.name for m in models]
        if not names:
            self.window.errors.report("Cannot select model", f"Category {category!r} is empty")
            return
        if not wanted_name or (self._fallback and wanted_name not in names):
            wanted_name = names[0]
        elif wanted_name not in names:
            self.window.errors.report("Cannot select model",
                                      f"No model {wanted_name!r} in category {category!r}")
            return
        self._wanted = (wanted_cat, wanted_name)
        self.window.selection.select_model(wanted_cat, wanted_name)

    # ------------------------------------------------------------ screenshot
    def _on_scene_shown(self, category: str, name: str) -> None:
        _timing("model-shown")
        if self.screenshot is not None and (category, name) == self._wanted:
            QTimer.singleShot(200, self._save_screenshot)

    def _save_screenshot(self) -> None:
        app = QApplication.instance()
        for _ in range(5):
            app.processEvents()
        image = grab_widget(self.window)  # (renders the 3D views)
        path = self.screenshot
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(path), "PNG"):
            self._fail(f"cannot write screenshot {path}")
            return
        print(f"Saved screenshot {path}", flush=True)
        self._quit(0)

    def _on_error(self, title: str, message: str) -> None:
        if self.screenshot is not None:
            self._fail(f"{title}: {message}")

    def _on_timeout(self) -> None:
        self._fail(f"timed out after {self.timeout:.0f} s", code=3)

    def _fail(self, message: str, code: int = 2) -> None:
        if self.screenshot is None:
            return
        print(f"corrstudio: {message}", file=sys.stderr, flush=True)
        self._quit(code)

    def _quit(self, code: int) -> None:
        if self.exit_code == 0:
            self.exit_code = code
        self.window.close()
        QApplication.instance().exit(self.exit_code)
