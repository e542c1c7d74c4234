"""The Embeddings dock on a real main window: live training (plots, PCA preview colours,
pause / resume / stop, checkpoint hand-over) and the inspector (pick on A, heatmaps on B).

Real trainer, real checkpoints, real VTK views, a small real demo project (6 mugs).
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from core.store import ProjectStore
from tests.gui.conftest import open_and_show
from tests.screens import fraction_not_color, load_rgb
from ui.view_grab import grab_widget

CATEGORY = "mug"


@pytest.fixture(scope="module")
def mini_project(tmp_path_factory):
    from core.demo.build_project import build_demo_project

    return build_demo_project(tmp_path_factory.mktemp("emb") / "mini", n_models=6,
                              categories=(CATEGORY,))


def _dock(qtbot, window, project):
    open_and_show(qtbot, window, project, CATEGORY)
    dock = window.embeddings
    qtbot.waitUntil(lambda: dock.training.category == CATEGORY, timeout=10000)
    return dock


def _setup(panel, epochs: int, points: int = 256) -> None:
    panel.epochs.setValue(epochs)
    panel.points.setValue(points)


def test_training_streams_into_plots_and_preview_then_hands_over(qtbot, main_window,
                                                                 mini_project, artifacts_dir):
    w = main_window
    dock = _dock(qtbot, w, mini_project)
    panel = dock.training
    _setup(panel, epochs=2)
    w.findChild(type(w.menuBar().actions()[0]), "actionTrainEmbeddings").trigger()
    assert dock.isVisible() and dock.tabs.currentWidget() is panel
    qtbot.waitUntil(lambda: panel.epochs_seen >= 1, timeout=120000)
    qtbot.waitUntil(lambda: panel.worker.outcome is not None, timeout=120000)
    outcome = panel.worker.outcome
    assert outcome.status == "done", outcome.message
    assert outcome.epochs == 2 and panel.epochs_seen == 2
    assert panel.plots.n_steps >= 2  # every training step reached the loss plot
    assert len(panel.plots.mge_values) == 2 and all(np.isfinite(panel.plots.mge_values))
    colors = panel.preview_colors
    assert colors is not None and colors.shape[1] == 3
    assert colors.std(axis=0).max() > 0.1  # the preview is not one flat colour
    assert outcome.best_checkpoint is not None and outcome.best_checkpoint.is_file()
    assert str(outcome.best_checkpoint).startswith(str(mini_project) + ".d")
    # the finished checkpoint goes to the inspector, and on request to suggestions
    assert dock.inspector.checkpoint == str(outcome.best_checkpoint)
    assert panel.use_button.isEnabled()
    panel.use_button.click()
    from ui.qa.checkpoints import checkpoint_for

    assert checkpoint_for(w.controller.target, CATEGORY) == str(outcome.best_checkpoint)
    qtbot.wait(300)  # the plots' throttled redraw
    path = artifacts_dir / "embedding_training_done.png"
    assert grab_widget(dock).save(str(path))
    img = load_rgb(path)
    assert fraction_not_color(img, (0, 0, img.shape[0], img.shape[1]), "#1e2227") > 0.2


def test_pause_holds_the_stream_resume_continues_stop_ends(qtbot, main_window, mini_project):
    w = main_window
    dock = _dock(qtbot, w, mini_project)
    panel = dock.training
    _setup(panel, epochs=200)
    assert dock.train()
    qtbot.waitUntil(lambda: panel.plots.n_steps >= 2, timeout=120000)
    panel.toggle_pause()
    assert panel.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: panel.worker.control.waiting, timeout=30000)
    qtbot.wait(100)
    held, events = panel.plots.n_steps, len(panel.worker.log)
    qtbot.wait(600)
    assert panel.plots.n_steps == held  # nothing arrives while paused
    assert len(panel.worker.log) == events
    panel.worker.step()  # exactly one more trainer event (a step, or an epoch's end)
    qtbot.waitUntil(lambda: len(panel.worker.log) == events + 1, timeout=30000)
    qtbot.wait(300)
    assert len(panel.worker.log) == events + 1
    panel.toggle_pause()  # resume
    qtbot.waitUntil(lambda: panel.plots.n_steps >= held + 3, timeout=60000)
    panel.stop_button.click()
    qtbot.waitUntil(lambda: panel.worker.outcome is not None, timeout=60000)
    assert panel.worker.outcome.status == "stopped"
    assert not panel.worker.is_running() and panel.run_button.isEnabled()


def test_inspector_pick_shows_the_match_on_other_models(qtbot, main_window, mini_project,
                                                         artifacts_dir):
    w = main_window
    dock = _dock(qtbot, w, mini_project)
    dock.reveal(1)
    inspector = dock.inspector
    inspector.set_checkpoint(None)  # positions: a known, exact embedding
    qtbot.waitUntil(lambda: inspector.source is not None, timeout=30000)
    source = inspector.source
    store = ProjectStore.open(mini_project)
    try:
        sets = store.category_sets(CATEGORY)
    finally:
        store.close()
    a = sets.model_names.index(source.name)
    b_name = inspector.model_b.currentText()
    b = sets.model_names.index(b_name)
    cols = np.flatnonzero((sets.state[a] == 1) & (sets.state[b] == 1))
    canvas = inspector.source_canvas
    hit = None
    for col in cols:  # a set point facing the camera: clicking its projection hits it
        x, y = canvas.widget_position(sets.xyz[a, col])
        widget = canvas.plotter.interactor
        if not (0 < x < widget.width() and 0 < y < widget.height()):
            continue
        QTest.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y)))
        qtbot.waitUntil(lambda: inspector.result is not None or not inspector._busy,
                        timeout=3000)
        qtbot.waitUntil(lambda: not inspector._busy, timeout=60000)
        r = inspector.result
        if r is not None and np.linalg.norm(r.xyz - sets.xyz[a, col]) < 0.03:
            hit = col
            break
        inspector.result = None
    assert hit is not None, "no set point of model A could be clicked"
    result = inspector.result
    assert result.maps[0].name == b_name
    assert len(result.maps) == min(6, len(sets.model_names) - 1)
    truth_b = sets.xyz[b, hit]
    assert np.linalg.norm(result.maps[0].best_xyz - truth_b) < 0.2
    surface_b = result.surfaces[0]
    top = surface_b.vertices[np.argmax(result.maps[0].vertex_similarity)]
    assert np.linalg.norm(top - truth_b) < 0.2
    qtbot.wait(100)
    path = artifacts_dir / "embedding_inspector.png"
    assert grab_widget(dock).save(str(path))
    # every target subplot shows its model (Plotter.clear_actors would empty all of them)
    p = inspector.target_canvas.plotter
    drawn = [len(r.actors) for r in p.renderers][:len(result.maps)]
    assert all(n >= 2 for n in drawn), drawn  # mesh + best-match marker (+ title)
    img = load_rgb(path)
    x0 = inspector.target_canvas.mapTo(dock, QPoint(0, 0))
    box = (x0.y(), x0.x(), x0.y() + inspector.target_canvas.height(),
           x0.x() + inspector.target_canvas.width())  # top, left, bottom, right
    assert fraction_not_color(img, box, "#1e2227") > 0.05  # heatmapped meshes, not blank
