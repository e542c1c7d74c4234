"""The failure-case browser (issue 8, item 6): the Failures dock on the real main window.

- a report in the ``evaluate-images --json`` format (made by ``EvalReport.to_dict``) lists
  one row per image and variant; sorting by IoU or rotation error orders the rows by value
  (a missing score last); the variant filter keeps one variant; a bad, missing or
  wrong-shaped file is a message naming it and leaves the table alone;
- a row of a report written by the real evaluator (a tiny real shape space, real renders,
  the ``search`` variant) is rendered again and reconstructed live in the Pose dock: the
  dock's image and mask are the evaluation's, the run's steps arrive;
- *Evaluate category* evaluates two views in the background (the GUI keeps running, rows
  appear one by one); a row then replays its kept run in the Pose dock (no new run), on the
  view rendered again; *Stop* cancels an evaluation.
"""

from __future__ import annotations

import json
import math
import shutil
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMenu

from core.image_eval.evaluate import EvalReport, ImageResult, StageScore
from core.paths import artifacts_dir as project_artifacts
from core.reconstruct.resources import SHAPE_SPACE_NAME
from core.shape_space.model import shape_space_paths
from tests.gui.conftest import open_and_show
from ui.failures.table_model import COLUMN
from ui.pose.pose_view import IDLE
from ui.view_grab import grab_widget

CATEGORY = "mug"
NAN = math.nan


@pytest.fixture(scope="module")
def tiny_space(demo_project, tmp_path_factory):
    """A tiny mug shape space (4 models, 3 modes, 20 iterations): its path (no suffix)."""
    from core.reconstruct.resources import ShapeSpaceReady, iter_shape_space
    from core.store import ProjectStore

    target = tmp_path_factory.mktemp("space") / SHAPE_SPACE_NAME
    with ProjectStore.open(demo_project) as store:
        ready = [e for e in iter_shape_space(store, demo_project, CATEGORY, target,
                                             iterations=20, max_models=4, k=3)
                 if isinstance(e, ShapeSpaceReady)]
    assert ready and ready[0].built
    return ready[0].path


@pytest.fixture(scope="module")
def real_report(demo_project, tiny_space, tmp_path_factory):
    """What ``evaluate-images --json`` writes, from the real evaluator on 3 held-out views
    (of 3 models, 2 views per model rendered at the command's default 128 px, search
    variant, 3 steps): (json path, the evaluated views)."""
    from core.image_eval.data import EvalInputs, iter_prepare
    from core.image_eval.evaluate import evaluate
    from core.image_eval.views import spread_views, subset_views
    from core.store import ProjectStore

    with ProjectStore.open(demo_project) as store:
        inputs = [e for e in iter_prepare(store, str(demo_project), CATEGORY, 2, 128,
                                          shape_path=tiny_space)
                  if isinstance(e, EvalInputs)][0]
    views = subset_views(inputs.views, spread_views(inputs.views, 3))
    report = evaluate(inputs.space, None, views, variants=("search",), steps=3,
                      objective="fast")
    doc = report.to_dict()
    doc["held_out"], doc["predictor"] = list(inputs.held_out), inputs.predictor_note
    path = tmp_path_factory.mktemp("report") / "report.json"
    path.write_text(json.dumps(doc, indent=1))
    return path, views


def _install(space_path, project) -> None:
    folder = project_artifacts(project, CATEGORY)
    folder.mkdir(parents=True, exist_ok=True)
    for f in shape_space_paths(space_path):
        shutil.copy(f, folder / f.name)


