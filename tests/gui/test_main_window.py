"""The main window on the demo project: real widgets, real VTK rendering under Xvfb."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget

from tests.gui.conftest import _CLOSED_WINDOWS, open_and_show
from tests.screens import count_palette_pixels, fraction_not_color, load_rgb, region_of_color
from ui.image_view import ImageView
from ui.mesh_view import BACKGROUND
from ui.palette import SET_PALETTE
from ui.view_grab import grab_widget


def test_demo_project_shows_model_and_keypoints(qtbot, main_window, demo_project, artifacts_dir):
    name = open_and_show(qtbot, main_window, demo_project, "airplane")
    scene = main_window.mesh_view.scene
    assert scene.info.category == "airplane" and scene.info.name == name
    assert scene.faces.shape[0] >= 2000 and len(scene.keypoints) > 0
    top = [main_window.browser.topLevelItem(i).text(0)
           for i in range(main_window.browser.topLevelItemCount())]
    assert top == ["airplane", "chair", "mug"]
    assert len(main_window.browser.model_names("mug")) == 24
    main_window.mesh_view.plotter.render()
    path = artifacts_dir / "main_window_demo_airplane.png"
    assert grab_widget(main_window).save(str(path))
    img = load_rgb(path)
    box = region_of_color(img, BACKGROUND)
    assert box is not None, "3D view background not found in the screenshot"
    assert fraction_not_color(img, box, BACKGROUND) > 0.03  # the mesh is drawn
    assert count_palette_pixels(img, box, SET_PALETTE) > 20  # keypoint markers are drawn


def test_switching_models_updates_the_3d_view(qtbot, main_window, demo_project):
    open_and_show(qtbot, main_window, demo_project, "mug")
    first = main_window.mesh_view.scene
    second_name = main_window.browser.model_names("chair")[5]
    with qtbot.waitSignal(main_window.mesh_view.scene_shown, timeout=30000):
        main_window.selection.select_model("chair", second_name)
    scene = main_window.mesh_view.scene
    assert (scene.info.category, scene.info.name) == ("chair", second_name)
    assert scene.vertices.shape != first.vertices.shape or not np.allclose(
        scene.vertices, first.vertices)
    assert main_window.browser.currentItem().text(0) == second_name


def test_missing_and_corrupt_projects_report_and_keep_running(qtbot, main_window, tmp_path,
                                                              demo_project):
    bad = tmp_path / "broken.corrstudio"
    bad.write_bytes(b"not a database at all" * 10)
    with qtbot.waitSignal(main_window.errors.reported, timeout=10000) as sig:
        main_window.controller.open_project(bad)
    assert "broken.corrstudio" in sig.args[1] and "not a SQLite database" in sig.args[1]
    with qtbot.waitSignal(main_window.errors.reported, timeout=10000) as sig:
        main_window.controller.open_project(tmp_path / "missing.corrstudio")
    assert "missing.corrstudio" in sig.args[1]
    assert bad.read_bytes() == b"not a database at all" * 10  # untouched
    open_and_show(qtbot, main_window, demo_project, "chair")  # still works afterwards


def test_model_with_broken_mesh_reports_file(qtbot, main_window, demo_project, tmp_path):
    import shutil

    project_dir = tmp_path / "copy"
    shutil.copytree(demo_project.parent, project_dir)
    victim = sorted((project_dir / "meshes" / "mug").glob("*.ply"))[2]
    victim.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 99\n")
    open_and_show(qtbot, main_window, project_dir / demo_project.name, "mug")
    with qtbot.waitSignal(main_window.errors.reported, timeout=10000) as sig:
        main_window.selection.select_model("mug", victim.stem)
    assert victim.name in sig.args[1]
    assert main_window.mesh_view.scene.info.name != victim.stem  # previous model stays shown


def test_import_meshes_keeps_good_and_reports_bad(qtbot, main_window, demo_project, tmp_path):
    import trimesh

    good = tmp_path / "box.obj"
    trimesh.creation.box(extents=(2, 1, 1)).export(good)
    nan = tmp_path / "nan.obj"
    nan.write_text("v 0 0 0\nv nan 1 0\nv 0 0 1\nf 1 2 3\n")
    missing = tmp_path / "gone.ply"
    project = tmp_path / "new.corrstudio"
    with qtbot.waitSignal(main_window.controller.project_opened, timeout=10000):
        main_window.controller.create_project(project, "new")
    reported = []
    main_window.errors.reported.connect(lambda t, m: reported.append(m))
    with qtbot.waitSignal(main_window.controller.categories_changed, timeout=20000):
        main_window.file_actions.import_meshes("boxes", [str(good), str(nan), str(missing)])
    qtbot.waitUntil(lambda: len(reported) == 2, timeout=5000)
    assert any("nan.obj" in m for m in reported) and any("gone.ply" in m for m in reported)
    qtbot.waitUntil(lambda: main_window.browser.model_names("boxes") == ["box"], timeout=10000)
    with qtbot.waitSignal(main_window.mesh_view.scene_shown, timeout=10000):
        main_window.selection.select_model("boxes", "box")
    ext = np.ptp(main_window.mesh_view.scene.vertices, axis=0)
    assert np.linalg.norm(ext) == pytest.approx(1.0)  # shown in the normalized frame


def test_image_view_opens_zooms_and_rejects_broken(qtbot, main_window, tmp_path, artifacts_dir):
    from PIL import Image

    rng = np.random.default_rng(0)
    img = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 255, (120, 200, 3), dtype=np.uint8)).save(img)
    with qtbot.waitSignal(main_window.file_actions.image_loaded, timeout=10000):
        main_window.file_actions.open_image(str(img))
    view: ImageView = main_window.image_view
    assert view.has_image() and view.path == str(img)
    z0 = view.zoom
    view.zoom_by(2.0)
    assert view.zoom == pytest.approx(2 * z0)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with qtbot.waitSignal(main_window.errors.reported, timeout=10000) as sig:
        main_window.file_actions.open_image(str(broken))
    assert "broken.jpg" in sig.args[1]
    assert view.path == str(img)  # the good image stays
    grab_widget(main_window).save(str(artifacts_dir / "main_window_image.png"))


def test_menus_docks_and_shortcuts(main_window):
    actions = {a.objectName(): a for a in main_window.findChildren(type(main_window.menuBar()
                                                                         .actions()[0]))}
    shortcuts = {name: a.shortcut() for name, a in actions.items()}
    assert shortcuts["actionOpenProject"] == QKeySequence(QKeySequence.StandardKey.Open)
    assert shortcuts["actionNewProject"] == QKeySequence(QKeySequence.StandardKey.New)
    assert shortcuts["actionUndo"] == QKeySequence(QKeySequence.StandardKey.Undo)
    assert shortcuts["actionImportMeshes"] == QKeySequence("Ctrl+Shift+M")
    menus = [a.text().replace("&", "") for a in main_window.menuBar().actions()]
    assert menus == ["File", "Edit", "Annotate", "View", "Run", "Help"]
    docks = {d.objectName() for d in main_window.findChildren(QDockWidget)}
    assert {"projectBrowserDock", "imageViewDock"} <= docks
    assert main_window.statusBar() is not None


def test_dock_layout_is_restored(qtbot, main_window):
    from ui.main_window import MainWindow

    main_window.image_dock.setFloating(False)
    main_window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, main_window.image_dock)
    main_window.browser_dock.hide()
    main_window.close()
    again = MainWindow(show_dialogs=False)
    again.show()
    qtbot.waitExposed(again)
    try:
        assert again.dockWidgetArea(again.image_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
        assert not again.browser_dock.isVisible()
    finally:
        again.close()
        _CLOSED_WINDOWS.append(again)
