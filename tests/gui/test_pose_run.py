"""Live pose runs in the Pose dock: real widgets, real VTK under Xvfb, the real pose engine
on a synthetic view of the demo project's template (no engine mocks).

A run streams steps into both views (2D overlays, 3D frustum); Pause holds the stream,
Step lets exactly one more step through, Resume runs to the end; the timeline scrubs back to
any kept step in both views; GUI-thread stalls are measured with a 10 ms timer probe (bounds
and measured values at the assertion);
closing the dock or the window during a run ends the worker thread; a diverging run stops
and says so; steps arriving faster than the views redraw are coalesced (at most ~30 updates
a second); a missing image file shows a placeholder and a message.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from core.pose.errors import RefinementDiverged
from core.pose.pipeline import iter_estimate_pose
from tests.gui.conftest import open_pose_dock
from tests.screens import count_palette_pixels, load_rgb, region_of_color
from ui.mesh_view import BACKGROUND
from ui.palette import SET_PALETTE
from ui.pose.pose_view import IDLE, PAUSED, RUNNING
from ui.pose.scene_3d import frustum_points
from ui.view_grab import grab_widget

CATEGORY = "airplane"
SEED = 7  # which held-out synthetic view (azimuth -134, elevation 24)


class StallProbe:
    """A 10 ms GUI-thread timer: the longest gap between its ticks is the longest stall."""

    def __init__(self, parent, interval_ms: int = 10) -> None:
        # parented: Qt owns it, so Python's cyclic GC never deletes it from a worker thread
        self.timer = QTimer(parent)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.max_gap_ms = 0.0
        self.ticks = 0
        self.gaps: list[tuple[float, float]] = []
        self.worst_at = 0.0
        self._last = 0.0

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = (now - self._last) * 1000.0
        if gap > self.max_gap_ms:
            self.max_gap_ms = gap
            self.worst_at = now
        self.gaps.append((gap, now))
        self._last = now
        self.ticks += 1

    def stop(self) -> None:
        self.timer.stop()

    def hold(self):
        """Not measured meanwhile (the test's own screenshots block the GUI thread)."""
        probe = self

        class _Hold:
            def __enter__(self):
                probe.timer.stop()

            def __exit__(self, *exc):
                probe.start()

        return _Hold()


def _open_pose(qtbot, window, project):
    return open_pose_dock(qtbot, window, project, CATEGORY, SEED)


def _start(qtbot, view, steps: int, k: int = 1):
    with qtbot.waitSignal(view.run_started, timeout=60000):
        assert view.run(k=k, steps=steps, objective="fast")
    return view.worker.log


def _refine_index(log, step: int) -> int:
    return next(r.index for r in log if r.stage == "refine" and r.step == step)


def _save(widget, path) -> None:
    assert grab_widget(widget).save(str(path)), f"cannot save {path}"


def test_live_run_pause_step_resume_scrub(qtbot, main_window, project_copy, artifacts_dir):
    w = main_window
    view = _open_pose(qtbot, w, project_copy)
    shown: list = []
    view.record_shown.connect(shown.append)
    first_shown: list[float] = []  # when the 3D view first drew the run's scene (set up)

    def _mark() -> None:
        if not first_shown and "mesh" in view.scene3d.plotter.actors:
            first_shown.append(time.perf_counter())

    view.scene3d.rendered.connect(_mark)
    frames0 = view.scene3d.frames
    probe = StallProbe(w)
    probe.start()
    t0 = time.perf_counter()
    log = _start(qtbot, view, steps=30)
    print(f"\nrun started after {time.perf_counter() - t0:.2f} s")
    src = view.source
    assert src.truth is not None and src.mask.any()
    assert view.image_view.has_image() and view.overlay.shown["mask"]

    # steps arrive and change both views
    qtbot.waitUntil(lambda: any(r.stage == "refine" for r in shown), timeout=60000)
    first = shown[-1]
    uv_a, frustum_a = view.overlay.point_positions(), view.scene3d.drawn_frustum()
    np.testing.assert_allclose(uv_a, first.uv)
    np.testing.assert_allclose(frustum_a, frustum_points(first.geometry), atol=1e-9)
    qtbot.waitUntil(lambda: shown[-1].stage == "refine" and shown[-1].step >= first.step + 3,
                    timeout=60000)
    later = shown[-1]
    uv_b, frustum_b = view.overlay.point_positions(), view.scene3d.drawn_frustum()
    assert np.abs(uv_b - uv_a).max() > 0.05, "the 2D points did not move"
    assert np.abs(frustum_b - frustum_a).max() > 1e-4, "the 3D frustum did not move"
    np.testing.assert_allclose(uv_b, later.uv)
    qtbot.waitUntil(lambda: view.scene3d.frames >= frames0 + 2, timeout=10000)
    with probe.hold():
        view.scene3d.render_now()
        _save(view, artifacts_dir / "pose_dock_mid_run.png")
        _save(w, artifacts_dir / "pose_window_mid_run.png")

    # pause: the worker parks at its gate and nothing new arrives
    view.pause()
    assert view.state == PAUSED
    qtbot.waitUntil(lambda: view.worker.control.waiting, timeout=10000)
    n = len(log)
    qtbot.waitUntil(lambda: shown[-1].index == n - 1, timeout=2000)  # the last one is shown
    shown_before = len(shown)
    qtbot.wait(500)
    assert len(log) == n and len(shown) == shown_before, "steps arrived while paused"

    # step: exactly one more, then parked again
    view.step()
    qtbot.waitUntil(lambda: len(log) == n + 1 and view.worker.control.waiting, timeout=10000)
    qtbot.waitUntil(lambda: shown[-1].index == n, timeout=2000)
    qtbot.wait(300)
    assert len(log) == n + 1 and view.state == PAUSED

    # resume: runs to the end
    with qtbot.waitSignal(view.run_finished, timeout=120000) as done:
        view.resume()
        assert view.state == RUNNING
    seconds = time.perf_counter() - t0
    probe.stop()
    outcome = done.args[0]
    assert outcome.status == "done", outcome.message
    assert view.state == IDLE and view.status.text().startswith("Done")
    assert not view.worker.thread_alive()
    records = log.snapshot()
    assert records[-1].stage == "done" and shown[-1].index == records[-1].index  # final shown
    assert [r.index for r in records] == list(range(len(records)))  # every step kept
    refine = [r for r in records if r.stage == "refine"]
    assert [r.step for r in refine] == list(range(31))
    assert records[-1].iou == max(r.iou for r in refine)  # the best refined camera
    qtbot.waitUntil(lambda: view.plot.points == len(records), timeout=2000)
    emissions = view.worker.emissions
    print(f"\nrun: {len(records)} records in {seconds:.1f} s, {emissions} view updates "
          f"({emissions / seconds:.1f}/s), 3D renders {view.scene3d.frames} (last frame "
          f"{view.scene3d.last_frame_ms:.0f} ms, last update {view.update_ms:.0f} ms, "
          f"interval {view.worker.interval_ms} ms), GUI probe ticks {probe.ticks}, "
          f"max GUI stall {probe.max_gap_ms:.1f} ms")
    worst = sorted(probe.gaps, reverse=True)[:8]
    print("worst gaps (ms, s after start):",
          [(round(g), round(t - t0, 2)) for g, t in worst])
    # The goal: no stall over 100 ms during a run, the scene's set-up included.
    # Measured on an idle 2-core machine under Xvfb, with the 3D views in native windows
    # (pyvistaqt 0.11): 39-41 ms for the set-up and once the scene is drawn.
    setup = max((g for g, t in probe.gaps if t <= first_shown[0]), default=0.0)
    steady = max(g for g, t in probe.gaps if t > first_shown[0])
    print(f"scene setup stall max {setup:.0f} ms, steady max {steady:.0f} ms")

    view.scene3d.render_now()
    qtbot.wait(50)
    _save(view, artifacts_dir / "pose_dock_done.png")
    img = load_rgb(artifacts_dir / "pose_dock_done.png")
    box = region_of_color(img, BACKGROUND)
    assert box is not None, "3D view not found in the screenshot"
    assert count_palette_pixels(img, (0, 0, img.shape[0], img.shape[1]), SET_PALETTE) > 50

    # scrub to refinement step 3: both views show that step's camera
    index = _refine_index(records, 3)
    rec = view.timeline.scrub_to(index)
    assert rec is records[index] and not view.timeline.following
    np.testing.assert_allclose(view.overlay.point_positions(), rec.uv)
    states = view.overlay.point_states()
    assert states == ["visible" if v else "occluded" if i else "outside"
                      for v, i in zip(rec.visible, rec.in_image, strict=True)]
    np.testing.assert_allclose(view.scene3d.drawn_frustum(), frustum_points(rec.geometry),
                               atol=1e-9)
    np.testing.assert_allclose(view.scene3d.drawn_plane(), rec.geometry.corners, atol=1e-9)
    x0, y0, x1, y1 = view.overlay.outline_rect()
    rows, cols = np.nonzero(rec.silhouette)
    assert abs(x0 - (cols.min() + 0.5)) < 1e-6 and abs(y1 - (rows.max() + 0.5)) < 1e-6
    qtbot.waitUntil(lambda: view.plot.cursor.value() == index, timeout=2000)
    view.scene3d.render_now()
    _save(view, artifacts_dir / "pose_dock_scrubbed_step3.png")
    # and back to the end
    view.timeline.follow.setChecked(True)
    np.testing.assert_allclose(view.overlay.point_positions(), records[-1].uv)

    assert steady < 100.0, f"the GUI thread stalled {steady:.0f} ms during the run"
    assert setup < 100.0, f"setting the views up stalled {setup:.0f} ms"


def test_closing_the_dock_or_window_cancels_the_run(qtbot, main_window, project_copy):
    w = main_window
    view = _open_pose(qtbot, w, project_copy)
    log = _start(qtbot, view, steps=400)
    qtbot.waitUntil(lambda: any(r.stage == "refine" for r in log), timeout=60000)
    with qtbot.waitSignal(view.run_finished, timeout=5000) as ended:
        t0 = time.perf_counter()
        w.pose_dock.close()
        qtbot.waitUntil(lambda: not view.worker.thread_alive(), timeout=2000)
    print(f"\ndock closed: worker thread ended in {time.perf_counter() - t0:.2f} s")
    assert ended.args[0].status == "stopped" and "Stopped" in view.status.text()
    assert len(log) < 400

    # again, then close the whole window mid-run
    w.pose_dock.reveal()
    qtbot.waitExposed(w.pose_dock)
    log = _start(qtbot, view, steps=400)
    qtbot.waitUntil(lambda: any(r.stage == "refine" for r in log), timeout=60000)
    thread = view.worker._thread
    t0 = time.perf_counter()
    w.close()
    print(f"window closed: worker thread ended in {time.perf_counter() - t0:.2f} s")
    assert thread is not None and thread.isFinished()
    assert not view.worker.thread_alive()


def test_floating_the_dock_mid_run_keeps_the_3d_view_drawing(qtbot, main_window,
                                                             project_copy, artifacts_dir):
    """The 3D view is a native window: floating the dock out of the main window and back
    mid-run moves it along, and it keeps drawing the run's steps."""
    w = main_window
    view = _open_pose(qtbot, w, project_copy)
    log = _start(qtbot, view, steps=400)
    qtbot.waitUntil(lambda: any(r.stage == "refine" for r in log), timeout=60000)
    for floating in (True, False):
        w.pose_dock.setFloating(floating)
        qtbot.waitExposed(w.pose_dock)
        w.pose_dock.raise_()  # back in its tab group: the user picks its tab
        frames = view.scene3d.frames
        qtbot.waitUntil(lambda f=frames: view.scene3d.frames >= f + 3, timeout=10000)
        name = "floating" if floating else "docked_again"
        _save(w.pose_dock, artifacts_dir / f"pose_dock_{name}.png")
        img = load_rgb(artifacts_dir / f"pose_dock_{name}.png")
        assert region_of_color(img, BACKGROUND) is not None, f"3D view blank ({name})"
        assert count_palette_pixels(img, (0, 0, img.shape[0], img.shape[1]),
                                    SET_PALETTE) > 50, f"no points drawn ({name})"
    with qtbot.waitSignal(view.run_finished, timeout=10000):
        view.stop()


def test_diverging_and_fast_runs(qtbot, main_window, project_copy):
    """A run whose engine raises RefinementDiverged stops and says at which step; a stream
    of steps faster than the views can draw is coalesced (at most ~30 updates a second,
    paced to what an update costs), always ending on the final record."""
    w = main_window
    view = _open_pose(qtbot, w, project_copy)

    def diverging(mask, template, **kwargs):
        for event in iter_estimate_pose(mask, template, **kwargs):
            yield event
            if event.stage == "refine" and event.data.step == 4:
                raise RefinementDiverged("refinement diverged at step 5: loss nan")

    view.events = diverging
    with qtbot.waitSignal(view.run_finished, timeout=120000) as done:
        _start(qtbot, view, steps=30)
    outcome = done.args[0]
    assert outcome.status == "diverged"
    assert "diverged at step 5" in view.status.text() and "stopped" in view.status.text()
    assert view.state == IDLE and not view.worker.thread_alive()

    def fast(mask, template, **kwargs):  # real events, each refine step replayed 40 times
        for event in iter_estimate_pose(mask, template, **kwargs):
            for _ in range(40 if event.stage == "refine" else 1):
                yield event

    view.events = fast
    shown: list = []
    view.record_shown.connect(shown.append)
    log = _start(qtbot, view, steps=8)
    qtbot.waitUntil(lambda: any(r.stage == "refine" for r in log), timeout=60000)
    n0, e0, t0 = len(log), view.worker.emissions, time.perf_counter()
    with qtbot.waitSignal(view.run_finished, timeout=120000) as done:
        pass
    seconds = time.perf_counter() - t0
    steps_rate = (len(log) - n0) / seconds
    updates_rate = (view.worker.emissions - e0) / seconds
    print(f"\nfast stream: {steps_rate:.0f} steps/s -> {updates_rate:.1f} view updates/s "
          f"(last update {view.update_ms:.0f} ms, interval {view.worker.interval_ms} ms)")
    assert done.args[0].status == "done"
    assert steps_rate > 1.3 * updates_rate, "the stream was not faster than the updates"
    assert updates_rate <= 31  # coalesced to at most ~30 a second
    assert shown[-1].index == len(log) - 1  # the final record is always shown


def test_missing_image_file_shows_placeholder(qtbot, main_window, project_copy, tmp_path):
    w = main_window
    view = _open_pose(qtbot, w, project_copy)
    missing = tmp_path / "gone.png"
    assert view.select_source("file", str(missing))
    run_menu = w.menuBar().findChild(QMenu, "runMenu")
    keys = {a.objectName(): a.shortcut().toString() for a in run_menu.actions()}
    assert keys["actionPoseRun"] == "F5" and keys["actionPosePause"] == "F6"
    assert keys["actionPoseStep"] == "F10" and keys["actionPoseStop"] == "Shift+F5"
    assert w.pose_dock.toggleViewAction() in run_menu.actions()
    with qtbot.waitSignal(view.run_finished, timeout=30000) as ended:
        w.findChild(QAction, "actionPoseRun").trigger()  # as the menu (or F5) does
    assert ended.args[0].status == "failed" and view.state == IDLE
    assert "gone.png" in view.status.text() and "Cannot read the image" in view.status.text()
    assert not view.image_view.has_image() and "gone.png" in view.image_view.placeholder_text
    assert view.run_action.isEnabled()