def _hand_report(path) -> dict:
    """3 images x 2 variants with known scores (one missing IoU), written by to_dict."""
    def score(pck, iou, rot):
        return StageScore(pck, pck / 2, iou, rot)

    images = (
        ImageResult(0, "mug_a", 10.0, 20.0,
                    {"full": {"viewpoint": score(0.1, 0.5, 90.0), "ttp": score(0.2, 0.6, 50.0),
                              "refine": score(0.9, 0.95, 5.0)},
                     "search": {"viewpoint": score(0.0, 0.4, 120.0),
                                "refine": score(0.5, 0.70, 170.0)}}, {}, {}),
        ImageResult(1, "mug_b", 30.0, 5.0,
                    {"full": {"refine": score(0.3, 0.80, 40.0)},
                     "search": {"refine": score(NAN, NAN, 12.0)}}, {}, {}),
        ImageResult(2, "mug_c", -60.0, 35.0,
                    {"full": {"refine": score(0.6, 0.60, 100.0)},
                     "search": {"viewpoint": score(0.2, 0.85, 60.0)}}, {}, {},
                    ("search: refinement skipped",)),
    )
    doc = EvalReport("mug", images, (), {"variants": ["full", "search"], "steps": 5}).to_dict()
    path.write_text(json.dumps(doc))
    return doc


def _column(panel, name) -> list:
    return [getattr(r, name) for r in panel.shown_rows()]


def test_report_rows_sort_filter_and_bad_files(qtbot, main_window, tmp_path, artifacts_dir):
    window = main_window
    dock = window.failures
    assert dock.objectName() == "failureBrowserDock" and not dock.isVisible()
    view_menu = window.findChild(QMenu, "viewMenu")
    toggle = [a for a in view_menu.actions() if a.objectName() == "actionFailureBrowserDock"]
    assert toggle and toggle[0] is dock.toggleViewAction()
    toggle[0].trigger()
    assert dock.isVisible()
    panel = dock.panel

    path = tmp_path / "hand.json"
    doc = _hand_report(path)
    assert {"index", "model", "azimuth", "elevation", "stages"} <= set(doc["images"][0])
    report = panel.open_report(path)
    assert report is not None and report.category == "mug"
    assert panel.model.rowCount() == 6 and panel.proxy.rowCount() == 6
    rows = {r.key: r for r in panel.model.rows()}
    assert rows[0, "full"].stage == "refine" and rows[0, "full"].iou == 0.95
    assert rows[2, "search"].stage == "viewpoint" and rows[2, "search"].rotation_error == 60.0
    assert math.isnan(rows[1, "search"].iou)
    assert panel.variant_combo.isEnabled() and panel.variant_combo.count() == 3

    table = panel.table
    table.sortByColumn(COLUMN["IoU"], Qt.SortOrder.AscendingOrder)
    ious = _column(panel, "iou")
    assert ious[:5] == [0.60, 0.70, 0.80, 0.85, 0.95] and math.isnan(ious[5])  # missing last
    assert [r.key for r in panel.shown_rows()] == [
        (2, "full"), (0, "search"), (1, "full"), (2, "search"), (0, "full"), (1, "search")]
    assert panel.proxy.index(0, COLUMN["IoU"]).data() == "0.600"
    table.sortByColumn(COLUMN["IoU"], Qt.SortOrder.DescendingOrder)
    ious = _column(panel, "iou")
    assert math.isnan(ious[0]) and ious[1:] == [0.95, 0.85, 0.80, 0.70, 0.60]
    table.sortByColumn(COLUMN["Rot. err. (°)"], Qt.SortOrder.DescendingOrder)
    assert _column(panel, "rotation_error") == [170.0, 100.0, 60.0, 40.0, 12.0, 5.0]
    assert panel.shown_rows()[0].key == (0, "search")
    table.sortByColumn(COLUMN["Rot. err. (°)"], Qt.SortOrder.AscendingOrder)
    assert _column(panel, "rotation_error") == [5.0, 12.0, 40.0, 60.0, 100.0, 170.0]
    table.sortByColumn(COLUMN["PCK (box)"], Qt.SortOrder.AscendingOrder)
    pck = _column(panel, "pck_box")
    assert pck[:5] == [0.1, 0.15, 0.25, 0.3, 0.45] and math.isnan(pck[5])
    assert panel.proxy.index(5, COLUMN["PCK (box)"]).data() == "–"

    assert panel.set_variant("search")
    assert panel.proxy.rowCount() == 3 and set(_column(panel, "variant")) == {"search"}
    assert panel.set_variant("")
    assert panel.proxy.rowCount() == 6
    table.sortByColumn(COLUMN["IoU"], Qt.SortOrder.AscendingOrder)
    qtbot.wait(50)
    assert grab_widget(dock).save(str(artifacts_dir / "failure_browser_report.png"))

    # bad files: a message naming the file, the table unchanged
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    assert panel.open_report(bad) is None
    assert str(bad) in panel.status.text() and "not JSON" in panel.status.text()
    missing = tmp_path / "nowhere.json"
    assert panel.open_report(missing) is None
    assert str(missing) in panel.status.text() and "no such file" in panel.status.text()
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"category": "mug", "images": [{"index": 0, "model": 3}]}))
    assert panel.open_report(wrong) is None
    assert str(wrong) in panel.status.text() and "'model'" in panel.status.text()
    wrong.write_text(json.dumps([1, 2]))
    assert panel.open_report(wrong) is None and str(wrong) in panel.status.text()
    assert panel.model.rowCount() == 6 and panel.report.path == path


