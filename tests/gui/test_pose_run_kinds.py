"""The Pose dock's run kinds besides pose refinement and reconstruction, live under Xvfb
with the real engines: a *Viewpoint search* run streams the search and ends without
refinement steps; a *TTP solve* run on a synthetic mug (no image networks in the project)
solves shape and camera from the view's true points and stops before refining."""

from __future__ import annotations

import numpy as np

from tests.gui.test_pose_reconstruction import _install, _open, tiny_space  # noqa: F401
from ui.pose.pose_view import IDLE, SEARCH, TTP


def _run(qtbot, view, kind: str):
    with qtbot.waitSignal(view.run_finished, timeout=120000) as done:
        assert view.run_kind_now(kind, objective="fast")
    outcome = done.args[0]
    assert outcome.status == "done", outcome.message
    qtbot.waitUntil(lambda: view.state == IDLE, timeout=5000)
    return view.worker.log.snapshot()


def test_viewpoint_search_run_streams_the_search_only(qtbot, main_window, project_copy):
    view = _open(qtbot, main_window, project_copy)
    view.steps_spin.setValue(40)
    view.kind_combo.setCurrentIndex(view.kind_combo.findData(SEARCH))
    assert not view.steps_spin.isEnabled()  # a search has no refinement steps
    log = _run(qtbot, view, SEARCH)
    stages = [r.stage for r in log]
    assert stages.count("viewpoint") >= 3 and stages[-1] == "done"
    assert max((r.step for r in log if r.stage == "refine"), default=0) == 0
    assert view.run_params["kind"] == SEARCH and view.run_params["steps"] == 0
    final = log[-1]
    assert final.iou == max(r.iou for r in log if r.stage == "viewpoint")
    qtbot.waitUntil(lambda: view.scene3d.record is final, timeout=5000)
    np.testing.assert_allclose(view.overlay.point_positions()[:len(final.uv)], final.uv,
                               atol=1e-6)


def test_ttp_solve_run_uses_the_synthetic_views_true_points(qtbot, main_window,
                                                            project_copy, tiny_space):  # noqa: F811
    _install(tiny_space, project_copy)
    view = _open(qtbot, main_window, project_copy)
    log = _run(qtbot, view, TTP)
    stages = [r.stage for r in log]
    assert "ttp" in stages and stages[-1] == "done", view.status.text()
    assert stages.count("refine") <= 2  # the chosen start only
    assert "points from the synthetic view's ground truth" in view.status.text()
    ttp = [r for r in log if r.stage == "ttp"]
    assert all(r.vertices is not None for r in ttp)
    truth = view.source.truth
    ok = truth.known & truth.visible
    err = np.linalg.norm(log[-1].uv[ok] - truth.uv[ok], axis=1)
    first = np.linalg.norm(log[0].uv[ok] - truth.uv[ok], axis=1)
    print(f"TTP solve: {len(log)} steps, final keypoint median {np.median(err):.1f} px "
          f"(first step {np.median(first):.1f} px); {view.status.text()}")
    assert np.median(err) < np.median(first)


def test_ttp_solve_without_2d_points_says_what_it_needs(qtbot, main_window, project_copy,
                                                        tiny_space, tmp_path):  # noqa: F811
    from PIL import Image

    _install(tiny_space, project_copy)
    view = _open(qtbot, main_window, project_copy)
    rgb = np.full((96, 96, 3), 30, np.uint8)
    rgb[24:72, 30:66] = (200, 120, 60)  # an object on a plain background
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    assert view.select_source("file", str(path))
    with qtbot.waitSignal(view.run_finished, timeout=120000) as done:
        assert view.run_kind_now(TTP, objective="fast")
    outcome = done.args[0]
    assert outcome.status == "failed" and "needs 2D points" in outcome.message
    assert "needs 2D points" in view.status.text()
