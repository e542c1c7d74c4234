"""Linked 2D/3D pose views and their exports: real widgets, real VTK under Xvfb, the real pose
engine on a synthetic view of the demo project's template (helpers of test_pose_run).

Hovering a projected point in the image marks the same set in 3D and the reverse (real mouse
moves); a click on the mesh in 3D marks its projection in the image (filled / hollow as the
image's camera sees it); on a known pose (the synthetic source's ground-truth camera) a click
at a semantic point's projection selects that set and lands within a small distance of it in
3D; a click off the object says the ray misses; after scrubbing, clicks and the probe use the
scrubbed step's camera. Export figure writes a PNG of the expected size showing both views
and a caption; Export run writes one PNG per step (and a GIF), in passes that keep the GUI
responsive, then puts the views back; cancelling stops it.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QPushButton

from core.cameras import camera_from_dict
from core.pose.projection import project_keypoints
from core.raster.picking import ray_cast
from tests.gui.test_pose_run import StallProbe, _open_pose, _start
from tests.screens import count_palette_pixels, hex_rgb, load_rgb
from ui.mesh_view import BACKGROUND
from ui.palette import SET_PALETTE
from ui.pose.export import (
    CAPTION_HEIGHT,
    FRAME_PREFIX,
    MARGIN,
    figure_size,
    panel_size,
    pillow_available,
    qimage_rgb,
)
from ui.pose.link_marks import PROBE_COLOR, SELECT_COLOR
from ui.view_grab import grab_widget

STEPS = 6


def _camera(record):
    return camera_from_dict(record.geometry.camera, dtype=torch.float64)


def _view_point(view, uv) -> QPoint:
    p = view.image_view.view_position(*uv)
    return QPoint(int(round(p.x())), int(round(p.y())))


def _isolated(uv: np.ndarray, candidates, min_px: float = 12.0) -> list[int]:
    """Candidates whose projection is at least ``min_px`` image pixels from every other."""
    out = []
    for i in candidates:
        d = np.hypot(*(uv - uv[i]).T)
        d[i] = np.inf
        if np.nanmin(d) >= min_px:
            out.append(int(i))
    return out


def _run(qtbot, main_window, project_copy):
    view = _open_pose(qtbot, main_window, project_copy)
    with qtbot.waitSignal(view.run_finished, timeout=120000) as done:
        _start(qtbot, view, steps=STEPS)
    assert done.args[0].status == "done", done.args[0].message
    view.scene3d.render_now()
    return view


def _clean_points(camera, t, uv, candidates) -> list[int]:
    """Candidates whose pixel's ray hits the semantic point itself (not an edge or a
    nearer surface)."""
    return [k for k in candidates
            if (hit := ray_cast(camera, t.vertices, t.faces, uv[k])) is not None and
            np.linalg.norm(hit.xyz - t.points[k]) < 1e-4]


def test_linked_hover_click_and_scrub(qtbot, main_window, project_copy, artifacts_dir):
    t_start = time.perf_counter()
    view = _open_pose(qtbot, main_window, project_copy)
    state, marks2d, marks3d = view.link, view.image_marks, view.scene_marks

    # -- while the run is live: a click selects with the shown step's camera, and the marks
    # follow each new step
    with qtbot.waitSignal(view.run_finished, timeout=120000) as done:
        _start(qtbot, view, steps=40)
        qtbot.waitUntil(lambda: state.record is not None and state.record.stage == "refine",
                        timeout=60000)
        live, t = state.record, view.template
        m = _clean_points(_camera(live), t, live.uv, np.flatnonzero(live.visible))[0]
        view.linker.click_image(*live.uv[m])
        assert state.selected == m and np.linalg.norm(state.probe.xyz - t.points[m]) < 1e-4
        qtbot.waitUntil(lambda: state.record is not live, timeout=30000)
        now = state.record
        if now.in_image[m]:
            np.testing.assert_allclose(marks2d.ring_position("selected"), now.uv[m])
        expect = project_keypoints(_camera(now), t.vertices, t.faces, state.probe.xyz[None],
                                   point_faces=[state.probe.face])
        np.testing.assert_allclose(marks2d.probe_mark()[:2], expect.uv[0], atol=1e-6)
        print(f"\nlive: picked {state.label(m)} on step {live.index}, followed to step "
              f"{now.index}")
    assert done.args[0].status == "done", done.args[0].message
    view.scene3d.render_now()
    print(f"window + run: {time.perf_counter() - t_start:.1f} s")
    records = view.worker.log.snapshot()
    final = records[-1]
    assert state.record is final and state.template is t
    diag = float(np.linalg.norm(np.ptp(t.vertices, axis=0)))

    # -- hover a projected point in the image: the same set is marked in 3D
    i = _isolated(final.uv, np.flatnonzero(final.visible))[0]
    qtbot.mouseMove(view.image_view.viewport(), _view_point(view, final.uv[i]))
    qtbot.waitUntil(lambda: state.hovered == i, timeout=3000)
    np.testing.assert_allclose(marks3d.position("link_hover"), t.points[i], atol=1e-9)
    np.testing.assert_allclose(marks2d.ring_position("hover"), final.uv[i], atol=1e-6)
    assert state.label(i) in view.link_info.text()
    qtbot.mouseMove(view.image_view.viewport(), QPoint(3, 3))  # off every marker
    qtbot.waitUntil(lambda: state.hovered == -1, timeout=3000)
    assert marks3d.position("link_hover") is None and marks2d.ring_position("hover") is None

    # -- hover a point's sphere in 3D: the same set is marked in the image
    pointer, widget = view.pointer3d, view.scene3d.plotter.interactor
    in_3d = [j for j in range(len(t.points)) if final.in_image[j] and
             pointer.point_at(*pointer.widget_position(t.points[j])) == j]
    assert in_3d, "no semantic point can be pointed at in the 3D view"
    j = in_3d[0]
    x, y = pointer.widget_position(t.points[j])
    qtbot.mouseMove(widget, QPoint(int(round(x)), int(round(y))))
    qtbot.waitUntil(lambda: state.hovered == j, timeout=3000)
    np.testing.assert_allclose(marks2d.ring_position("hover"), final.uv[j], atol=1e-6)
    np.testing.assert_allclose(marks3d.position("link_hover"), t.points[j], atol=1e-9)
    qtbot.mouseMove(widget, QPoint(2, 2))  # the 3D background
    qtbot.waitUntil(lambda: state.hovered == -1, timeout=3000)

    # -- click on the mesh in 3D: a probe at its projection, filled or hollow as the
    # image's camera sees it (one of each when this view shows both kinds)
    camera = _camera(final)
    v, f = t.vertices, t.faces
    centres = v[f].mean(axis=1)
    cam_pos = np.asarray(view.scene3d.plotter.camera.position)
    normals = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    facing = (normals * (cam_pos - centres)).sum(axis=1) > 0
    big = np.linalg.norm(normals, axis=1) > np.quantile(np.linalg.norm(normals, axis=1), 0.5)
    order = np.argsort(np.linalg.norm(centres - centres.mean(0), axis=1))
    kp = project_keypoints(camera, v, f, centres, point_faces=np.arange(len(f)))
    seen: dict[str, int] = {}
    for face in order:
        if not (facing[face] and big[face] and kp.in_image[face]):
            continue
        kind = "visible" if kp.visible[face] else "occluded"
        if kind in seen:
            continue
        x, y = (round(c) for c in pointer.widget_position(centres[face]))
        hit = pointer.surface_at(x, y)
        if hit is None or hit[0] != face or pointer.point_at(x, y) != -1:
            continue
        seen[kind] = int(face)
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
        qtbot.waitUntil(lambda fc=face: state.probe is not None and state.probe.face == fc,
                        timeout=3000)
        probe = state.probe
        assert probe.origin == "mesh" and np.linalg.norm(probe.xyz - centres[face]) < 0.02
        expect = project_keypoints(camera, v, f, probe.xyz[None], point_faces=[face])
        px, py, drawn = marks2d.probe_mark()
        np.testing.assert_allclose((px, py), expect.uv[0], atol=1e-6)
        assert drawn == ("visible" if expect.visible[0] else "occluded")
        np.testing.assert_allclose(marks3d.position("link_probe"), probe.xyz, atol=1e-9)
        if len(seen) == 2:
            break
    assert "visible" in seen, "no visible face could be clicked in the 3D view"
    print(f"mesh clicks: {seen}")
    if "occluded" not in seen:  # a face the image's camera does not see (hollow marker)
        hidden = np.flatnonzero(kp.in_image & ~kp.visible)
        assert len(hidden), "every face is visible from the image's camera"
        view.linker.click_mesh(int(hidden[0]), centres[hidden[0]])
        assert marks2d.probe_mark()[2] == "occluded" and "hidden" in view.link_info.text()
    view.scene3d.render_now()
    assert grab_widget(view).save(str(artifacts_dir / "pose_linking_mesh_click.png"))

    # -- a known pose (the synthetic view's true camera): a click at a semantic point's
    # projection selects that set; the 3D hit is within a small distance of the point
    truth = view.source.truth
    true_cam = camera_from_dict(truth.geometry.camera, dtype=torch.float64)
    known = project_keypoints(true_cam, v, f, t.points, point_faces=t.point_faces)
    gt = dataclasses.replace(final, geometry=truth.geometry, uv=known.uv,
                             visible=known.visible, in_image=known.in_image, label="truth")
    view.show_record(gt)
    assert state.record is gt
    clean = _clean_points(true_cam, t, known.uv,
                          _isolated(known.uv, np.flatnonzero(known.visible)))
    assert clean, "no cleanly visible semantic point on the true pose"
    k = clean[0]
    qtbot.mouseClick(view.image_view.viewport(), Qt.MouseButton.LeftButton,
                     pos=_view_point(view, known.uv[k]))
    qtbot.waitUntil(lambda: state.selected == k, timeout=3000)
    probe = state.probe
    assert probe is not None and probe.origin == "image"
    dist = float(np.linalg.norm(probe.xyz - t.points[k]))
    print(f"known pose: clicked {state.label(k)}; 3D hit {dist:.4f} from its point "
          f"(diag {diag:.2f})")
    assert dist < 0.02 * diag
    np.testing.assert_allclose(marks3d.position("link_selected"), t.points[k], atol=1e-9)
    np.testing.assert_allclose(marks2d.ring_position("selected"), known.uv[k], atol=1e-6)
    assert state.label(k) in view.link_info.text()
    for k2 in clean[:4]:  # exact pixel positions: the hit is the point itself
        view.linker.click_image(*known.uv[k2])
        assert state.selected == k2 and np.linalg.norm(state.probe.xyz - t.points[k2]) < 1e-4
    view.scene3d.render_now()
    assert grab_widget(view).save(str(artifacts_dir / "pose_linking_known_pose_click.png"))
    # (for people to look at: the 3D view zoomed onto the mesh, the selected set's halo)
    plotter = view.scene3d.plotter
    camera_position = plotter.camera_position
    plotter.reset_camera(render=False, bounds=np.ravel(np.column_stack(
        [v.min(axis=0), v.max(axis=0)])).tolist())
    view.scene3d.render_now()
    assert grab_widget(view.scene3d).save(str(artifacts_dir / "pose_linking_3d_selected.png"))
    plotter.camera_position = camera_position

    # -- a click off the object: the ray misses, nothing is selected
    qtbot.mouseClick(view.image_view.viewport(), Qt.MouseButton.LeftButton,
                     pos=_view_point(view, (1.5, 1.5)))
    qtbot.waitUntil(lambda: state.selected == -1 and state.probe is None, timeout=3000)
    assert "misses" in view.link_info.text()

    # -- scrub to the step whose camera differs most: linking uses that step's camera
    shift = [np.nanmax(np.abs(r.uv - final.uv)) if r.in_image.any() else 0 for r in records]
    index = int(np.argmax(shift))
    rec = view.timeline.scrub_to(index)
    assert state.record is rec and rec.geometry.camera != final.geometry.camera
    cam_s, cam_f = _camera(rec), _camera(final)
    usable = _clean_points(cam_s, t, rec.uv, np.flatnonzero(rec.visible))
    assert usable, "no visible point on the scrubbed step"
    m = usable[0]
    view.linker.click_image(*rec.uv[m])
    assert state.selected == m and np.linalg.norm(state.probe.xyz - t.points[m]) < 1e-4
    other = ray_cast(cam_f, v, f, rec.uv[m])  # what the final camera would have picked
    assert other is None or np.linalg.norm(other.xyz - t.points[m]) > 1e-3
    print(f"scrubbed to step {index} (max shift {shift[index]:.1f} px): "
          f"{state.label(m)} picked with that step's camera")
    # the probe follows the shown step: back on the final step it is re-projected
    xyz = state.probe.xyz.copy()
    view.timeline.follow.setChecked(True)
    assert state.record is records[-1]
    expect = project_keypoints(cam_f, v, f, xyz[None], point_faces=[state.probe.face])
    np.testing.assert_allclose(marks2d.probe_mark()[:2], expect.uv[0], atol=1e-6)
    print(f"linking test: {time.perf_counter() - t_start:.1f} s")


def test_export_figure_and_run(qtbot, main_window, project_copy, artifacts_dir, tmp_path,
                               monkeypatch):
    t_start = time.perf_counter()
    w = main_window
    view = _run(qtbot, w, project_copy)
    records = view.worker.log.snapshot()
    t = view.template

    # the menu entries, their shortcuts, and no shortcut clash in the whole window
    run_menu = w.menuBar().findChild(QMenu, "runMenu")
    keys = {a.objectName(): a.shortcut().toString() for a in run_menu.actions()}
    assert keys["actionPoseExportFigure"] == "Ctrl+Shift+E"
    assert keys["actionPoseExportRun"] == "Ctrl+Alt+E"
    shortcuts = [s.toString() for a in w.findChildren(QAction) for s in a.shortcuts()
                 if not s.isEmpty()]
    assert len(shortcuts) == len(set(shortcuts)), sorted(shortcuts)
    assert view.export_figure_action.isEnabled() and view.export_run_action.isEnabled()

    # select a set so that the figure shows the linked marks too
    visible = np.flatnonzero(records[-1].visible)
    view.linker.select_point(int(visible[0]))

    # -- export figure: one PNG, both views side by side, a caption
    path = artifacts_dir / "pose_linked_figure.png"
    path.unlink(missing_ok=True)
    assert view.export_figure(path) == path
    img = load_rgb(path)
    view_size = view.figure_view_size()
    size = figure_size(records[-1].image_size, view_size)
    assert (img.shape[1], img.shape[0]) == size
    pw, ph = panel_size(records[-1].image_size)
    rw, _ = panel_size(view_size)
    left = img[MARGIN:MARGIN + ph, MARGIN:MARGIN + pw]
    right = img[MARGIN:MARGIN + ph, 2 * MARGIN + pw:2 * MARGIN + pw + rw]
    cap = img[MARGIN + ph:MARGIN + ph + CAPTION_HEIGHT]
    assert img.std() > 20, "the figure is blank"
    # left: the rendered image (a grey mesh on its background) with the set-colored points
    src = view.source.rgb.astype(np.int16)
    assert left.std() > 15 and abs(left.mean() - src.mean()) < 40
    assert count_palette_pixels(left, (0, 0, ph, pw), SET_PALETTE) > 50
    # right: the 3D view (its background, the grey mesh, the frustum with the image)
    near = lambda crop, c, tol: (np.abs(crop - hex_rgb(c)).max(axis=-1) <= tol).mean()  # noqa: E731
    assert near(right, BACKGROUND, 3) > 0.2, "no 3D background in the right panel"
    assert 1.0 - near(right, BACKGROUND, 12) > 0.03, "the 3D panel is (nearly) empty"
    grey = (np.ptp(right, axis=-1) < 30) & (right.min(axis=-1) > 110)  # the lit grey mesh
    assert grey.sum() > 150, f"no mesh in the 3D panel ({grey.sum()} grey pixels)"
    shot = qimage_rgb(view.scene3d.snapshot().scaled(
        rw, ph, Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation)).astype(np.int16)
    top, lft = (ph - shot.shape[0]) // 2, (rw - shot.shape[1]) // 2
    same = right[top:top + shot.shape[0], lft:lft + shot.shape[1]]
    assert np.abs(same - shot).mean() < 3, "the 3D panel is not the 3D view"
    assert near(left, SELECT_COLOR, 40) > 0 and near(right, SELECT_COLOR, 60) > 0
    assert (cap.max(axis=-1) > 150).sum() > 200, "no caption text"
    print(f"\nfigure {size[0]} x {size[1]} written to {path}; probe colour "
          f"{PROBE_COLOR}")
    # the same through the Run menu's action (its file dialog answered here)
    chosen = tmp_path / "from_menu"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(chosen), ""))
    w.findChild(QAction, "actionPoseExportFigure").trigger()
    qtbot.waitUntil(lambda: (tmp_path / "from_menu.png").exists(), timeout=5000)
    assert load_rgb(tmp_path / "from_menu.png").shape == img.shape
    assert "Figure saved" in view.status.text()

    # -- export run: one PNG per step, then the views are back on the shown step
    index = len(records) // 2
    shown = view.timeline.scrub_to(index)
    uv_before = view.overlay.point_positions().copy()
    frustum_before = view.scene3d.drawn_frustum().copy()
    camera_before = view.scene3d.plotter.camera_position
    folder = tmp_path / "run"
    probe = StallProbe(w)
    probe.start()
    with qtbot.waitSignal(view.export_finished, timeout=120000) as done:
        export = view.export_run(folder)
        assert export is not None and export.dialog is not None
        assert not view.run_action.isEnabled()
    probe.stop()
    result = done.args[0]
    assert not result.cancelled and result.error is None
    names = sorted(p.name for p in folder.glob(f"{FRAME_PREFIX}*.png"))
    assert names == [f"{FRAME_PREFIX}{i:04d}.png" for i in range(len(records))]
    assert [p.name for p in result.frames] == names
    size = figure_size(records[-1].image_size, view.figure_view_size())
    first, last = load_rgb(folder / names[0]), load_rgb(folder / names[-1])
    assert (first.shape[1], first.shape[0]) == size and (last.shape[1], last.shape[0]) == size
    assert np.abs(first - last).max() > 50, "the steps' figures do not differ"
    if pillow_available():
        from PIL import Image

        with Image.open(result.gif) as gif:
            assert gif.n_frames == len(records)
    print(f"run export: {len(names)} PNGs, longest export pass {result.max_pass_ms:.0f} ms, "
          f"longest GUI stall {probe.max_gap_ms:.0f} ms ({probe.ticks} probe ticks)")
    # goal: no stall over ~100 ms (measured on an idle 2-core machine under Xvfb: passes
    # 40-60 ms, stalls below 100 ms); the bound leaves room for a loaded CI machine
    assert result.max_pass_ms < 250 and probe.max_gap_ms < 300
    assert view.state_changed is not None and view.run_action.isEnabled()
    assert view.timeline.current() is shown and view.link.record is shown
    np.testing.assert_allclose(view.overlay.point_positions(), uv_before)
    np.testing.assert_allclose(view.scene3d.drawn_frustum(), frustum_before)
    assert view.scene3d.plotter.camera_position == camera_before
    assert view.export is None and view.export_run_action.isEnabled()
    (artifacts_dir / "pose_run_export_last.png").write_bytes((folder / names[-1]).read_bytes())

    # -- cancelled: fewer frames, no GIF, the views restored
    folder2 = tmp_path / "cancelled"
    with qtbot.waitSignal(view.export_finished, timeout=60000) as done:
        export = view.export_run(folder2)
        qtbot.waitUntil(lambda: len(export.result.frames) >= 2 or export._next >= 2,
                        timeout=30000)
        qtbot.mouseClick(export.dialog.findChild(QPushButton), Qt.MouseButton.LeftButton)
    result = done.args[0]
    assert result.cancelled and result.gif is None
    assert len(result.frames) < len(records)
    assert view.timeline.current() is shown and view.export is None
    assert len(t.points) == len(view.overlay.point_positions())
    print(f"export test: {time.perf_counter() - t_start:.1f} s")