def _warm_pose_dock(qtbot, window):
    dock = window.pose_dock
    dock.reveal()
    qtbot.waitExposed(dock)
    window.resizeDocks([dock], [470], Qt.Orientation.Vertical)
    view = dock.view
    qtbot.waitUntil(lambda: view.scene3d.frames >= 2, timeout=10000)
    window.failures.reveal()
    qtbot.waitExposed(window.failures)
    return view


def test_report_row_runs_live_in_the_pose_dock(qtbot, main_window, project_copy, tiny_space,
                                               real_report):
    path, views = real_report
    _install(tiny_space, project_copy)
    window = main_window
    open_and_show(qtbot, window, project_copy, CATEGORY)
    view = _warm_pose_dock(qtbot, window)
    panel = window.failures.panel
    report = panel.open_report(path)
    assert report is not None and len(report.rows) == len(views) == 3
    assert report.render.image_size == 128 and report.steps == 3
    panel.table.sortByColumn(COLUMN["IoU"], Qt.SortOrder.AscendingOrder)
    worst = panel.shown_rows()[0]
    assert worst.iou == min(r.iou for r in report.rows)
    with qtbot.waitSignal(view.run_finished, timeout=120000) as done:
        panel.table.selectRow(0)
    outcome = done.args[0]
    assert outcome.status == "done", outcome.message
    assert window.pose_dock.isVisible() and window.failures.isVisible()
    i = int(np.flatnonzero(np.isclose(views.azimuth, worst.azimuth))[0])
    assert views.model_names[int(views.model[i])] == worst.model
    assert view.source.mask.shape == views.masks[i].shape
    assert (view.source.mask == views.masks[i]).all()  # the evaluation's own view
    assert (view.source.rgb == views.rgb[i]).all()
    assert view.source.truth is not None and view.source.truth.geometry is not None
    assert view.run_kind == "reconstruction" and view.run_params["variant"] == "search"
    log = view.worker.log.snapshot()
    assert len(log) > 5 and log[-1].stage == "done"
    assert view.timeline.current() is log[-1]
    assert "evaluation view" in view.source.name and worst.model in view.source.name


