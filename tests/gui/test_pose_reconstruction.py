"""Reconstruction as a live run in the Pose dock: real widgets, real VTK under Xvfb, the real
reconstruction engine on a synthetic view of the demo mug, with a tiny shape space built once
for the module (4 models, 3 modes, 20 fitting iterations) and put in the project's artifacts
folder, where the dock loads it.

A run delivers steps whose shape changes: the 3D mesh's vertices and the 2D overlay differ
between an early and the final step; scrubbing back restores that step's vertices in 3D and
its points in 2D; a run saved in the project is listed, loads back into the timeline with
the same steps, final camera and points, and two saved runs show side by side.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtWidgets import QListWidget

from core.paths import artifacts_dir
from core.reconstruct.resources import SHAPE_SPACE_NAME
from core.shape_space.model import shape_space_paths
from tests.gui.conftest import open_pose_dock
from ui.pose.pose_view import IDLE
from ui.view_grab import grab_widget

CATEGORY = "mug"
SEED = 3


@pytest.fixture(scope="module")
def tiny_space(demo_project, tmp_path_factory):
    """A tiny mug shape space, built once: the (arrays, sidecar) files."""
    from core.reconstruct.resources import ShapeSpaceReady, iter_shape_space
    from core.store import ProjectStore

    target = tmp_path_factory.mktemp("space") / SHAPE_SPACE_NAME
    store = ProjectStore.open(demo_project)
    try:
        ready = [e for e in iter_shape_space(store, demo_project, CATEGORY, target,
                                             iterations=20, max_models=4, k=3)
                 if isinstance(e, ShapeSpaceReady)]
    finally:
        getattr(store, "close", lambda: None)()
    assert ready and ready[0].built
    return shape_space_paths(ready[0].path)


def _install(space_files, project) -> None:
    folder = artifacts_dir(project, CATEGORY)
    folder.mkdir(parents=True, exist_ok=True)
    for f in space_files:
        shutil.copy(f, folder / f.name)


def _open(qtbot, window, project):
    view = open_pose_dock(qtbot, window, project, CATEGORY, SEED)
    view.k_spin.setValue(2)
    return view


def _reconstruct(qtbot, view, steps: int = 15):
    with qtbot.waitSignal(view.run_finished, timeout=120000) as done:
        assert view.run_reconstruction(steps=steps, objective="fast")
    outcome = done.args[0]
    assert outcome.status == "done", outcome.message
    qtbot.waitUntil(lambda: view.state == IDLE, timeout=5000)
    return outcome


def _save(widget, path) -> None:
    assert grab_widget(widget).save(str(path)), f"cannot save {path}"


def test_reconstruction_run_scrub_save_load(qtbot, main_window, project_copy, tiny_space,
                                            artifacts_dir):
    _install(tiny_space, project_copy)
    view = _open(qtbot, main_window, project_copy)
    _reconstruct(qtbot, view)
    log = view.worker.log.snapshot()
    assert len(log) > 10
    assert all(r.vertices is not None and r.points is not None for r in log)
    final = log[-1]
    assert final.stage == "done"
    early = next(r for r in log if r.stage == "refine")
    assert np.abs(final.vertices - early.vertices).max() > 1e-4, "the shape never changed"
    steps_per_s = len(log) / max(final.seconds, 1e-6)
    print(f"reconstruction: {len(log)} steps in {final.seconds:.2f} s "
          f"({steps_per_s:.1f} steps/s); status: {view.status.text()}")
    assert "silhouette search" in view.status.text() or "predictor" in view.status.text()

    # the final step in both views
    qtbot.waitUntil(lambda: view.scene3d.record is final, timeout=5000)
    view.scene3d.render_now()
    np.testing.assert_allclose(view.scene3d.drawn_vertices(), final.vertices, atol=1e-5)
    final_2d = view.overlay.point_positions()[:len(final.uv)]
    np.testing.assert_allclose(final_2d, final.uv, atol=1e-6)
    final_outline = view.overlay.outline_rect()
    _save(view, artifacts_dir / "reconstruction_final.png")

    # scrub back: that step's shape in 3D, its points and outline in 2D
    assert view.timeline.scrub_to(early.index) is early
    view.scene3d.render_now()
    np.testing.assert_allclose(view.scene3d.drawn_vertices(), early.vertices, atol=1e-5)
    assert np.abs(view.scene3d.drawn_vertices() - final.vertices).max() > 1e-4
    early_2d = view.overlay.point_positions()[:len(early.uv)]
    np.testing.assert_allclose(early_2d, early.uv, atol=1e-6)
    assert not np.allclose(early_2d, final_2d)
    assert view.overlay.outline_rect() != final_outline
    _save(view, artifacts_dir / "reconstruction_scrubbed.png")

    # linking and export use the shown step's shape
    assert view.link.vertices() is early.vertices
    figure = view.render_figure()
    assert figure is not None and not figure.isNull()
    figure.save(str(artifacts_dir / "reconstruction_figure.png"))

    # save the run: listed; loaded back: same steps, final camera and points
    info = view.library.save("mug reconstruction")
    assert info is not None and info.kind == "reconstruction" and info.n_steps == len(log)
    dialog = view.library.runs_dialog()
    listing = dialog.findChild(QListWidget, "poseRunsList")
    assert listing.count() >= 1 and "mug reconstruction" in listing.item(0).text()
    assert [r.id for r in view.library.runs()][0] == info.id
    dialog.close()
    # other controls chosen since; loading the run shows the controls it ran with
    view.kind_combo.setCurrentIndex(view.kind_combo.findData("pose"))
    view.seed_spin.setValue(view.seed_spin.value() + 5)
    view.steps_spin.setValue(view.steps_spin.value() + 7)
    assert view.library.load(info.id)
    assert view.kind_combo.currentData() == "reconstruction"
    assert view.seed_spin.value() == info.params["seed"]
    assert view.steps_spin.value() == info.params["steps"]
    assert view.source_combo.currentData() == "synthetic"
    replay = view.timeline.log.snapshot()
    assert len(replay) == len(log)
    last = replay[-1]
    assert view.timeline.current() is last
    np.testing.assert_allclose(last.geometry.center, final.geometry.center)
    assert last.geometry.camera == final.geometry.camera
    np.testing.assert_allclose(last.uv, final.uv)
    np.testing.assert_allclose(last.vertices, final.vertices)
    qtbot.waitUntil(lambda: view.scene3d.record is last, timeout=5000)
    np.testing.assert_allclose(view.scene3d.drawn_vertices(), final.vertices, atol=1e-5)
    np.testing.assert_allclose(view.overlay.point_positions()[:len(final.uv)], final.uv,
                               atol=1e-6)
    view.timeline.scrub_to(early.index)
    np.testing.assert_allclose(view.scene3d.drawn_vertices(), early.vertices, atol=1e-5)
    view.scene3d.render_now()
    _save(view, artifacts_dir / "reconstruction_replayed.png")

    # a broken id says so and keeps the replay
    assert not view.library.load(info.id + 999)
    assert "Cannot load" in view.status.text()
    assert view.library.delete(info.id)
    assert all(r.id != info.id for r in view.library.runs())
