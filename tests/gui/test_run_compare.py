"""Two saved runs side by side: real MainWindow, real store, the real pose engine on two
synthetic airplane views (two short runs with different settings and images).

The Runs… dialog compares two selected runs: each pane shows its run's image and its points
where the records put them; one slider moves both (by fraction of each run, as their lengths
differ); the plot holds both runs' loss and IoU curves with a cursor per run; the table's
numbers are the records'; a missing, deleted or malformed run is said, nothing crashes; runs
of other categories are listed with *All categories* and compare too.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QListWidget, QPushButton

from core.cameras.rotations import rotation_angle_deg
from tests.gui.conftest import open_pose_dock
from ui.pose.compare_data import shown_indices
from ui.pose.pose_view import IDLE
from ui.pose.saved_runs import steps_of
from ui.view_grab import grab_widget

CATEGORY = "airplane"


def _run(qtbot, view, seed: int, k: int, steps: int):
    view.seed_spin.setValue(seed)
    with qtbot.waitSignal(view.run_finished, timeout=120000) as done:
        assert view.run(k=k, steps=steps, objective="fast")
    assert done.args[0].status == "done", done.args[0].message
    qtbot.waitUntil(lambda: view.state == IDLE, timeout=5000)
    return view.worker.log.snapshot(), view.template, view.source


def _positions(pane, record) -> np.ndarray:
    return pane.overlay.point_positions()[:len(record.uv)]


def _expected_row(name: str, letter: str, records, source) -> list[str]:
    losses = [r.loss for r in records if math.isfinite(r.loss)]
    truth = source.truth.geometry.rotation
    rot = float(rotation_angle_deg(
        torch.tensor(records[-1].geometry.rotation[None], dtype=torch.float64),
        torch.tensor(truth[None], dtype=torch.float64))[0])
    return [f"{letter}: {name}", str(len(records)), f"{losses[-1]:.4f}",
            f"{records[-1].iou:.3f}", f"{max(r.iou for r in records):.3f}", f"{rot:.1f}°"]


def _compare_failed(qtbot, view, ids) -> str:
    window = view.library.compare(ids)
    with qtbot.waitSignal(window.failed, timeout=30000) as failed:
        pass
    message = failed.args[0]
    assert window.status.text() == message and "Cannot compare" in message
    assert view.status.text() == message
    assert not window.runs and window.panes[0].image_view.has_image() is False
    window.close()
    return message


def test_shown_indices_same_length_and_fraction():
    assert shown_indices([5, 5], 3) == [3, 3]
    assert shown_indices([5, 9], 0) == [0, 0]
    assert shown_indices([5, 9], 8) == [4, 8]
    assert shown_indices([5, 9], 4) == [2, 4]  # halfway in both
    assert shown_indices([5, 9], 99) == [4, 8]  # clamped


def test_compare_two_saved_runs(qtbot, main_window, project_copy, artifacts_dir):
    view = open_pose_dock(qtbot, main_window, project_copy, CATEGORY, 7)
    rec_a, template_a, source_a = _run(qtbot, view, seed=7, k=1, steps=4)
    info_a = view.library.save("short run A")
    rec_b, _template_b, source_b = _run(qtbot, view, seed=3, k=2, steps=9)
    info_b = view.library.save("longer run B")
    assert info_a is not None and info_b is not None
    assert len(rec_a) != len(rec_b)
    assert source_a.truth.geometry is not None and source_b.truth.geometry is not None

    # Runs…: select both, Compare
    dialog = view.library.runs_dialog()
    listing = dialog.findChild(QListWidget, "poseRunsList")
    compare = dialog.findChild(QPushButton, "poseRunsCompare")
    assert listing.count() == 2 and not compare.isEnabled()
    listing.item(0).setSelected(True)
    assert not compare.isEnabled()  # one run selected
    listing.item(1).setSelected(True)
    assert compare.isEnabled()
    qtbot.mouseClick(compare, Qt.MouseButton.LeftButton)
    window = view.library.comparison
    assert window is not None and window.isVisible()
    assert "Loading" in window.status.text()
    qtbot.waitUntil(lambda: len(window.runs) == 2, timeout=30000)
    a, b = window.panes
    assert [r.name for r in window.runs] == ["short run A", "longer run B"]  # older first
    assert "short run A" in a.title.text() and "pose" in a.title.text()
    assert "hypotheses 1" in a.details.text() and "steps 4" in a.details.text()
    assert "hypotheses 2" in b.details.text() and "steps 9" in b.details.text()
    assert "view # 7" in a.details.text() and "view # 3" in b.details.text()
    assert a.image_view.has_image() and b.image_view.has_image()

    # each pane at its run's last step, its points where the records put them
    n_a, n_b = len(rec_a), len(rec_b)
    assert window.slider.maximum() == max(n_a, n_b) - 1
    assert window.shown() == [n_a - 1, n_b - 1]
    np.testing.assert_allclose(_positions(a, rec_a[-1]), rec_a[-1].uv, atol=1e-6)
    np.testing.assert_allclose(_positions(b, rec_b[-1]), rec_b[-1].uv, atol=1e-6)
    assert not np.allclose(_positions(a, rec_a[-1]), _positions(b, rec_b[-1]))

    # one slider moves both: the longer run step by step, the other by fraction
    longer = max(n_a, n_b)
    for position in (0, longer // 2, longer // 3):
        window.slider.setValue(position)
        expected = [int(math.floor(position / (longer - 1) * (n - 1) + 0.5))
                    for n in (n_a, n_b)]
        assert window.shown() == expected, position
        np.testing.assert_allclose(_positions(a, rec_a[expected[0]]), rec_a[expected[0]].uv,
                                   atol=1e-6)
        np.testing.assert_allclose(_positions(b, rec_b[expected[1]]), rec_b[expected[1]].uv,
                                   atol=1e-6)
        assert [c.value() for c in window.plot.cursors] == expected
        label = window.step_label.text()
        assert f"A: step {expected[0] + 1}/{n_a}" in label
        assert f"B: step {expected[1] + 1}/{n_b}" in label and "fraction" in label
        assert a.step_label.text().startswith(f"step {expected[0] + 1}/{n_a}")

    # the plot: both runs' loss and IoU curves, every step
    assert window.plot.curve_points(0) == (n_a, n_a)
    assert window.plot.curve_points(1) == (n_b, n_b)
    np.testing.assert_allclose(window.plot.iou_curves[1].getData()[1], [r.iou for r in rec_b])

    # the table: the records' numbers
    assert window.table_text() == [_expected_row("short run A", "A", rec_a, source_a),
                                   _expected_row("longer run B", "B", rec_b, source_b)]

    window.slider.setValue(longer // 2)
    qtbot.wait(100)
    path = artifacts_dir / "run_compare.png"
    assert grab_widget(window).save(str(path))
    window.close()
    dialog.close()

    # Compare runs…: the Runs… dialog with the two newest selected
    view.library.compare_action.trigger()
    dialog = view.library.dialog
    assert dialog.findChild(QPushButton, "poseRunsCompare").isEnabled()
    dialog.close()

    # a run of another category: listed with All categories, compared with its own image
    from core.store.run_store import save_run

    other = save_run(view.project.store, "mug", "pose", "mug labelled copy",
                     steps_of(rec_a, template_a, source_a), params={"k": 1})
    dialog = view.library.runs_dialog()
    listing = dialog.findChild(QListWidget, "poseRunsList")
    assert listing.count() == 2
    dialog.findChild(QCheckBox, "poseRunsAllCategories").setChecked(True)
    assert listing.count() == 3 and "mug" in listing.item(0).text()
    dialog.close()
    window = view.library.compare([info_b.id, other.id])
    qtbot.waitUntil(lambda: len(window.runs) == 2, timeout=30000)
    assert "mug" in window.panes[1].title.text()
    assert window.shown() == [n_b - 1, n_a - 1]
    window.close()

    # a missing, a deleted and a malformed run: said, nothing shown, nothing crashes
    message = _compare_failed(qtbot, view, [info_a.id, 987654])
    assert "987654" in message and "not in the project" in message
    assert view.library.delete(info_b.id)
    message = _compare_failed(qtbot, view, [info_a.id, info_b.id])
    assert str(info_b.id) in message and "not in the project" in message
    broken = save_run(view.project.store, CATEGORY, "pose", "broken", [{"index": 0}])
    message = _compare_failed(qtbot, view, [broken.id, info_a.id])
    assert "broken" in message and "cannot be shown" in message
