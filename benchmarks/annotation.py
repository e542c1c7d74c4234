"""Annotation latency under Xvfb: click-to-marker (pick + store commit + marker redraw +
render) on a ~200k-face mesh, against pyvista's default picking path (a cell picker
with no locator) doing the same work; and model switch time for a ~50k-face mesh."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.table import Row


def _sphere_mesh(path: Path, resolution: int) -> int:
    import pyvista as pv

    from core.geometry.ply import write_ply

    mesh = pv.Sphere(radius=0.35, theta_resolution=resolution, phi_resolution=resolution)
    mesh = mesh.triangulate()
    faces = mesh.faces.reshape(-1, 4)[:, 1:]
    write_ply(path, np.asarray(mesh.points, dtype=np.float64), faces)
    return int(faces.shape[0])


def _wait(signal, action) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(60_000, loop.quit)
    action()
    loop.exec()
    signal.disconnect(loop.quit)


def run(repeat: int = 3) -> list[Row]:
    import os

    os.environ.setdefault("QT_API", "pyside6")
    from PySide6.QtWidgets import QApplication
    from vtkmodules.vtkRenderingCore import vtkCellPicker

    from core.mesh_import import import_meshes
    from core.store import ProjectStore
    from ui.main_window import MainWindow
    from ui.settings import configure_settings

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["CORRSTUDIO_SETTINGS_DIR"] = str(tmp / "settings")
        big = tmp / "big.ply"
        mid = tmp / "mid.ply"
        n_big = _sphere_mesh(big, 318)
        n_mid = _sphere_mesh(mid, 160)
        project = tmp / "bench.corrstudio"
        with ProjectStore.create(project) as store:
            import_meshes(store, "spheres", [big, mid])
        _qapp = QApplication.instance() or QApplication([])  # kept alive for the run
        configure_settings()
        window = MainWindow(show_dialogs=False)
        window.resize(1280, 800)
        window.show()
        _wait(window.controller.categories_changed,
              lambda: window.controller.open_project(project))
        _wait(window.controller.models_listed, lambda: None) \
            if not window.browser.model_names("spheres") else None
        _wait(window.mesh_view.scene_shown,
              lambda: window.selection.select_model("spheres", "big"))
        window.annotation.set_annotator("bench", create=True)
        view = window.mesh_view
        scene = view.scene
        rng = np.random.default_rng(0)
        cam = np.array(view.plotter.camera.position)
        v, f = scene.vertices, scene.faces
        centres = v[f].mean(axis=1)
        facing = np.flatnonzero(((centres - 0) * (cam - centres)).sum(1) > 0.0)
        targets = centres[rng.choice(facing, 200, replace=False)]
        widget = view.plotter.interactor
        ratio = widget.devicePixelRatioF()

        def click_times(pick_fn) -> list[float]:
            out = []
            for i, xyz in enumerate(targets):
                window.annotation.select_set(i % 16)
                x, y = view.display_position(xyz)
                t0 = time.perf_counter()
                hit = pick_fn(x, y)
                if hit is not None:
                    window.annotation.place_at(*hit)  # commits, redraws markers, renders
                out.append(time.perf_counter() - t0)
            return out

        fast = click_times(view.picker.pick)
        plain = vtkCellPicker()
        plain.SetTolerance(0.0)

        def default_pick(x, y):
            if not plain.Pick(x, y, 0.0, view.plotter.renderer) or plain.GetCellId() < 0:
                return None
            return int(plain.GetCellId()), np.array(plain.GetPickPosition())

        slow = click_times(default_pick)
        frames = []
        for _ in range(20):
            t0 = time.perf_counter()
            view.plotter.render()
            frames.append(time.perf_counter() - t0)
        frame = statistics.median(frames)
        work = [t - frame for t in fast]
        _ = ratio
        q = lambda xs, p: float(np.quantile(xs, p)) * 1000  # noqa: E731
        rows += [
            Row("annotation", f"render one frame, {n_big:,} faces (Mesa, software)",
                frame * 1000, "ms"),
            Row("annotation", "click-to-marker p95 without the frame (pick+commit+markers)",
                q(work, 0.95), "ms", "pyvista default path without the frame",
                q([t - frame for t in slow], 0.95)),
            Row("annotation", f"click-to-marker p50, {n_big:,}-face mesh", q(fast, 0.5), "ms",
                "pyvista default picking (no locator)", q(slow, 0.5)),
            Row("annotation", f"click-to-marker p95, {n_big:,}-face mesh", q(fast, 0.95), "ms",
                "pyvista default picking (no locator)", q(slow, 0.95), "p95 < 16 ms"),
        ]
        switches = []
        for _ in range(max(repeat, 3)):
            for name in ("mid", "big"):
                t0 = time.perf_counter()
                _wait(view.scene_shown, lambda n=name: window.selection.select_model("spheres",
                                                                                   n))
                if name == "mid":
                    switches.append(time.perf_counter() - t0)
        rows.append(Row("annotation", f"model switch, {n_mid:,}-face mesh (median)",
                        statistics.median(switches) * 1000, "ms", goal="< 200 ms"))
        window.close()
    return rows
