"""Templates and the Guide dock (CPNet's process): the Annotate menu keeps the shown model
as a template (one undo step each, exact database state back on undo); the Guide shows
the annotator's template with numbered coloured points, highlights the current set,
follows the main camera's orientation, and says so when a template cannot be loaded."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu
from sqlalchemy import text

from core.store.edits import KeypointEditor
from core.store.errors import PermissionDenied
from tests.gui.conftest import open_and_show
from tests.screens import count_palette_pixels
from ui.guide_panel import HIGHLIGHT_SCALE, LOADING, NO_TEMPLATE
from ui.palette import SET_PALETTE
from ui.template_actions import category_id
from ui.view_grab import grab_widget

ANNOTATOR = "annotator_01"


def _action(window, name: str) -> QAction:
    action = window.findChild(QAction, name)
    assert action is not None, f"no action {name}"
    return action


def _template_rows(window) -> list[tuple]:
    with window.controller.store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT id, annotator_id, category_id, slot, model_id FROM template ORDER BY id"))]


def _templates(window, category: str, annotator: str = ANNOTATOR) -> dict[int, int]:
    store = window.controller.store
    return KeypointEditor(store, annotator).templates(category_id(store, category))


def _placed(window, model_id: int, annotator: str = ANNOTATOR):
    """(numbers, xyz) of the annotator's placed points on a model."""
    kp = window.controller.store.keypoints_of_model(model_id)
    rows = [i for i, a in enumerate(kp.annotators) if a == annotator]
    return kp.numbers[rows], kp.xyz[rows]


def _use_as_template(qtbot, window) -> None:
    with qtbot.waitSignal(window.guide.template_shown, timeout=30000):
        _action(window, "actionUseAsTemplate").trigger()


def _angle_deg(a, b) -> float:
    return float(np.degrees(np.arccos(np.clip(np.dot(a, b), -1.0, 1.0))))


def test_template_action_guide_markers_and_undo(qtbot, main_window, project_copy,
                                                artifacts_dir):
    w = main_window
    name = open_and_show(qtbot, w, project_copy, "chair", "chair_003")
    w.annotation.set_annotator(ANNOTATOR)
    qtbot.waitUntil(lambda: w.guide.message.text() == NO_TEMPLATE, timeout=10000)
    model_id = w.mesh_view.scene.info.id
    before = _template_rows(w)

    said: list[str] = []
    w.guide.message_changed.connect(said.append)
    _use_as_template(qtbot, w)
    assert said == [LOADING, ""]  # loaded off the GUI thread, "Loading…" meanwhile
    assert _templates(w, "chair") == {1: model_id}
    guide = w.guide
    numbers, xyz = _placed(w, model_id)
    assert len(numbers) >= 8
    assert guide.scene.info.id == model_id and guide.slot == 1
    assert name in guide.title.text() and f"{len(numbers)} points" in guide.title.text()
    assert guide.combo.currentText() == f"Slot 1: {name}"
    assert not guide.message.isVisible()
    # one sphere per point, one label (the 1-based set number) per point
    markers = guide.plotter.actors["markers"].GetMapper().GetInput()
    per_sphere = markers.GetNumberOfPoints() // len(numbers)
    assert per_sphere * len(numbers) == markers.GetNumberOfPoints()
    assert np.allclose(np.sort(guide.marker_centres(), axis=0), np.sort(xyz, axis=0))
    labels = sorted(n for n in guide.plotter.actors if n.endswith("-labels"))
    assert labels == sorted(f"label{int(n)}-labels" for n in numbers)

    # the slot menus say which slots are taken
    w.template_actions.update_slot_actions()
    assert _action(w, "actionSetTemplateSlot1").text() == f"Slot 1 — {name}"
    assert _action(w, "actionSetTemplateSlot2").text() == "Slot 2 (empty)"
    assert not _action(w, "actionClearTemplateSlot2").isEnabled()
    # the same model again: nothing changes
    assert not w.template_actions.use_current_model()
    assert w.controller.undo_stack.count() == 1

    # screenshot: the template with numbered coloured markers beside another model
    with qtbot.waitSignal(w.mesh_view.scene_shown, timeout=30000):
        w.selection.select_model("chair", "chair_005")
    assert guide.scene.info.id == model_id  # same category: the guide stays
    w.annotation.select_set(int(numbers[2]))
    qtbot.wait(100)
    grab_widget(w).save(str(artifacts_dir / "guide_panel.png"))
    shot = grab_widget(guide.plotter.interactor).toImage()
    shot.save(str(artifacts_dir / "guide_panel_view.png"))
    from tests.screens import load_rgb
    img = load_rgb(artifacts_dir / "guide_panel_view.png")
    assert count_palette_pixels(img, (0, 0, img.shape[0], img.shape[1]), SET_PALETTE) > 200

    # undo: the row is gone, the guide says there is no template; redo brings it back
    with qtbot.waitSignal(guide.message_changed, timeout=10000,
                          check_params_cb=lambda m: m == NO_TEMPLATE):
        w.controller.undo_stack.undo()
    assert _template_rows(w) == before
    assert guide.scene is None and not guide.plotter.actors
    with qtbot.waitSignal(guide.template_shown, timeout=30000):
        w.controller.undo_stack.redo()
    assert _templates(w, "chair") == {1: model_id}


