"""Annotating in the 3D view: a click at a known surface point stores it on the right face,
keys pick sets, Space marks absent, undo/redo restore the exact database state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from sqlalchemy import text

from core.geometry.surface import surface_point_xyz
from tests.gui.conftest import open_and_show, visible_faces, widget_pos
from ui.view_grab import grab_widget


def _rows(window) -> list[tuple]:
    with window.controller.store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT id, model_id, set_id, state, face_index, w0, w1, w2, x, y, z "
            "FROM keypoint ORDER BY id"))]


def _click_at(qtbot, window, xyz) -> None:
    widget = window.mesh_view.plotter.interactor
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     widget_pos(window.mesh_view, xyz))
    qtbot.wait(20)


def _visible_face_point(view, scene):
    """A face centre that faces the camera near the middle of the view."""
    return visible_faces(view, scene, limit=1)[0]


def test_click_places_point_on_the_clicked_face(qtbot, main_window, project_copy,
                                                artifacts_dir):
    name = open_and_show(qtbot, main_window, project_copy, "mug")
    main_window.annotation.set_annotator("newcomer", create=True)
    scene = main_window.mesh_view.scene
    face, target = _visible_face_point(main_window.mesh_view, scene)
    main_window.annotation.select_set(4)
    before = len(_rows(main_window))
    _click_at(qtbot, main_window, target)
    rows = _rows(main_window)
    assert len(rows) == before + 1, "the click stored no point"
    row = rows[-1]
    stored = surface_point_xyz(scene.vertices, scene.faces, row[4], row[5:8])
    diag = np.linalg.norm(np.ptp(scene.vertices, axis=0))
    assert np.linalg.norm(np.asarray(stored) - target) < 0.01 * diag
    assert np.allclose(stored, row[8:11])
    assert main_window.progress.state_of(name, 4) == 1  # the progress matrix shows it
    grab_widget(main_window).save(str(artifacts_dir / f"annotation_click_{name}.png"))


def test_keys_absent_and_undo_redo_restore_exact_state(qtbot, main_window, project_copy):
    open_and_show(qtbot, main_window, project_copy, "chair")
    ann = main_window.annotation
    ann.set_annotator("annotator_00")
    scene = main_window.mesh_view.scene
    states = [_rows(main_window)]
    # keys choose sets: "3" -> set 3 (index 2), "W" -> set 10 (index 9)
    with qtbot.waitActive(main_window, timeout=5000):
        main_window.activateWindow()
    target_widget = main_window.mesh_view.plotter.interactor
    target_widget.setFocus()
    QTest.keyClick(target_widget, Qt.Key.Key_W)
    assert ann.current_set == 9
    QTest.keyClick(target_widget, Qt.Key.Key_3)
    assert ann.current_set == 2
    face, target = _visible_face_point(main_window.mesh_view, scene)
    assert ann.place_at(face, target)
    states.append(_rows(main_window))
    ann.select_set(2)
    assert ann.mark_absent()  # replaces the point just placed
    assert main_window.progress.state_of(scene.info.name, 2) == 2
    states.append(_rows(main_window))
    ann.select_set(2)
    assert ann.delete_current()
    states.append(_rows(main_window))
    stack = ann.undo_stack
    assert stack.count() == 3
    for i in range(3, 0, -1):
        stack.undo()
        assert _strip(_rows(main_window)) == _strip(states[i - 1])
    for i in range(1, 4):
        stack.redo()
        assert _strip(_rows(main_window)) == _strip(states[i])


def _strip(rows):
    """Rows without the database id (an undone delete comes back with its id anyway)."""
    return sorted(r[1:] for r in rows)


def test_new_annotator_places_own_points_and_walks_models(qtbot, main_window, project_copy):
    open_and_show(qtbot, main_window, project_copy, "airplane")
    main_window.annotation.set_annotator("newcomer", create=True)
    scene = main_window.mesh_view.scene
    face, target = _visible_face_point(main_window.mesh_view, scene)
    before = _rows(main_window)
    assert main_window.annotation.place_at(face, target)  # creates the newcomer's set 1
    assert len(_rows(main_window)) == len(before) + 1
    shown = main_window.mesh_view.title.text()
    assert "1 keypoints" in shown  # only the current annotator's points are drawn
    # N / P walk the category
    first = main_window.selection.model
    with qtbot.waitSignal(main_window.mesh_view.scene_shown, timeout=30000):
        main_window.annotate_actions.step_model(1)
    assert main_window.selection.model != first


def test_progress_matrix_click_selects_model_and_set(qtbot, main_window, project_copy):
    open_and_show(qtbot, main_window, project_copy, "mug")
    main_window.annotation.set_annotator("annotator_02")
    matrix = main_window.progress
    assert matrix.rowCount() == 24 and 8 <= matrix.columnCount() <= 16
    placed = sum(matrix.state_of(m, n) == 1 for m in matrix._models for n in matrix._numbers)
    assert placed > 24 * 4  # the demo annotator labelled most points
    with qtbot.waitSignal(main_window.mesh_view.scene_shown, timeout=30000):
        matrix.cellClicked.emit(5, 2)
    assert main_window.selection.model == ("mug", matrix._models[5])
    assert main_window.annotation.current_set == matrix._numbers[2]


def test_file_menu_imports_and_exports_in_the_background(qtbot, main_window, project_copy,
                                                        tmp_path, keypointnet_sample):
    import json

    open_and_show(qtbot, main_window, project_copy, "mug")
    fa = main_window.file_actions
    names = {a.objectName() for a in main_window.findChildren(type(main_window.menuBar()
                                                                      .actions()[0]))}
    assert {"actionImport_keypointnet", "actionImport_shapenet", "actionExport_pp",
            "actionExport_bundle"} <= names
    with qtbot.waitSignal(fa.imported, timeout=20000):
        fa.import_files("keypointnet", [str(keypointnet_sample / "chair_88382b87.json")])
    qtbot.waitUntil(lambda: "88382b877be91b2a572f8e1c1caad99e"
                    in main_window.browser.model_names("chair"), timeout=10000)
    out = tmp_path / "mug_export"
    with qtbot.waitSignal(fa.exported, timeout=30000) as sig:
        fa.export_files("slicer", str(out), "mug")
    assert len(sig.args[1]) > 24 and all(p.endswith(".mrk.json") for p in sig.args[1])
    doc = json.loads(Path(sig.args[1][0]).read_text())
    assert doc["markups"][0]["controlPoints"]
    bad = tmp_path / "bad.json"
    bad.write_text("[{]")
    with qtbot.waitSignal(main_window.errors.reported, timeout=10000) as err:
        fa.import_files("keypointnet", [str(bad)])
    assert "bad.json" in err.args[1] and "nothing was imported" in err.args[0]
