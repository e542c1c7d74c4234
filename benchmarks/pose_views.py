"""Linked pose views during a live refinement, under Xvfb (issue 8, performance).

A real :class:`~ui.main_window.MainWindow` with its Pose dock runs the real pose engine
(``objective="fast"``, CPU) on a 256 x 256 synthetic view of the demo project's airplane
template (``airplane_000``: 2,422 vertices, 4,840 faces, 14 semantic points). Each refinement
step is replayed :data:`REPLAY` times (a record made for each, in the worker thread), so that
steps arrive faster than the views can draw them, as in ``tests/gui/test_pose_run.py``.

Measured over the refinement (from the first refinement step shown in both views, the 3D
scene set up, to the run's end):

- updates per second delivered to both views: the worker's ``step_ready`` emissions (each
  moves the 2D overlay and the 3D frustum), and the 3D view's VTK renders;
- the GUI thread's stalls: a :data:`PROBE_MS` precise ``QTimer`` probe, a stall being a gap
  between its ticks minus the interval (the longest and the 95th percentile).

Baseline, in the same process on the same widgets: a naive consumer that gets every record
from its own engine thread (the same engine, replay and worker priority) and, for each, one
record per event-loop pass, redraws everything on the GUI thread with no throttling or
coalescing: ``plotter.clear()``,
every 3D actor made again with ``add_mesh`` (mesh, point spheres, true and live frustum,
textured image plane) and ``plotter.render()``; the 2D overlay rebuilt (mask tint, crosses,
point items: ``PoseOverlay2D.set_source``), drawn (``show_record``) and the image view
repainted at once. It does not refresh the loss plot (the live path does, every 250 ms),
which favours the baseline, and so does drawing one record per event-loop pass: drawing each
record straight from a queued signal drains the whole backlog in one pass (Qt sends all posted
events at once), so the GUI thread stalls for the whole run once the engine is ahead.

Where the time goes (live path) is printed to stderr: the views' update methods, the VTK
frame, and what an update cost the GUI thread until the 3D view had drawn it.
"""

from __future__ import annotations

import collections
import functools
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.table import Row

CATEGORY = "airplane"
SEED = 7  # which held-out synthetic view (as the GUI tests)
IMAGE_SIZE = (256, 256)
STEPS = 80  # refinement steps (one hypothesis)
REPLAY = 3  # each refinement step is streamed this many times (steps outpace the views)
PROBE_MS = 5  # GUI-thread probe interval
GOAL_RATE = 20.0
GOAL_STALL_MS = 50.0
_KEEP: list = []  # closed windows are kept, not deleted (Mesa under Xvfb, see tests/gui)


class _Probe:
    """A precise GUI-thread timer; gaps between its ticks (ms, with their times)."""

    def __init__(self, parent, interval_ms: int = PROBE_MS) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval_ms = interval_ms
        self.timer = QTimer(parent)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[tuple[float, float]] = []  # (gap ms, tick time)
        self._last = 0.0

    def start(self) -> None:
        self.gaps = []
        self._last = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(((now - self._last) * 1000.0, now))
        self._last = now

    def stop(self) -> None:
        self.timer.stop()

    def stalls(self, t0: float, t1: float) -> np.ndarray:
        """Stalls (gap minus interval, ms) of the ticks in ``[t0, t1]``."""
        gaps = [g for g, t in self.gaps if t0 <= t <= t1]
        return np.maximum(np.asarray(gaps, dtype=np.float64) - self.interval_ms, 0.0)