def test_slot_replace_and_clear_undo_exactly(qtbot, main_window, project_copy):
    w = main_window
    open_and_show(qtbot, w, project_copy, "mug", "mug_002")
    w.annotation.set_annotator(ANNOTATOR)
    first = w.mesh_view.scene.info.id
    with qtbot.waitSignal(w.guide.template_shown, timeout=30000):
        _action(w, "actionSetTemplateSlot3").trigger()
    rows_first = _template_rows(w)
    assert _templates(w, "mug") == {3: first}

    with qtbot.waitSignal(w.mesh_view.scene_shown, timeout=30000):
        w.selection.select_model("mug", "mug_005")
    second = w.mesh_view.scene.info.id
    with qtbot.waitSignal(w.guide.template_shown, timeout=30000):
        _action(w, "actionSetTemplateSlot3").trigger()  # replaces mug_002
    assert _templates(w, "mug") == {3: second}
    assert w.guide.scene.info.name == "mug_005"
    with qtbot.waitSignal(w.guide.template_shown, timeout=30000):
        w.controller.undo_stack.undo()
    assert _template_rows(w) == rows_first  # the same row, the previous model
    assert w.guide.scene.info.name == "mug_002"

    # clear, then undo: slot 3 holds mug_002 again
    assert w.template_actions.clear_slot(3)
    assert _templates(w, "mug") == {}
    qtbot.waitUntil(lambda: w.guide.message.text() == NO_TEMPLATE, timeout=10000)
    with qtbot.waitSignal(w.guide.template_shown, timeout=30000):
        w.controller.undo_stack.undo()
    assert _templates(w, "mug") == {3: first}
    assert not w.template_actions.clear_slot(5)  # empty: nothing to undo
    # another annotator has no templates of their own
    with qtbot.waitSignal(w.guide.message_changed, timeout=10000,
                          check_params_cb=lambda m: m == NO_TEMPLATE):
        w.annotation.set_annotator("annotator_02")
    assert _templates(w, "mug", ANNOTATOR) == {3: first}

    # a refused write is said in the status bar; nothing raises, nothing is pushed
    count = w.controller.undo_stack.count()

    def refuse(*_args, **_kwargs):
        raise PermissionDenied("annotator_02 (annotator) cannot change templates here")

    w.annotation.editor.set_template = refuse
    assert not w.template_actions.use_current_model()
    assert "cannot change templates" in w.statusBar().currentMessage()
    assert w.controller.undo_stack.count() == count


def test_current_set_is_highlighted(qtbot, main_window, project_copy):
    w = main_window
    open_and_show(qtbot, w, project_copy, "airplane", "airplane_004")
    w.annotation.set_annotator(ANNOTATOR)
    _use_as_template(qtbot, w)
    guide = w.guide
    numbers, xyz = _placed(w, guide.scene.info.id)
    for row in (0, len(numbers) - 1, 1):
        n = int(numbers[row])
        w.annotation.select_set(n)
        assert guide.highlighted_set == n
        actor = guide.highlight_actor()
        assert actor is not None and actor.GetVisibility()
        bounds = np.array(actor.GetBounds()).reshape(3, 2)
        assert np.allclose(bounds.mean(axis=1), xyz[row], atol=guide.marker_radius * 0.1)
        size = bounds[:, 1] - bounds[:, 0]
        assert np.allclose(size, 2 * guide.marker_radius * HIGHLIGHT_SCALE, rtol=0.05)
        assert "highlight-silhouette" in guide.plotter.actors  # outlined
        colour = np.array(actor.GetProperty().GetColor()) * 255
        assert np.allclose(colour, SET_PALETTE[n % len(SET_PALETTE)], atol=1)
    missing = [n for n in range(16) if n not in set(int(v) for v in numbers)]
    if missing:
        w.annotation.select_set(missing[0])
        assert guide.highlighted_set is None and guide.highlight_actor() is None


