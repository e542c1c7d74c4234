"""Dragging a keypoint marker in the 3D view: real mouse events on the VTK interactor, the
marker follows the surface, the camera stays put, release writes one move (one undo step),
Escape cancels, a click on a marker selects its set."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from sqlalchemy import text

from core.geometry.surface import surface_point_xyz
from tests.gui.conftest import open_and_show, visible_faces, widget_pos
from ui.view_grab import grab_widget

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


def _row(window, keypoint_id: int) -> tuple:
    """(face, w0, w1, w2, x, y, z, version) of a keypoint, read back from the database."""
    with window.controller.store.engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT face_index, w0, w1, w2, x, y, z, version FROM keypoint WHERE id = :i"),
            {"i": keypoint_id}).one())


def _count(window) -> int:
    with window.controller.store.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM keypoint")).scalar_one()


def _camera(view) -> tuple:
    cam = view.plotter.camera
    return tuple(np.round(np.r_[cam.position, cam.focal_point, cam.up], 9))


def _drawn_marker(view) -> np.ndarray:
    """Centre of the (single) marker as the VTK actor draws it."""
    import pyvista as pv

    return pv.wrap(view.plotter.actors["keypoints"].GetMapper().GetInput()).points.mean(0)


def _screen_dist(a: QPoint, b: QPoint) -> float:
    return float(np.hypot(a.x() - b.x(), a.y() - b.y()))


def _placed_marker(qtbot, window, project):
    """Open the mug, place newcomer's point 1 on a visible face; (view, scene, id, faces)."""
    open_and_show(qtbot, window, project, "mug")
    ann = window.annotation
    ann.set_annotator("newcomer", create=True)
    view = window.mesh_view
    scene = view.scene
    faces = visible_faces(view, scene)
    assert ann.place_at(*faces[0])
    assert view.keypoints is not None and len(view.keypoints) == 1
    return view, scene, int(view.keypoints.keypoint_ids[0]), faces


def _drag(qtbot, widget, start: QPoint, end: QPoint, steps: int = 6) -> None:
    """Press at ``start`` and move to ``end`` in steps (the button stays down)."""
    QTest.mousePress(widget, LEFT, NO_MOD, start)
    for t in np.linspace(0.0, 1.0, steps + 1)[1:]:
        p = QPoint(int(round(start.x() + (end.x() - start.x()) * t)),
                   int(round(start.y() + (end.y() - start.y()) * t)))
        QTest.mouseMove(widget, p)
        qtbot.wait(40)  # one frame of the drag's follow timer


def test_drag_moves_point_along_surface_in_one_undo_step(qtbot, main_window, project_copy,
                                                         artifacts_dir):
    view, scene, kp_id, faces = _placed_marker(qtbot, main_window, project_copy)
    ann = main_window.annotation
    widget = view.plotter.interactor
    diag = np.linalg.norm(np.ptp(scene.vertices, axis=0))
    before = _row(main_window, kp_id)
    start = widget_pos(view, view.marker_centres()[0])
    # the target: another visible face, clearly away from the marker on screen
    target_face, target = next((f, c) for f, c in faces[1:]
                               if 60 <= _screen_dist(widget_pos(view, c), start) <= 250)
    end = widget_pos(view, target)
    steps, n_rows, camera = ann.undo_stack.count(), _count(main_window), _camera(view)

    _drag(qtbot, widget, start, end)
    # mid-drag: the marker follows the surface, nothing is written, the camera stays
    assert np.linalg.norm(view.marker_centres()[0] - target) < 0.01 * diag
    assert np.linalg.norm(_drawn_marker(view) - target) < 0.01 * diag
    assert _row(main_window, kp_id) == before
    assert _camera(view) == camera
    grab_widget(main_window).save(str(artifacts_dir / "drag_move_mid_drag.png"))
    QTest.mouseRelease(widget, LEFT, NO_MOD, end)
    qtbot.wait(20)

    after = _row(main_window, kp_id)
    face, bary, xyz = after[0], np.array(after[1:4]), np.array(after[4:7])
    assert np.linalg.norm(xyz - target) < 0.01 * diag, "the point is not where it was dropped"
    assert np.allclose(surface_point_xyz(scene.vertices, scene.faces, face, bary), xyz)
    assert face == target_face
    assert _camera(view) == camera, "the camera moved during a marker drag"
    assert ann.undo_stack.count() == steps + 1, "a drag must be exactly one undo step"
    assert _count(main_window) == n_rows  # moved, not duplicated
    assert np.allclose(view.marker_centres()[0], xyz)

    ann.undo_stack.undo()
    assert _row(main_window, kp_id)[:7] == before[:7]  # face, bary, xyz exactly as before
    assert np.allclose(view.marker_centres()[0], before[4:7])
    ann.undo_stack.redo()
    assert _row(main_window, kp_id)[:7] == after[:7]


def test_escape_cancels_a_drag_and_a_click_selects_the_set(qtbot, main_window, project_copy):
    view, scene, kp_id, faces = _placed_marker(qtbot, main_window, project_copy)
    ann = main_window.annotation
    widget = view.plotter.interactor
    with qtbot.waitActive(main_window, timeout=5000):
        main_window.activateWindow()
    before, steps, camera = _row(main_window, kp_id), ann.undo_stack.count(), _camera(view)
    origin = view.marker_centres()[0].copy()
    start = widget_pos(view, origin)
    far = next(c for _f, c in faces[1:]
               if 60 <= _screen_dist(widget_pos(view, c), start) <= 250)
    end = widget_pos(view, far)

    _drag(qtbot, widget, start, end)
    assert not np.allclose(view.marker_centres()[0], origin)  # it follows the cursor
    QTest.keyClick(widget, Qt.Key.Key_Escape)
    assert np.allclose(view.marker_centres()[0], origin)  # back where it was
    assert np.allclose(_drawn_marker(view), origin, atol=1e-6)
    QTest.mouseRelease(widget, LEFT, NO_MOD, end)
    qtbot.wait(20)
    assert _row(main_window, kp_id) == before, "a cancelled drag wrote to the database"
    assert ann.undo_stack.count() == steps
    assert _camera(view) == camera

    # a press and release on the marker without motion selects its set, places nothing
    ann.select_set(5)
    n_rows = _count(main_window)
    QTest.mouseClick(widget, LEFT, NO_MOD, start)
    qtbot.wait(20)
    assert ann.current_set == 0  # newcomer's point 1 is set number 0
    assert _count(main_window) == n_rows and _row(main_window, kp_id) == before
    assert ann.undo_stack.count() == steps

    # a drag that starts off the markers still turns the camera (and writes nothing)
    _drag(qtbot, widget, end, QPoint(end.x() + 120, end.y() + 40))
    QTest.mouseRelease(widget, LEFT, NO_MOD, QPoint(end.x() + 120, end.y() + 40))
    qtbot.wait(20)
    assert _camera(view) != camera, "dragging the surface should rotate the camera"
    assert _row(main_window, kp_id) == before and ann.undo_stack.count() == steps
