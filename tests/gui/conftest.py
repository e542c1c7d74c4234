"""GUI fixtures: a real MainWindow under a real X server (Xvfb in CI)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

if not os.environ.get("DISPLAY"):
    pytest.skip("GUI tests need an X display: run them through packaging/test.sh (Xvfb)",
                allow_module_level=True)

pytestmark = pytest.mark.gui

# Closed windows are kept, not deleted, until the run ends: deleting a window whose VTK
# render window was finalized crashed Mesa under Xvfb now and then (about 1 run in 4).
_CLOSED_WINDOWS: list = []


@pytest.fixture
def main_window(qtbot, tmp_path, monkeypatch):
    """A fresh main window with its own settings folder; closed and checked for leaks."""
    from PySide6.QtWidgets import QApplication

    from ui.main_window import MainWindow
    from ui.settings import configure_settings

    monkeypatch.setenv("CORRSTUDIO_SETTINGS_DIR", str(tmp_path / "settings"))
    configure_settings()
    before = set(QApplication.topLevelWidgets())
    window = MainWindow(show_dialogs=False)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()
    window.hide()
    _CLOSED_WINDOWS.append(window)
    qtbot.wait(50)
    leaked = [w for w in QApplication.topLevelWidgets()
              if w not in before and w is not window and w.isVisible()]
    assert not leaked, f"widgets left open: {leaked}"


def open_and_show(qtbot, window, project, category: str, model: str | None = None):
    """Open ``project`` and show a model of ``category`` (the first when None)."""
    with qtbot.waitSignal(window.controller.categories_changed, timeout=30000):
        window.controller.open_project(project)
    qtbot.waitUntil(lambda: bool(window.browser.model_names(category)), timeout=30000)
    name = model or window.browser.model_names(category)[0]
    with qtbot.waitSignal(window.mesh_view.scene_shown, timeout=30000):
        window.selection.select_model(category, name)
    return name


def open_pose_dock(qtbot, window, project, category: str, seed: int):
    """Open ``project``, show ``category``, reveal the Pose dock with its 3D view warmed up,
    and choose the synthetic source with ``seed``; returns the dock's PoseView."""
    from PySide6.QtCore import Qt

    open_and_show(qtbot, window, project, category)
    dock = window.pose_dock
    dock.reveal()
    qtbot.waitExposed(dock)
    window.resizeDocks([dock], [470], Qt.Orientation.Vertical)
    view = dock.view
    qtbot.waitUntil(lambda: view.scene3d.frames >= 2, timeout=10000)  # shaders warmed up
    view.seed_spin.setValue(seed)
    assert view.select_source("synthetic")
    qtbot.waitUntil(lambda: view.run_action.isEnabled(), timeout=5000)
    return view


@pytest.fixture
def project_copy(demo_project, tmp_path):
    """A private copy of the demo project (tests write to it)."""
    folder = tmp_path / "demo"
    shutil.copytree(demo_project.parent, folder)
    return folder / demo_project.name


def widget_pos(view, xyz):
    """Interactor-widget position (QPoint, logical pixels, top-left) of a world point."""
    from PySide6.QtCore import QPoint

    x, y = view.display_position(xyz)
    widget = view.plotter.interactor
    ratio = widget.devicePixelRatioF()
    return QPoint(int(round(x / ratio)), int(round(widget.height() - y / ratio)))


def visible_faces(view, scene, limit: int = 200):
    """(face, centre) of larger camera-facing faces that a pick at their centre hits,
    nearest the model's middle first."""
    cam = np.array(view.plotter.camera.position)
    v, f = scene.vertices, scene.faces
    centres = v[f].mean(axis=1)
    normals = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    area = np.linalg.norm(normals, axis=1)
    facing = ((normals / np.maximum(area, 1e-12)[:, None]) * (cam - centres)).sum(1) > 0
    order = np.argsort(np.linalg.norm(centres - centres.mean(0), axis=1))
    found = []
    for i in order:
        if facing[i] and area[i] > np.quantile(area, 0.5):
            hit = view.picker.pick(*view.display_position(centres[i]))
            if hit is not None and hit[0] == i:
                found.append((int(i), centres[i]))
                if len(found) >= limit:
                    break
    assert found, "no visible face found"
    return found
