"""Suggestions, the review queue and the agreement table on a real main window.

Real widgets, real VTK, a real copy of the demo project; the suggestion engine and the
review and agreement functions are the real ones (xyz method: no checkpoint), computed
again here to compare against what the window shows and stores.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtTest import QTest

from core.annotation import SuggestionEngine, agreement_table
from core.annotation.demo_truth import load_demo_truth
from core.annotation.review import reason_text
from core.store.edits import KeypointEditor
from core.store.records import MISSING, PLACED
from core.store.schema import Role
from tests.gui.conftest import open_and_show
from ui.qa import install_qa, overlay
from ui.qa.checkpoints import checkpoint_for
from ui.view_grab import grab_widget

CATEGORY = "chair"
MODEL = "chair_005"  # annotator_00 has several sets missing here (demo project)
ANNOTATOR = "annotator_00"
FIELDS = ("state", "keypoint_ids", "versions", "faces", "bary", "xyz")


def _arrays(store, category=CATEGORY) -> dict[str, np.ndarray]:
    sets = store.category_sets(category)
    return {f: np.array(getattr(sets, f), copy=True) for f in FIELDS}


def _assert_same(a: dict, b: dict, fields=FIELDS) -> None:
    for f in fields:
        np.testing.assert_array_equal(a[f], b[f], err_msg=f)  # NaN == NaN here


def _missing(store, model: str = MODEL) -> tuple[int, int, list[int], list[int]]:
    """(model id, row, missing set ids, their numbers) of the annotator on the model."""
    sets = store.category_sets(CATEGORY)
    i = sets.model_names.index(model)
    cols = [j for j, a in enumerate(sets.set_annotators)
            if a == ANNOTATOR and sets.state[i, j] == MISSING]
    return (int(sets.model_ids[i]), i, [int(sets.set_ids[j]) for j in cols],
            [int(sets.set_numbers[j]) for j in cols])


def _open(qtbot, window, project, model: str = MODEL):
    qa = install_qa(window)
    open_and_show(qtbot, window, project, CATEGORY, model)
    return qa


def test_suggestion_ghost_heatmap_enter_undo_redo(qtbot, main_window, project_copy,
                                                  artifacts_dir, tmp_path):
    w = main_window
    qa = _open(qtbot, w, project_copy)
    store = w.controller.store
    model_id, row, set_ids, numbers = _missing(store)
    assert len(set_ids) >= 2, "the demo model should miss several of the annotator's sets"
    set_id, number = set_ids[0], numbers[0]
    ref = SuggestionEngine(store, CATEGORY).suggest(model_id, set_id, heatmap=True)
    assert ref is not None and ref.method == "xyz"

    w.annotation.set_annotator(ANNOTATOR)
    w.annotation.select_set(number)
    s = qa.suggestions
    qtbot.waitUntil(lambda: s.current is not None and s.current.set_id == set_id,
                    timeout=20000)
    assert qa.method_label.text() == "Suggestions: xyz"
    # the ghost marker sits at the engine's suggestion
    sug = s.current
    assert sug.face == ref.face
    np.testing.assert_allclose(sug.bary, ref.bary, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sug.xyz, ref.xyz, rtol=0, atol=1e-12)
    ghost = w.mesh_view.plotter.actors[overlay.GHOST]
    b = np.array(ghost.GetBounds()).reshape(3, 2).mean(axis=1)
    np.testing.assert_allclose(b, ref.xyz, atol=1e-3)
    assert overlay.has(w.mesh_view, overlay.GHOST_RING)
    # the heatmap is drawn as vertex scalars of the mesh actor
    mapper = w.mesh_view.plotter.actors["mesh"].GetMapper()
    assert mapper.GetScalarVisibility() == 1
    drawn = pv.wrap(mapper.GetInput())
    ids = np.asarray(drawn.point_data["vtkOriginalPointIds"])
    np.testing.assert_array_equal(np.asarray(drawn.point_data["heatmap"]),
                                  ref.heatmap.astype(np.float32)[ids])
    np.testing.assert_array_equal(w.mesh_view.heatmap(), ref.heatmap.astype(np.float32))
    grab_widget(w).save(str(artifacts_dir / "qa_suggestion_heatmap.png"))

    # "Show heatmap" off: plain mesh colour, ghost stays
    qa.actions["actionShowHeatmap"].setChecked(False)
    assert mapper.GetScalarVisibility() == 0 and w.mesh_view.heatmap() is None
    assert overlay.has(w.mesh_view, overlay.GHOST)
    qa.actions["actionShowHeatmap"].setChecked(True)
    assert mapper.GetScalarVisibility() == 1

    # a result computed for a set that is no longer current is dropped, never drawn
    shown = []
    s.shown.connect(shown.append)
    w.annotation.select_set(numbers[1])
    s.update_now()
    assert s.busy  # computing for numbers[1] ...
    w.annotation.select_set(number)  # ... which is no longer current when it is back
    qtbot.waitUntil(lambda: s.current is not None and s.current.set_id == set_id,
                    timeout=20000)
    assert shown and all(x is None or x.set_id == set_id for x in shown)
    s.shown.disconnect(shown.append)

    # Enter in the 3D view accepts: one undo step, the exact suggested point stored
    before = _arrays(store)
    stack = w.annotation.undo_stack
    n_steps = stack.count()
    with qtbot.waitActive(w, timeout=5000):
        w.activateWindow()
    w.mesh_view.plotter.interactor.setFocus()
    QTest.keyClick(w.mesh_view.plotter.interactor, Qt.Key.Key_Return)
    assert stack.count() == n_steps + 1
    assert stack.undoText() == f"Accept suggestion for point {number + 1}"
    after = _arrays(store)
    j = list(store.category_sets(CATEGORY).set_ids).index(set_id)
    assert after["state"][row, j] == PLACED
    assert after["faces"][row, j] == ref.face
    np.testing.assert_array_equal(after["bary"][row, j], ref.bary)
    np.testing.assert_array_equal(after["xyz"][row, j], ref.xyz)
    changed = np.argwhere(after["versions"] != before["versions"])
    assert changed.tolist() == [[row, j]]  # nothing else was touched
    # the next missing set is current now, with its own suggestion
    assert w.annotation.current_set == numbers[1]
    qtbot.waitUntil(lambda: s.current is not None and s.current.set_id == set_ids[1],
                    timeout=20000)
    grab_widget(w).save(str(artifacts_dir / "qa_suggestion_next.png"))

    stack.undo()
    _assert_same(_arrays(store), before)
    stack.redo()
    _assert_same(_arrays(store), after, ("state", "keypoint_ids", "faces", "bary", "xyz"))
    # a stale result is never accepted: after a set change Enter needs a fresh one
    w.annotation.select_set(numbers[0])  # placed now: no suggestion for it
    assert not s.accept()
    assert stack.count() == n_steps + 1

    # a checkpoint that cannot be loaded (remembered per project and category): the
    # suggestions fall back to xyz and the status bar says so
    bad = str(tmp_path / "runs" / "best.safetensors")
    assert s.set_checkpoint(bad)
    assert checkpoint_for(w.controller.target, CATEGORY) == bad
    assert "not loaded yet" in qa.method_label.text()
    w.annotation.select_set(numbers[1])
    qtbot.waitUntil(lambda: "not usable" in qa.method_label.text(), timeout=20000)
    qtbot.waitUntil(lambda: s.current is not None, timeout=20000)
    assert s.current.method == "xyz" and s.current.set_id == set_ids[1]
    assert s.set_checkpoint(None)
    assert checkpoint_for(w.controller.target, CATEGORY) is None
    qtbot.waitUntil(lambda: qa.method_label.text() == "Suggestions: xyz", timeout=20000)


def test_accept_all_is_one_undo_step(qtbot, main_window, project_copy):
    w = main_window
    qa = _open(qtbot, w, project_copy)
    store = w.controller.store
    model_id, row, set_ids, _numbers = _missing(store)
    ref = SuggestionEngine(store, CATEGORY).suggest_model(model_id, set_ids)
    assert set(ref) == set(set_ids)
    w.annotation.set_annotator(ANNOTATOR)
    before = _arrays(store)
    stack = w.annotation.undo_stack
    n_steps = stack.count()
    with qtbot.waitActive(w, timeout=5000):
        w.activateWindow()
    with qtbot.waitSignal(qa.suggestions.accepted_all, timeout=20000) as placed:
        QTest.keySequence(w, "Ctrl+Shift+Return")
    assert placed.args == [len(set_ids)]
    assert stack.count() == n_steps + 1  # ONE step for all of them
    after = _arrays(store)
    cols = [list(store.category_sets(CATEGORY).set_ids).index(s) for s in set_ids]
    for sid, j in zip(set_ids, cols, strict=True):
        assert after["state"][row, j] == PLACED
        assert after["faces"][row, j] == ref[sid].face
        np.testing.assert_array_equal(after["xyz"][row, j], ref[sid].xyz)
        np.testing.assert_array_equal(after["bary"][row, j], ref[sid].bary)
    assert sorted(map(tuple, np.argwhere(after["versions"] != before["versions"]))) == \
        sorted((row, j) for j in cols)
    assert _missing(store)[2] == []
    stack.undo()
    _assert_same(_arrays(store), before)
    stack.redo()
    _assert_same(_arrays(store), after, ("state", "keypoint_ids", "faces", "bary", "xyz"))
    stack.undo()
    _assert_same(_arrays(store), before)


def _status(window) -> str:
    return window.statusBar().currentMessage()


def _select_rows(table, rows) -> None:
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    table.clearSelection()
    for r in rows:
        table.selectionModel().select(table.model().index(r, 0), flags)


def test_review_queue_finds_swaps_flags_and_resolves(qtbot, main_window, project_copy,
                                                     artifacts_dir):
    w = main_window
    qa = _open(qtbot, w, project_copy, "chair_000")
    store = w.controller.store
    store.ensure_annotator("reviewer", Role.reviewer)
    w.annotation.set_annotator("reviewer")
    panel, table = qa.review, qa.review.table
    qa.review_dock.show()
    qa.review_dock.raise_()
    with qtbot.waitSignal(panel.checks_done, timeout=60000):
        QTest.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    truth = load_demo_truth(project_copy, CATEGORY)
    n_top = 2 * len(truth.swaps)
    top = {(r.model_name, r.annotator, r.number) for r in panel.rows[:n_top]}
    assert truth.swap_keys() <= top, "the injected swaps should rank at the top"
    scores = [r.score for r in panel.rows]
    assert scores == sorted(scores, reverse=True)
    assert table.rowCount() == len(panel.rows)
    assert table.item(0, 2).text() == panel.rows[0].model_name

    # double-click: shows that model and rings the point
    first = panel.rows[0]
    with qtbot.waitSignal(w.mesh_view.scene_shown, timeout=30000):
        panel.show_row(0)
    assert w.selection.model == (CATEGORY, first.model_name)
    qtbot.waitUntil(lambda: overlay.has(w.mesh_view, overlay.HIGHLIGHT), timeout=5000)
    arrays = _arrays(store)
    point = arrays["xyz"][tuple(np.argwhere(arrays["keypoint_ids"] == first.keypoint_id)[0])]
    np.testing.assert_allclose(w.mesh_view.plotter.camera.focal_point, point, atol=1e-9)
    grab_widget(w).save(str(artifacts_dir / "qa_review_highlight.png"))

    # Flag the top two checks: written to the project as open flags
    _select_rows(table, [0, 1])
    with qtbot.waitSignal(panel.flags_loaded, timeout=10000):
        QTest.mouseClick(panel.flag_button, Qt.MouseButton.LeftButton)
    reviewer = KeypointEditor(store, "reviewer")
    flagged = {(kp, reason) for _, kp, reason in reviewer.open_flags()}
    assert flagged == {(r.check.keypoint_id, reason_text(r.check)) for r in panel.rows[:2]}
    assert all(r.flag is not None for r in panel.rows[:2])
    assert table.item(0, 6).text().startswith("open #")
    flag_id = panel.rows[0].flag.flag_id

    # an annotator may not resolve: refused with a message, nothing written
    w.annotation.set_annotator(ANNOTATOR)
    _select_rows(table, [0])
    QTest.mouseClick(panel.resolve_button, Qt.MouseButton.LeftButton)
    assert "annotator_00 is an annotator" in _status(w)
    assert "only reviewers and admins resolve flags" in _status(w)
    assert len(reviewer.open_flags()) == 2

    # the reviewer resolves it
    w.annotation.set_annotator("reviewer")
    _select_rows(table, [0])
    with qtbot.waitSignal(panel.flags_loaded, timeout=10000):
        QTest.mouseClick(panel.resolve_button, Qt.MouseButton.LeftButton)
    assert [f for f, _, _ in reviewer.open_flags()] == [panel.rows[1].flag.flag_id]
    assert flag_id not in {r.flag.flag_id for r in panel.rows if r.flag is not None}
    assert "Resolved 1 flag" in _status(w)
    w.resizeDocks([qa.review_dock], [330], Qt.Orientation.Vertical)
    qtbot.wait(50)
    grab_widget(w).save(str(artifacts_dir / "qa_review_dock.png"))


def test_agreement_table_matches_the_engine(qtbot, main_window, project_copy, artifacts_dir):
    w = main_window
    qa = _open(qtbot, w, project_copy, "chair_000")
    qa.agreement_dock.show()
    qa.agreement_dock.raise_()
    with qtbot.waitSignal(qa.agreement.computed, timeout=60000):
        QTest.mouseClick(qa.agreement.compute_button, Qt.MouseButton.LeftButton)
    expected = agreement_table(w.controller.store, CATEGORY)
    shown = sorted(qa.agreement.row_values())
    assert len(shown) == len(expected) == qa.agreement.table.rowCount()
    for got, row in zip(shown, sorted(expected, key=lambda r: r.group), strict=True):
        assert got[:5] == (row.group, row.name, len(row.annotators), row.n_models, row.n_pairs)
        np.testing.assert_allclose(got[5:], (row.mean_spread, row.max_spread), rtol=1e-12)
    # sets are numbered as everywhere in the UI (1-based)
    t = qa.agreement.table
    sets_text = {t.item(i, 0).data(Qt.ItemDataRole.UserRole): t.item(i, 6).text()
                 for i in range(t.rowCount())}
    who, _, number = expected[0].labels[0].rpartition(":")
    assert sets_text[expected[0].group].split(", ")[0] == f"{who}:{int(number) + 1}"
    # sorted by mean spread, least agreement first; clicking a header re-sorts
    means = [v[5] for v in qa.agreement.row_values() if not np.isnan(v[5])]
    assert means == sorted(means, reverse=True)
    qa.agreement.table.sortByColumn(2, Qt.SortOrder.AscendingOrder)  # Models
    models = [v[3] for v in qa.agreement.row_values()]
    assert models == sorted(models)
    qa.agreement.table.sortByColumn(4, Qt.SortOrder.DescendingOrder)  # Mean spread
    w.resizeDocks([qa.agreement_dock], [330], Qt.Orientation.Vertical)
    qtbot.wait(50)
    grab_widget(w).save(str(artifacts_dir / "qa_agreement_dock.png"))