def _wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Run the event loop until ``predicate()`` (checked every 10 ms)."""
    from PySide6.QtCore import QEventLoop, QTimer

    if predicate():
        return
    loop = QEventLoop()
    deadline = time.perf_counter() + timeout_s
    check = QTimer()
    check.setInterval(10)

    def _check() -> None:
        if predicate() or time.perf_counter() > deadline:
            loop.quit()

    check.timeout.connect(_check)
    check.start()
    loop.exec()
    check.stop()
    if not predicate():
        raise TimeoutError(f"pose_views benchmark: timed out waiting for {what}")


def _replayed(events: Callable, times: int) -> Callable:
    """``iter_estimate_pose`` with each refinement event yielded ``times`` times."""

    def replay(mask, template, **kwargs):
        for event in events(mask, template, **kwargs):
            for _ in range(times if event.stage == "refine" else 1):
                yield event

    return replay


def _timed(obj, name: str, into: list[float]) -> None:
    """Wrap ``obj.name`` (an instance attribute) to append its cost (ms) to ``into``."""
    original = getattr(obj, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into.append((time.perf_counter() - t0) * 1000.0)

    setattr(obj, name, wrapper)


def _open_pose(window, project: Path):
    """Open the project, show an airplane, reveal the Pose dock on the synthetic source."""
    from PySide6.QtCore import Qt

    window.controller.open_project(project)
    _wait_until(lambda: bool(window.browser.model_names(CATEGORY)), 60, "the model list")
    window.selection.select_model(CATEGORY, window.browser.model_names(CATEGORY)[0])
    _wait_until(lambda: window.mesh_view.scene is not None, 60, "the model")
    dock = window.pose_dock
    dock.reveal()
    window.resizeDocks([dock], [470], Qt.Orientation.Vertical)
    view = dock.view
    _wait_until(lambda: view.scene3d.frames >= 2, 30, "the 3D view's warm-up")
    view.seed_spin.setValue(SEED)
    if not view.select_source("synthetic"):
        raise RuntimeError("no synthetic source")
    _wait_until(lambda: view.run_action.isEnabled(), 30, "the Run action")
    return view


def _live_run(view, probe: _Probe) -> dict:
    """One live run through the PoseView (its worker, throttling and pacing)."""
    from core.pose.pipeline import iter_estimate_pose
    from ui.pose.pose_view import IDLE

    costs: dict[str, list[float]] = {"overlay": [], "scene3d": [], "link": [], "frame": [],
                                     "update": []}
    started: list[float] = []
    finished: list[float] = []

    def on_shown(record) -> None:
        if not started and record.stage == "refine" and view.scene3d.plotter is not None \
                and "mesh" in view.scene3d.plotter.actors:
            started.append(time.perf_counter())
            marks.update(emissions=view.worker.emissions, frames=view.scene3d.frames,
                         log=len(view.worker.log))

    marks: dict = {}
    _timed(view.overlay, "show_record", costs["overlay"])
    _timed(view.scene3d, "show_record", costs["scene3d"])
    _timed(view.link, "set_record", costs["link"])
    worker = view.worker
    reported = worker.report_update_cost  # the paced cost: handling + the window's repaint
    worker.report_update_cost = lambda ms: (costs["update"].append(ms), reported(ms))[-1]
    on_frame = lambda: costs["frame"].append(view.scene3d.last_frame_ms)  # noqa: E731
    on_done = lambda _o: finished.append(time.perf_counter())  # noqa: E731
    view.scene3d.rendered.connect(on_frame)
    view.record_shown.connect(on_shown)
    view.run_finished.connect(on_done)
    view.events = _replayed(iter_estimate_pose, REPLAY)
    try:
        probe.start()
        if not view.run(k=1, steps=STEPS, objective="fast"):
            raise RuntimeError(f"the pose run did not start: {view.status.text()}")
        _wait_until(lambda: bool(finished), 600, "the live run")
        _wait_until(lambda: view.state == IDLE, 30, "the idle state")
        probe.stop()
    finally:
        for obj, name in ((view.overlay, "show_record"), (view.scene3d, "show_record"),
                          (view.link, "set_record")):
            delattr(obj, name)  # the wrapper (an instance attribute) goes, the method stays
        delattr(worker, "report_update_cost")
        view.scene3d.rendered.disconnect(on_frame)
        view.record_shown.disconnect(on_shown)
        view.run_finished.disconnect(on_done)
        view.events = None
    if not started:
        raise RuntimeError("no refinement step reached the views")
    outcome = view.worker.outcome
    if outcome is None or outcome.status != "done":
        raise RuntimeError(f"the live run ended badly: {outcome}")
    t0, t1 = started[0], finished[0]
    seconds = t1 - t0
    stalls = probe.stalls(t0, t1)
    if view.scene3d.frames == marks["frames"]:
        raise RuntimeError("the 3D view did not render during the run (is its scene set up?)")
    return {
        "seconds": seconds,
        "steps_rate": (len(view.worker.log) - marks["log"]) / seconds,
        "rate": (view.worker.emissions - marks["emissions"]) / seconds,
        "renders_rate": (view.scene3d.frames - marks["frames"]) / seconds,
        "stall_max": float(stalls.max(initial=0.0)),
        "stall_p95": float(np.quantile(stalls, 0.95)) if stalls.size else 0.0,
        "setup_stall": float(probe.stalls(0.0, t0).max(initial=0.0)),
        "costs": costs,
        "interval_ms": view.worker.interval_ms,
    }


class _NaiveConsumer:
    """The baseline: every record, as it comes, redrawn in full on the GUI thread."""

    def __init__(self, view) -> None:
        from PySide6.QtCore import QObject, Qt, Signal

        class _Relay(QObject):
            record = Signal(object)
            done = Signal()

        self.view = view
        self.relay = _Relay()  # lives in the GUI thread: emits from the engine are queued
        self.relay.record.connect(self._schedule, Qt.ConnectionType.QueuedConnection)
        self.pending: collections.deque = collections.deque()  # engine -> GUI thread
        self._scheduled = False
        self.relay.done.connect(self._schedule, Qt.ConnectionType.QueuedConnection)
        self.ended = False  # the engine thread is done
        self.drawn: list[float] = []  # when each record was drawn
        self.refine_drawn: list[float] = []
        self.produced = 0
        self.finished_at: float | None = None
        self.error: BaseException | None = None
        self.costs: dict[str, list[float]] = {"3d rebuild": [], "3d render": [],
                                              "2d rebuild": [], "2d repaint": []}

    def start(self, mask, template, events: Callable, **options) -> None:
        from ui.pose.records import RecordMaker
        from ui.pose.run_worker import lower_thread_priority

        def work() -> None:
            lower_thread_priority()  # as the live worker thread
            try:
                maker = RecordMaker(template, mask.shape, options["steps"])
                t0 = time.perf_counter()
                for event in events(mask, template, **options):
                    record = maker(self.produced, event, time.perf_counter() - t0)
                    if record is not None:
                        self.produced += 1
                        self.pending.append(record)
                        self.relay.record.emit(record)
            except BaseException as exc:  # reported by the GUI thread
                self.error = exc
            finally:
                self.ended = True
                self.relay.done.emit()

        self.thread = threading.Thread(target=work, name="naive-pose-engine", daemon=True)
        self.thread.start()

    def _schedule(self, *_args) -> None:
        """Draw the next pending record in the next event-loop pass (one per pass)."""
        from PySide6.QtCore import QTimer

        if not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(0, self._next)

    def _next(self) -> None:
        self._scheduled = False
        if self.pending:
            self._draw(self.pending.popleft())
        if self.pending:
            self._schedule()
        elif self.ended and self.finished_at is None:
            self.finished_at = time.perf_counter()

    def _draw(self, record) -> None:
        import pyvista as pv

        from ui.mesh_view import MESH_COLOR
        from ui.palette import set_colors
        from ui.pose.scene_3d import (
            _PYRAMID,
            _TCOORDS,
            FRUSTUM_COLOR,
            TRUTH_COLOR,
            frustum_points,
        )

        view = self.view
        source, template, scene = view.source, view.template, view.scene3d
        p = scene.plotter
        t0 = time.perf_counter()
        p.clear()
        faces = np.hstack([np.full((len(template.faces), 1), 3, np.int64),
                           template.faces]).ravel()
        p.add_mesh(pv.PolyData(np.asarray(template.vertices, np.float64), faces),
                   color=MESH_COLOR, smooth_shading=False, specular=0.2, render=False,
                   reset_camera=False)
        pts = np.asarray(template.points, dtype=np.float64).reshape(-1, 3)
        markers = pv.PolyData(pts.copy()).glyph(
            geom=pv.Sphere(radius=scene.marker_radius, theta_resolution=10,
                           phi_resolution=10), scale=False, orient=False)
        markers.point_data["rgb"] = np.repeat(set_colors(template.set_numbers),
                                              markers.n_points // len(pts), axis=0)
        p.add_mesh(markers, scalars="rgb", rgb=True, render=False, reset_camera=False)
        if source.truth is not None and source.truth.geometry is not None:
            p.add_mesh(pv.PolyData(frustum_points(source.truth.geometry), lines=_PYRAMID),
                       color=TRUTH_COLOR, line_width=1.5, lighting=False, render=False,
                       reset_camera=False)
        frustum = frustum_points(record.geometry)
        p.add_mesh(pv.PolyData(frustum, lines=_PYRAMID), color=FRUSTUM_COLOR, line_width=2.5,
                   lighting=False, render=False, reset_camera=False)
        quad = pv.PolyData(frustum[1:].copy(), faces=np.array([4, 0, 1, 2, 3]))
        quad.active_texture_coordinates = _TCOORDS.copy()
        p.add_mesh(quad, texture=pv.Texture(np.ascontiguousarray(source.rgb)),
                   lighting=False, opacity=0.92, render=False, reset_camera=False)
        p.renderer.ResetCameraClippingRange()
        t1 = time.perf_counter()
        p.render()
        t2 = time.perf_counter()
        view.overlay.set_source(source.mask, source.truth, template.set_numbers)
        view.overlay.show_record(record)
        t3 = time.perf_counter()
        view.image_view.viewport().repaint()
        t4 = time.perf_counter()
        for key, a, b in (("3d rebuild", t0, t1), ("3d render", t1, t2),
                          ("2d rebuild", t2, t3), ("2d repaint", t3, t4)):
            self.costs[key].append((b - a) * 1000.0)
        self.drawn.append(t4)
        if record.stage == "refine":
            self.refine_drawn.append(t4)


def _naive_run(view, probe: _Probe) -> dict:
    """The baseline on the same view, source and template (see the module docstring)."""
    from core.pose.pipeline import iter_estimate_pose

    naive = _NaiveConsumer(view)
    probe.start()
    naive.start(view.source.mask, view.template, _replayed(iter_estimate_pose, REPLAY),
                k=1, steps=STEPS, objective="fast")
    _wait_until(lambda: naive.finished_at is not None, 900, "the naive run")
    probe.stop()
    naive.thread.join(10)
    if naive.error is not None:
        raise RuntimeError(f"the naive run failed: {naive.error!r}")
    if not naive.refine_drawn:
        raise RuntimeError("the naive run drew no refinement step")
    t0, t1 = naive.refine_drawn[0], naive.finished_at
    seconds = t1 - t0
    drawn = sum(1 for t in naive.drawn if t0 < t <= t1)
    stalls = probe.stalls(t0, t1)
    return {
        "seconds": seconds,
        "rate": drawn / seconds,
        "stall_max": float(stalls.max(initial=0.0)),
        "stall_p95": float(np.quantile(stalls, 0.95)) if stalls.size else 0.0,
        "costs": naive.costs,
        "records": naive.produced,
    }


def _repaint_costs(view, n: int = 15) -> dict[str, list[float]]:
    """Synchronous costs (ms) of the views' update work, one at a time, with the run's last
    record shown (where the time goes; printed, not a row)."""
    from PySide6.QtWidgets import QApplication

    records = view.worker.log.snapshot()
    view.show_record(records[-1])
    QApplication.processEvents()

    def plot_refresh() -> None:
        view.plot.set_records(records)
        view.plot.viewport().repaint()

    jobs = {
        "2D overlay show_record": lambda: view.overlay.show_record(records[-1]),
        "3D view render": view.scene3d.render_now,
        "3D show_record (in place)": lambda: view.scene3d.show_record(records[-1]),
        "loss plot set_records + repaint": plot_refresh,
        "2D view repaint": lambda: view.image_view.viewport().repaint(),
        "status label setText + repaint": lambda: (view.status.setText(f"probe {time.time()}"),
                                                   view.status.repaint()),
    }
    out: dict[str, list[float]] = {}
    for name, job in jobs.items():
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            job()
            times.append((time.perf_counter() - t0) * 1000.0)
        out[name] = times
    return out


def _swap_costs(view, n: int = 10) -> dict[str, list[float]]:
    """Event-loop costs (ms) from marking views dirty to the 3D view's next frame (its VTK
    render, in the paint pass that also paints the 2D view): what a repaint pass costs beyond
    the views' own work."""
    from PySide6.QtCore import QEventLoop, QTimer

    records = [r for r in view.worker.log.snapshot() if r.stage == "refine"][-2:]
    jobs = {  # alternating between two steps, so that something changes every time
        "3D view only": lambda i: view.scene3d.request_render(),
        "2D + 3D (a live update)": lambda i: view.show_record(records[i % 2]),
    }
    out: dict[str, list[float]] = {}
    for name, job in jobs.items():
        times = []
        for i in range(n):
            loop = QEventLoop()
            view.scene3d.frame_swapped.connect(loop.quit)
            QTimer.singleShot(1000, loop.quit)
            t0 = time.perf_counter()
            job(i)
            loop.exec()
            view.scene3d.frame_swapped.disconnect(loop.quit)
            dt = (time.perf_counter() - t0) * 1000.0
            if dt < 990.0:
                times.append(dt)
        out[name] = times or [float("nan")]
    return out


