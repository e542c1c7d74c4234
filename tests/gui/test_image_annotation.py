"""2D keypoint annotation on a project image in the Image dock: a click at a known pixel
stores the current set's point there, a drag moves it, keys and the point's menu mark it
occluded or absent, every step is undone and redone on the shared undo stack (Edit >
Undo), and store errors are reported without losing what is saved."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from core.store import ProjectStore
from core.store.image_store import add_image, image_keypoints, set_image_keypoint
from tests.gui.conftest import open_and_show
from ui.view_grab import grab_widget

W, H = 320, 240  # not square, so swapped axes show
LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier
ANNOTATOR = "annotator_01"


def _picture() -> np.ndarray:
    """A mug-ish test picture: a grey background and a brown block with a handle."""
    yy, xx = np.mgrid[0:H, 0:W]
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[...] = (70 + yy * 60 // H)[..., None]
    body = (np.abs(xx - 140) < 70) & (np.abs(yy - 125) < 85)
    handle = (((xx - 222) ** 2 + (yy - 125) ** 2) < 40 ** 2) & \
        (((xx - 222) ** 2 + (yy - 125) ** 2) > 25 ** 2) & (xx > 205)
    rgb[body | handle] = (150, 95, 60)
    return rgb


@pytest.fixture
def image_project(project_copy, tmp_path):
    """The demo project copy with one 320 x 240 image in the mug category; (path, id)."""
    png = tmp_path / "mug_photo.png"
    Image.fromarray(_picture()).save(png)
    store = ProjectStore.open(project_copy)
    try:
        info = add_image(store, "mug", png)
    finally:
        store.close()
    return project_copy, info.id


def _open(qtbot, window, project, image_id: int):
    """Show a mug, act as ANNOTATOR, open the image; returns the installed UI."""
    open_and_show(qtbot, window, project, "mug")
    window.annotation.set_annotator(ANNOTATOR)
    ui = window.image_annotation
    qtbot.waitUntil(lambda: [i.id for i in ui.images.images] == [image_id], timeout=10000)
    ui.rebuild_open_menu()
    entry = next(a for a in ui.open_menu.actions()
                 if a.objectName() == f"actionOpenImage_{image_id}")
    entry.trigger()
    qtbot.waitUntil(lambda: ui.controller.image is not None, timeout=10000)
    assert window.image_view.has_image()
    window.resizeDocks([window.browser_dock, window.image_dock], [220, 640],
                       Qt.Orientation.Horizontal)
    window.resizeDocks([window.image_dock, window.guide_dock], [620, 120],
                       Qt.Orientation.Vertical)
    qtbot.wait(50)
    window.image_view.fit()
    return ui


def _set_id(window, number: int) -> int:
    sets = window.controller.store.category_sets("mug")
    return next(int(s) for s, a, n in zip(sets.set_ids, sets.set_annotators, sets.set_numbers,
                                         strict=True) if a == ANNOTATOR and n == number)


def _stored(window, image_id: int, number: int):
    """(x, y, state) of the annotator's set ``number`` on the image, or None."""
    set_id = _set_id(window, number)
    for r in image_keypoints(window.controller.store, image_id):
        if r.set_id == set_id:
            return r.x, r.y, r.state
    return None


def ann_stack(window):
    """The project's undo stack (the one Edit > Undo drives)."""
    return window.controller.undo_stack


def _vpos(view, x: float, y: float) -> QPoint:
    return view.view_position(x, y).toPoint()


def _click(qtbot, view, x: float, y: float) -> None:
    QTest.mouseClick(view.viewport(), LEFT, NO_MOD, _vpos(view, x, y))
    qtbot.wait(20)


def _mouse(widget, kind, pos: QPoint, buttons) -> None:
    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), LEFT, buttons,
                        NO_MOD)
    QApplication.sendEvent(widget, event)


