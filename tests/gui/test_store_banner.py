"""A database that stops answering: the banner names it and says why, the 3D view keeps
its last state, clicks wait in order (nothing lost, nothing written), undo waits too, and
once the database is back the waiting points are committed and the banner goes away.

The database is made unavailable for real: another connection holds an exclusive lock
on the project file, exactly what a long import by a teammate's app does.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.gui.conftest import open_and_show, visible_faces, widget_pos
from ui.view_grab import grab_widget

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier

_POINTS = ("SELECT cs.number, k.face_index, k.x, k.y, k.z FROM keypoint k "
           "JOIN correspondence_set cs ON cs.id = k.set_id "
           "JOIN annotator a ON a.id = cs.annotator_id "
           "WHERE a.name = 'newcomer' AND k.model_id = ? ORDER BY cs.number")


@pytest.fixture(params=["refused", "no_answer"])
def outage(request, monkeypatch):
    """How the locked database shows: "refused" = the store gives up quickly
    (StoreUnavailable, short busy timeout configured) and the retry timer takes over;
    "no_answer" = default timeouts, the write is still waiting when the GUI stops
    waiting for it."""
    if request.param == "refused":
        import core.store.engine as engine
        import core.store.project_store as project_store

        monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
        monkeypatch.setattr(project_store, "WRITE_ATTEMPTS", 2)
    return request.param


def _points(conn: sqlite3.Connection, model_id: int) -> list[tuple]:
    return [tuple(r) for r in conn.execute(_POINTS, (model_id,))]


def _apart(view, faces, taken: list, min_px: float = 40.0):
    """A visible (face, centre, widget position) at least ``min_px`` on screen from the
    world points ``taken`` (as drawn now: the banner moves the view down)."""
    used = [widget_pos(view, c) for c in taken]
    for face, centre in faces:
        p = widget_pos(view, centre)
        if all(np.hypot(p.x() - q.x(), p.y() - q.y()) >= min_px for q in used):
            taken.append(centre)
            return face, centre, p
    raise AssertionError("no free visible face")


def _close_answering(qtbot, window, button_text: str) -> str:
    """Close ``window`` (asking as the app does) and press ``button_text`` in the
    unsaved-changes box; returns the box's text."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from ui.close_guard import CLOSE_BOX_NAME

    seen: list[str] = []
    tries = [0]

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or box.objectName() != CLOSE_BOX_NAME:
            tries[0] += 1
            if tries[0] < 250:  # (5 s; then the assertion below fails, nothing is left)
                QTimer.singleShot(20, answer)
            return
        seen.append(box.text())
        next(b for b in box.buttons() if b.text() == button_text).click()

    window.errors.show_dialogs = True
    try:
        QTimer.singleShot(0, answer)
        window.close()
    finally:
        window.errors.show_dialogs = False
    assert seen, "the window closed without asking"
    return seen[0]


def test_lost_database_banner_queues_clicks_and_recovers(qtbot, main_window, project_copy,
                                                         artifacts_dir, outage):
    open_and_show(qtbot, main_window, project_copy, "mug")
    ann, view, writes = main_window.annotation, main_window.mesh_view, main_window.annotation.writes
    banner = main_window.store_banner
    ann.set_annotator("newcomer", create=True)
    scene = view.scene
    model_id = scene.info.id
    widget = view.plotter.interactor
    faces = visible_faces(view, scene)
    taken: list = []
    face_a, centre_a, _ = _apart(view, faces, taken)
    assert ann.place_at(face_a, centre_a)  # acknowledged before the outage
    assert not banner.isVisible()

    locker = sqlite3.connect(str(project_copy), isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # the database stops taking writes
        before = _points(locker, model_id)
        assert [r[0] for r in before] == [0]
        shown, camera = view.keypoints, tuple(view.plotter.camera.position)
        steps = ann.undo_stack.count()

        ann.select_set(3)
        face_b, _, pos_b = _apart(view, faces, taken)
        QTest.mouseClick(widget, LEFT, NO_MOD, pos_b)  # point 4, while the lock is held
        qtbot.waitUntil(banner.isVisible, timeout=10000)
        assert writes.count == 1
        assert "1 change waiting" in banner.count_label.text()
        assert str(project_copy) in banner.title.text()
        problem = banner.detail.text()
        assert ("locked" in problem) if outage == "refused" else ("does not answer" in problem)
        assert view.keypoints is shown, "the 3D view was redrawn"
        assert tuple(view.plotter.camera.position) == camera
        assert _points(locker, model_id) == before, "something was written while locked"

        ann.select_set(4)
        face_c, _, pos_c = _apart(view, faces, taken)
        QTest.mouseClick(widget, LEFT, NO_MOD, pos_c)  # point 5: queued behind point 4
        qtbot.wait(50)
        assert writes.count == 2 and "2 changes waiting" in banner.count_label.text()

        # undo waits too: the history stays as it is while changes are waiting
        index = ann.undo_stack.index()
        ann.undo_stack.undo()
        qtbot.waitUntil(lambda: ann.undo_stack.index() == index, timeout=2000)
        assert ann.undo_stack.count() == steps
        if outage == "refused":  # "Retry now" tries at once (and fails: still locked)
            tries = writes.attempts
            qtbot.waitUntil(banner.retry_button.isEnabled, timeout=5000)
            QTest.mouseClick(banner.retry_button, LEFT)
            qtbot.waitUntil(lambda: writes.attempts > tries, timeout=5000)
            assert banner.isVisible() and writes.count == 2
        assert _points(locker, model_id) == before
        grab_widget(main_window).save(str(artifacts_dir / f"store_banner_{outage}.png"))

        # closing now would lose the waiting changes: the window asks, and stays open
        asked = _close_answering(qtbot, main_window, "Keep the window open")
        assert "2 changes could not be saved yet" in asked
        assert main_window.isVisible() and writes.count == 2
        assert not main_window.image_annotation.controller._closed, \
            "an installed panel shut down although the window stays open"
    finally:
        locker.execute("ROLLBACK")  # the database is back
        locker.close()

    with qtbot.waitSignal(writes.restored, timeout=20000):
        pass
    assert not banner.isVisible()
    assert writes.count == 0
    assert "database is back" in main_window.statusBar().currentMessage()
    check = sqlite3.connect(str(project_copy))
    try:
        rows = _points(check, model_id)
    finally:
        check.close()
    assert [r[0] for r in rows] == [0, 3, 4]  # A kept; B and C committed, in order
    assert [r[1] for r in rows] == [face_a, face_b, face_c]
    assert ann.undo_stack.count() == steps + 2  # one step each, once saved
    assert len(view.keypoints) == 3
    assert not main_window.errors.messages
    ann.undo_stack.undo()  # undo works again: the last saved click goes
    assert len(view.keypoints) == 2
