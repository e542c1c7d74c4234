"""Remember the working session across restarts (QSettings): the last project, the
annotator per project, the shown model and its camera. Dock layout is saved by the
main window itself."""

from __future__ import annotations

from PySide6.QtCore import QObject

from ui import settings as app_settings


def last_project() -> str | None:
    """The project open when the app last closed, or None."""
    value = app_settings.settings().value("session/project")
    return str(value) if value else None


def last_model() -> tuple[str, str] | None:
    value = app_settings.settings().value("session/model")
    if not value or "/" not in str(value):
        return None
    category, _, name = str(value).partition("/")
    return category, name


class SessionState(QObject):
    """Saves on change and on close; restores the annotator and camera when they apply."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self._camera_pending = self._saved_camera()
        window.controller.project_opened.connect(self._on_project)
        window.annotation.annotator_changed.connect(self._on_annotator)
        window.mesh_view.scene_shown.connect(self._on_scene)

    def save(self) -> None:
        """Write project, model and camera (call when the window closes)."""
        s = app_settings.settings()
        target = self.window.controller.target
        if target:
            s.setValue("session/project", target)
        category, name = self.window.selection.model
        if name:
            s.setValue("session/model", f"{category}/{name}")
            cam = self.window.mesh_view.plotter.camera
            s.setValue("session/camera", [f"{category}/{name}",
                                          *map(float, cam.position), *map(float, cam.focal_point),
                                          *map(float, cam.up)])
        s.sync()

    def _on_project(self, target: str) -> None:
        name = app_settings.settings().value(f"session/annotator/{target}")
        if name and name in self.window.annotation.annotators():
            self.window.annotation.set_annotator(str(name))

    def _on_annotator(self, name: str) -> None:
        target = self.window.controller.target
        if target and name:
            app_settings.settings().setValue(f"session/annotator/{target}", name)

    def _saved_camera(self):
        value = app_settings.settings().value("session/camera")
        if not isinstance(value, list) or len(value) != 10:
            return None
        try:
            return str(value[0]), [float(v) for v in value[1:]]
        except ValueError:
            return None

    def _on_scene(self, category: str, name: str) -> None:
        pending, self._camera_pending = self._camera_pending, None
        if pending is None or pending[0] != f"{category}/{name}":
            return
        v = pending[1]
        cam = self.window.mesh_view.plotter.camera
        cam.position, cam.focal_point, cam.up = v[0:3], v[3:6], v[6:9]
        self.window.mesh_view.plotter.render()