def test_background_evaluation_then_replay(qtbot, main_window, project_copy, tiny_space,
                                           artifacts_dir):
    from core.image_eval.views import render_eval_view
    from core.store import ProjectStore
    from ui.failures.eval_job import EvalFinished

    _install(tiny_space, project_copy)
    window = main_window
    open_and_show(qtbot, window, project_copy, CATEGORY)
    view = _warm_pose_dock(qtbot, window)
    panel = window.failures.panel
    panel.images_spin.setValue(2)
    panel.steps_spin.setValue(5)
    inserted = []
    panel.model.rowsInserted.connect(lambda *_: inserted.append(time.perf_counter()))
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(50)
    t0 = time.perf_counter()
    with qtbot.waitSignal(panel.evaluation_finished, timeout=180000) as done:
        qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton)
        assert panel.is_running() and panel.stop_button.isEnabled()
        assert not panel.evaluate_button.isEnabled()
    timer.stop()
    elapsed = time.perf_counter() - t0
    result = done.args[0]
    assert isinstance(result, EvalFinished), result
    assert len(result.report.images) == 2 and not result.report.cancelled
    assert len(inserted) == 2  # one image at a time
    gaps = np.diff([t0, *ticks])
    assert len(ticks) > elapsed / 0.05 * 0.3 and gaps.max() < 2.0, (len(ticks), gaps.max())
    assert panel.model.rowCount() == 2 and not panel.is_running()
    assert set(_column(panel, "variant")) == {"search"}
    assert result.report.settings["image_size"] == 128
    assert "Evaluated 2 images" in panel.status.text()
    qtbot.wait(50)
    assert grab_widget(window.failures).save(str(artifacts_dir / "failure_browser.png"))

    panel.table.sortByColumn(COLUMN["Rot. err. (°)"], Qt.SortOrder.DescendingOrder)
    row = panel.shown_rows()[0]
    assert row.rotation_error == max(r.rotation_error for r in panel.model.rows())
    kept = panel.images[row.key]
    panel.table.selectRow(0)
    qtbot.waitUntil(lambda: view.source is kept.source, timeout=10000)
    assert view.state == IDLE and not window.failures.link.live  # replayed, no run
    assert len(view.timeline.log) == len(kept.records) > 5
    assert view.timeline.current() is kept.records[-1]
    assert "replay" in view.status.text()
    with ProjectStore.open(project_copy) as store:
        again = render_eval_view(store, CATEGORY, row.model, _labels(project_copy),
                                 row.azimuth, row.elevation, 128, 0, 1)
    assert (view.source.mask == again.masks[0]).all()
    assert (view.source.rgb == again.rgb[0]).all()
    qtbot.waitUntil(lambda: view.plot.points == len(kept.records), timeout=3000)  # curves
    qtbot.wait(100)
    assert grab_widget(window).save(str(artifacts_dir / "failure_browser_window.png"))

    # Stop cancels an evaluation
    with qtbot.waitSignal(panel.evaluation_finished, timeout=60000) as done:
        assert panel.evaluate()
        panel.stop()
    assert done.args[0] is None or done.args[0].report.cancelled
    assert panel.evaluate_button.isEnabled() and not panel.stop_button.isEnabled()


def _labels(project) -> tuple[str, ...]:
    from core.shape_space import load_shape_space

    return tuple(load_shape_space(project_artifacts(project, CATEGORY) /
                                  SHAPE_SPACE_NAME).labels)


def test_an_image_whose_reconstruction_failed_is_listed_without_scores(tmp_path):
    from ui.failures.report import FAILED, load_report

    scored = StageScore(0.5, 0.25, 0.75, 12.0)
    images = [ImageResult(0, "mug_001", 30.0, 10.0, {"search": {"refine": scored}}, {}, {},
                          ()),
              ImageResult(1, "mug_002", 60.0, 20.0, {"search": {}}, {}, {},
                          ("search: the mask touches every border",))]
    report = EvalReport("mug", tuple(images), (), {"variants": ["search"]})
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report.to_dict()))
    rows = sorted(load_report(path).rows, key=lambda r: r.index)
    assert [(r.model, r.stage) for r in rows] == [("mug_001", "refine"), ("mug_002", FAILED)]
    assert (rows[0].pck_box, rows[0].iou, rows[0].rotation_error) == (0.25, 0.75, 12.0)
    assert all(math.isnan(v) for v in (rows[1].pck_box, rows[1].pck_image, rows[1].iou,
                                        rows[1].rotation_error))
    assert "mask touches" in rows[1].notes[0]
