"""Restart restores project, annotator, model, camera and dock layout."""

from __future__ import annotations

import shutil

import numpy as np
from PySide6.QtCore import Qt

from app.startup import StartupSession
from tests.gui.conftest import _CLOSED_WINDOWS, open_and_show
from ui.main_window import MainWindow


def test_restart_restores_the_session(qtbot, main_window, demo_project, tmp_path):
    folder = tmp_path / "demo"
    shutil.copytree(demo_project.parent, folder)
    project = folder / demo_project.name
    open_and_show(qtbot, main_window, project, "chair", "chair_005")
    main_window.annotation.set_annotator("annotator_01")
    cam = main_window.mesh_view.plotter.camera
    cam.position = (2.0, 0.5, 1.0)
    main_window.removeDockWidget(main_window.progress_dock)
    main_window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, main_window.progress_dock)
    main_window.close()

    again = MainWindow(show_dialogs=False)
    session = StartupSession(again, project=None, select=None, screenshot=None, timeout=60)
    again.show()
    try:
        with qtbot.waitSignal(again.mesh_view.scene_shown, timeout=30000):
            session.start()
        qtbot.waitUntil(lambda: again.annotation.annotator == "annotator_01", timeout=5000)
        assert again.controller.target == str(project)
        assert again.selection.model == ("chair", "chair_005")
        assert np.allclose(again.mesh_view.plotter.camera.position, (2.0, 0.5, 1.0))
        assert again.dockWidgetArea(again.progress_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    finally:
        again.close()
        _CLOSED_WINDOWS.append(again)