def _drag(qtbot, view, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Press on ``start``, move in steps with the button held, release on ``end``."""
    port = view.viewport()
    a, b = _vpos(view, *start), _vpos(view, *end)
    _mouse(port, QEvent.Type.MouseButtonPress, a, LEFT)
    for t in np.linspace(0.1, 1.0, 8):
        p = QPoint(int(round(a.x() + t * (b.x() - a.x()))), int(round(a.y() + t * (b.y() - a.y()))))
        _mouse(port, QEvent.Type.MouseMove, p, LEFT)
        qtbot.wait(5)
    _mouse(port, QEvent.Type.MouseButtonRelease, b, Qt.MouseButton.NoButton)


def _near(stored, x: float, y: float, view) -> bool:
    tol = 1.0 / view.zoom + 0.01  # one screen pixel, in image pixels
    return stored is not None and abs(stored[0] - x) <= tol and abs(stored[1] - y) <= tol


def test_place_move_state_undo_redo(qtbot, main_window, image_project, artifacts_dir):
    project, image_id = image_project
    ui = _open(qtbot, main_window, project, image_id)
    view, ann, stack = main_window.image_view, main_window.annotation, ann_stack(main_window)
    assert not image_keypoints(main_window.controller.store, image_id)
    start = stack.count()

    # place: a click at a known pixel stores the current set's point there, visible
    ann.select_set(2)
    _click(qtbot, view, 100.5, 80.5)
    placed = _stored(main_window, image_id, 2)
    assert _near(placed, 100.5, 80.5, view) and placed[2] == "visible", placed
    assert stack.count() == start + 1
    assert ui.markers.markers[_set_id(main_window, 2)].pos().x() == pytest.approx(placed[0])
    assert ann.current_set != 2  # moved on to the annotator's next missing set

    # a click on the drawn point selects its set (and places nothing)
    _click(qtbot, view, placed[0] + 2, placed[1] - 1)
    assert ann.current_set == 2 and stack.count() == start + 1
    assert _stored(main_window, image_id, 2) == placed

    # move: drag the marker
    _drag(qtbot, view, placed[:2], (200.0, 150.0))
    qtbot.waitUntil(lambda: _near(_stored(main_window, image_id, 2), 200.0, 150.0, view),
                    timeout=5000)
    moved = _stored(main_window, image_id, 2)
    assert moved[2] == "visible" and stack.count() == start + 2

    # occluded: the O key while the image view has the focus; drawn hollow
    with qtbot.waitActive(main_window, timeout=5000):
        main_window.activateWindow()
    view.setFocus()
    ann.select_set(2)
    QTest.keyClick(view, Qt.Key.Key_O)
    assert _stored(main_window, image_id, 2) == (moved[0], moved[1], "occluded")
    marker = ui.markers.markers[_set_id(main_window, 2)]
    assert marker.state == "occluded" and marker.brush().style() == Qt.BrushStyle.NoBrush

    # absent: from the point's right-click menu; no position, listed, not drawn
    menu = ui.point_menu(_set_id(main_window, 2))
    absent = next(a for a in menu.actions() if a.objectName() == "actionImageAbsent")
    absent.trigger()
    assert _stored(main_window, image_id, 2) == (None, None, "absent")
    assert _set_id(main_window, 2) not in ui.markers.markers
    assert ui.legend.absent_numbers() == [3] and "absent: 3" in ui.legend.text()
    assert stack.count() == start + 4

    # undo restores every previous stored state, redo re-applies them
    states = [None, placed, moved, (moved[0], moved[1], "occluded"), (None, None, "absent")]
    undo = main_window.findChild(type(absent), "actionUndo")
    for expected in reversed(states[:-1]):
        undo.trigger()
        assert _stored(main_window, image_id, 2) == expected
    assert _set_id(main_window, 2) not in ui.markers.markers  # the first placement undone
    for expected in states[1:]:
        stack.redo()
        assert _stored(main_window, image_id, 2) == expected
    assert not main_window.errors.messages

    # a few more points for the picture: set 1 visible, set 5 occluded
    ann.select_set(0)
    _click(qtbot, view, 70.0, 50.0)
    ann.select_set(4)
    _click(qtbot, view, 222.0, 100.0)
    ann.select_set(4)  # placing moved on to the next missing set
    assert ui.controller.set_state("occluded")
    ann.select_set(1)
    _click(qtbot, view, 140.0, 200.0)
    ann.select_set(4)
    assert {m.point.number: m.state for m in ui.markers.markers.values()} == \
        {0: "visible", 4: "occluded", 1: "visible"}
    qtbot.wait(50)
    grab_widget(main_window).save(str(artifacts_dir / "image_annotation.png"))
    grab_widget(view).save(str(artifacts_dir / "image_annotation_view.png"))


def test_store_errors_are_reported_and_nothing_saved_is_lost(qtbot, main_window,
                                                            image_project):
    project, image_id = image_project
    ui = _open(qtbot, main_window, project, image_id)
    view, ann, store = main_window.image_view, main_window.annotation, main_window.controller.store
    errors = main_window.errors.messages

    # a teammate moves the point after we placed it: undo is refused with a message
    ann.select_set(3)
    _click(qtbot, view, 60.0, 60.0)
    ours = _stored(main_window, image_id, 3)
    record = next(r for r in image_keypoints(store, image_id)
                  if r.set_id == _set_id(main_window, 3))
    set_image_keypoint(store, image_id, record.set_id, 90.0, 95.0, "visible",
                       expected_version=record.version)
    ann_stack(main_window).undo()
    assert errors and errors[-1][0] == "Undo failed" and "someone else" in errors[-1][1]
    assert _stored(main_window, image_id, 3) == (90.0, 95.0, "visible")  # theirs is kept
    assert ours != (90.0, 95.0, "visible")

    # an occluded point outside the frame cannot become visible: the store says why
    set_image_keypoint(store, image_id, _set_id(main_window, 3), -12.0, 40.0, "occluded",
                       expected_version=record.version + 1)
    ui.controller.refresh()
    ann.select_set(3)
    n = len(errors)
    assert not ui.controller.set_state("visible")
    assert len(errors) == n + 1 and "failed" in errors[-1][0] and "inside" in errors[-1][1]
    assert _stored(main_window, image_id, 3) == (-12.0, 40.0, "occluded")

    # a write that fails in the store (a broken lookup) is reported, the app carries on
    import ui.image_annotation.controller as controller_module

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    original = controller_module.write_point
    controller_module.write_point = broken
    try:
        ann.select_set(6)
        _click(qtbot, view, 150.0, 120.0)
    finally:
        controller_module.write_point = original
    assert errors[-1] == ("Place image point 7 failed", "disk full")
    assert _stored(main_window, image_id, 6) is None
    ann.select_set(6)
    _click(qtbot, view, 150.0, 120.0)  # works again
    assert _near(_stored(main_window, image_id, 6), 150.0, 120.0, view)

    # without an annotator nothing is written and the user is told
    ann.set_annotator(None)
    before = image_keypoints(store, image_id)
    _click(qtbot, view, 30.0, 30.0)
    assert errors[-1][0] == "No annotator"
    assert image_keypoints(store, image_id) == before
    assert main_window.isVisible()


def test_edits_are_drawn_from_the_write_without_a_read_on_the_gui_thread(
        qtbot, main_window, image_project, monkeypatch):
    """After the first point of a set (the set is new: read once), an edit's point is drawn
    from what the write returned: no read of the image's points on the GUI thread."""
    import threading

    import ui.image_annotation.controller as controller_module

    project, image_id = image_project
    ui = _open(qtbot, main_window, project, image_id)
    view, ann = main_window.image_view, main_window.annotation
    ann.select_set(3)
    _click(qtbot, view, 120.0, 90.0)
    assert _stored(main_window, image_id, 3)[2] == "visible"

    gui_reads: list[int] = []
    real = controller_module.image_keypoints

    def counted(store, image):
        if threading.current_thread() is threading.main_thread():
            gui_reads.append(image)
        return real(store, image)

    monkeypatch.setattr(controller_module, "image_keypoints", counted)
    ann.select_set(3)
    assert ui.controller.set_state("occluded")
    _drag(qtbot, view, (120.0, 90.0), (160.0, 110.0))
    qtbot.waitUntil(lambda: _near(_stored(main_window, image_id, 3), 160.0, 110.0, view),
                    timeout=5000)
    stored = _stored(main_window, image_id, 3)
    marker = ui.markers.markers[_set_id(main_window, 3)]
    assert marker.state == "occluded" == stored[2]
    assert marker.pos().x() == pytest.approx(stored[0])
    assert marker.pos().y() == pytest.approx(stored[1])
    assert ui.controller.point_of_number(3).record.version == \
        next(r.version for r in real(main_window.controller.store, image_id)
             if r.set_id == _set_id(main_window, 3))
    assert gui_reads == [], "the image's points were read on the GUI thread after an edit"