def test_guide_camera_follows_main_orientation(qtbot, main_window, project_copy):
    w = main_window
    open_and_show(qtbot, w, project_copy, "chair", "chair_001")
    w.annotation.set_annotator(ANNOTATOR)
    _use_as_template(qtbot, w)
    guide, main_cam = w.guide, w.mesh_view.plotter.camera

    def main_direction():
        d = np.subtract(main_cam.focal_point, main_cam.position)
        return d / np.linalg.norm(d)

    assert _angle_deg(guide.guide_direction(), main_direction()) < 1.0
    distance = guide.plotter.camera.GetDistance()
    for azimuth, elevation in ((40.0, 0.0), (-75.0, 25.0), (120.0, -30.0)):
        main_cam.Azimuth(azimuth)  # fires the camera's ModifiedEvent
        main_cam.Elevation(elevation)
        main_cam.OrthogonalizeViewUp()
        w.mesh_view.plotter.render()
        assert guide._camera_timer.isActive()  # throttled: not rendered inside the event
        start = time.perf_counter()
        qtbot.waitUntil(lambda: _angle_deg(guide.guide_direction(), main_direction()) < 1.0,
                        timeout=2000)
        waited_ms = (time.perf_counter() - start) * 1000
        assert waited_ms < 1000
        up = np.array(guide.plotter.camera.GetViewUp())
        assert _angle_deg(up, np.array(main_cam.GetViewUp()) /
                          np.linalg.norm(main_cam.GetViewUp())) < 1.0
    # zooming the main view does not zoom the guide (it frames its own model)
    main_cam.Zoom(2.0)
    w.mesh_view.plotter.render()
    qtbot.wait(guide.interval_ms + 100)
    assert abs(guide.plotter.camera.GetDistance() - distance) < 1e-6 * distance


def test_missing_template_mesh_is_reported_and_app_keeps_working(qtbot, main_window,
                                                               project_copy):
    w = main_window
    open_and_show(qtbot, w, project_copy, "chair", "chair_006")
    w.annotation.set_annotator(ANNOTATOR)
    _use_as_template(qtbot, w)
    mesh_file = w.guide.scene.info.mesh_file
    mesh_file.rename(mesh_file.with_suffix(".gone"))
    with qtbot.waitSignal(w.guide.message_changed, timeout=30000,
                          check_params_cb=lambda m: m.startswith("Cannot load template")):
        w.guide.refresh()
    message = w.guide.message.text()
    assert "chair_006" in message and "slot 1" in message and w.guide.message.isVisible()
    assert w.guide.scene is None and w.guide.combo.count() == 1

    # the app keeps working: another model loads, becomes template 2 and is shown
    with qtbot.waitSignal(w.mesh_view.scene_shown, timeout=30000):
        w.selection.select_model("chair", "chair_007")
    with qtbot.waitSignal(w.guide.template_shown, timeout=30000):
        assert w.template_actions.use_current_model()
    assert _templates(w, "chair") == {1: w.guide.entries[0][1].id,
                                      2: w.mesh_view.scene.info.id}
    assert w.guide.slot == 2 and not w.guide.message.isVisible()
    # choosing the broken one again says so again
    with qtbot.waitSignal(w.guide.message_changed, timeout=30000,
                          check_params_cb=lambda m: m.startswith("Cannot load template")):
        w.guide.combo.activated.emit(0)


def test_guide_dock_in_view_menu_and_layout(qtbot, main_window):
    w = main_window
    dock = w.guide_dock
    assert dock.objectName() == "guideDock" and dock.windowTitle() == "Guide"
    view_menu = w.menuBar().findChild(QMenu, "viewMenu")
    assert dock.toggleViewAction() in view_menu.actions()
    state = w.saveState()
    dock.hide()
    assert not dock.isVisible()
    assert w.restoreState(state)
    assert dock.isVisible()