def _describe(costs: dict[str, list[float]]) -> str:
    return ", ".join(f"{k} median {statistics.median(v):.1f} / p95 "
                     f"{np.quantile(v, 0.95):.1f} / max {max(v):.1f} ms (n={len(v)})"
                     for k, v in costs.items() if v)


def run(repeat: int = 3) -> list[Row]:
    """Live linked-view updates against the naive redraw-everything baseline."""
    os.environ.setdefault("QT_API", "pyside6")
    from PySide6.QtWidgets import QApplication

    import ui.pose.pose_view as pose_view_module
    from core.demo.build_project import build_demo_project
    from ui.main_window import MainWindow
    from ui.pose.sources import synthetic_source
    from ui.settings import configure_settings

    live_runs, naive_runs = [], []
    old_settings = os.environ.get("CORRSTUDIO_SETTINGS_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["CORRSTUDIO_SETTINGS_DIR"] = str(tmp / "settings")
        project = build_demo_project(tmp / "demo", n_models=4, categories=[CATEGORY])
        _qapp = QApplication.instance() or QApplication([])  # kept alive for the run
        configure_settings()
        # the Pose panel's synthetic source at 256 x 256 (its default is 240 x 320)
        pose_view_module.synthetic_source = functools.partial(synthetic_source,
                                                              image_size=IMAGE_SIZE)
        window = MainWindow(show_dialogs=False)
        try:
            window.resize(1400, 900)
            window.show()
            view = _open_pose(window, project)
            probe = _Probe(window)
            for _ in range(max(1, repeat)):
                live = _live_run(view, probe)
                naive = _naive_run(view, probe)
                live_runs.append(live)
                naive_runs.append(naive)
                template = view.template
                print(f"[pose_views] template {template.model}: {len(template.vertices):,} "
                      f"vertices, {len(template.faces):,} faces, {len(template.points)} "
                      f"points; image {view.source.mask.shape}", file=sys.stderr)
                print(f"[pose_views] live: {live['seconds']:.1f} s of refinement, "
                      f"{live['steps_rate']:.0f} steps/s in, {live['rate']:.1f} updates/s, "
                      f"{live['renders_rate']:.1f} 3D renders/s, stall max "
                      f"{live['stall_max']:.0f} ms / p95 {live['stall_p95']:.0f} ms, scene "
                      f"set-up stall {live['setup_stall']:.0f} ms, final emit interval "
                      f"{live['interval_ms']} ms", file=sys.stderr)
                print(f"[pose_views] live costs: {_describe(live['costs'])}", file=sys.stderr)
                print(f"[pose_views] naive: {naive['seconds']:.1f} s, {naive['records']} "
                      f"records, {naive['rate']:.1f} updates/s, stall max "
                      f"{naive['stall_max']:.0f} ms / p95 {naive['stall_p95']:.0f} ms",
                      file=sys.stderr)
                print(f"[pose_views] naive costs: {_describe(naive['costs'])}",
                      file=sys.stderr)
            print(f"[pose_views] synchronous repaints: "
                  f"{_describe(_repaint_costs(view))}; 2D view "
                  f"{view.image_view.viewport().width()}x{view.image_view.viewport().height()}"
                  f" px, 3D view {view.scene3d.width()}x{view.scene3d.height()} px, window "
                  f"{window.width()}x{window.height()} px", file=sys.stderr)
            print(f"[pose_views] to the next 3D frame: {_describe(_swap_costs(view))}",
                  file=sys.stderr)
        finally:
            pose_view_module.synthetic_source = synthetic_source
            window.close()
            window.hide()
            _KEEP.append(window)
            if old_settings is None:
                os.environ.pop("CORRSTUDIO_SETTINGS_DIR", None)
            else:
                os.environ["CORRSTUDIO_SETTINGS_DIR"] = old_settings
    med = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
    naive_label = "naive: full redraw per step"
    size = f"{IMAGE_SIZE[1]} px"
    return [
        Row("pose_views", f"engine steps/s into the views (fast, x{REPLAY} replay, {size})",
            med(live_runs, "steps_rate"), "/s"),
        Row("pose_views", "linked views: updates/s", med(live_runs, "rate"), "/s",
            naive_label, med(naive_runs, "rate"), f">= {GOAL_RATE:.0f} /s"),
        Row("pose_views", "linked views: 3D renders/s", med(live_runs, "renders_rate"), "/s"),
        Row("pose_views", "linked views: longest GUI stall, ms", med(live_runs, "stall_max"),
            "ms", naive_label, med(naive_runs, "stall_max"), f"< {GOAL_STALL_MS:.0f} ms"),
        Row("pose_views", "linked views: p95 GUI stall, ms", med(live_runs, "stall_p95"), "ms",
            naive_label, med(naive_runs, "stall_p95")),
        Row("pose_views", "scene set-up: longest GUI stall, ms", med(live_runs, "setup_stall"),
            "ms"),
    ]
