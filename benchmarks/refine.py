"""Pose refinement and viewpoint search on the CPU.

- One refinement step (forward, hard-mask IoU, backward, Adam step: one ``next()`` of
  :func:`core.pose.refine.refine_pose`) of the fast points objective at 64 and 128 px, beside
  the soft pytorch3d objective (Eq. 1) in the same run as the baseline. Mesh: a demo mug
  decimated by vertex clustering to about 2,000 faces. Goal for the fast objective: < 15 ms
  (a live view above 60 steps/s).
- The viewpoint search over 288 bins (24 azimuth x 12 elevation) of a 64 px mask, fast
  rasterizer.

Times are medians over ``repeat`` runs of the mean step time over a few steps after a warm-up,
with torch's default thread count and with one thread: on a machine whose cores are busy with
other work, OpenMP workers waiting for a core slow everything else down. On the shared 2-core
development machine the 128 px fast step took 20-30 ms with 2 threads against 5-8 ms with one
(11 ms with ``OMP_WAIT_POLICY=PASSIVE``), and the search, before its box fit moved to numpy,
4.7 s against 0.24 s.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.table import Row, median_time
from core.geometry.simplify import cluster_decimate

TARGET_FACES = 2000
FAST_STEPS, SOFT_STEPS = 20, 2



def _mesh(target: int = TARGET_FACES):
    """A demo mug decimated to about ``target`` faces (bisection on the cluster size)."""
    from core.demo import generate_category

    model = generate_category("mug", n_models=1).models[0]
    lo, hi = 1e-4, 0.1
    best = (model.vertices, model.faces)
    for _ in range(30):
        cell = (lo * hi) ** 0.5
        v, f = cluster_decimate(model.vertices, model.faces, cell)
        if abs(len(f) - target) < abs(len(best[1]) - target):
            best = (v, f)
        if len(f) > target:
            lo = cell
        else:
            hi = cell
        if abs(len(f) - target) <= target // 50:
            break
    return best


def _scene(vertices, faces, size: int):
    import torch

    from core.cameras import PerspectiveCamera
    from core.raster.fast_mask import hard_mask

    verts = torch.as_tensor(vertices, dtype=torch.float64)
    cam = PerspectiveCamera.create(35.0, 20.0, 2.2, 0.0, 30.0, image_size=(size, size),
                                   dtype=torch.float64)
    uv, depth = cam.project(verts)
    mask = hard_mask(uv[0], faces, (size, size), depth=depth[0])
    start = PerspectiveCamera.create(50.0, 30.0, 2.3, 5.0, 30.0, image_size=(size, size))
    return mask, start


def _step_time(vertices, faces, size: int, objective: str, n_steps: int, repeat: int):
    from core.pose.refine import refine_pose

    mask, start = _scene(vertices, faces, size)

    def run() -> float:
        gen = refine_pose(mask, vertices, faces, start, objective=objective,
                          steps=n_steps + 1)
        next(gen)  # set-up and the first forward
        t0 = time.perf_counter()
        for _ in range(n_steps):
            next(gen)
        return (time.perf_counter() - t0) / n_steps

    return float(np.median([run() for _ in range(repeat)]))


def _one_thread(fn):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(threads)


def run(repeat: int = 3) -> list[Row]:
    import torch

    from core.pose.errors import is_closed_mesh
    from core.pose.viewpoint import search_viewpoints

    vertices, faces = _mesh()
    label = f"{len(faces)}-face mug ({'closed' if is_closed_mesh(faces) else 'open'})"
    threads = torch.get_num_threads()
    soft_label = f"soft pytorch3d objective (Eq. 1), {threads} torch threads"
    rows = []
    for size in (64, 128):
        soft = _step_time(vertices, faces, size, "soft", SOFT_STEPS, repeat)
        fast = _step_time(vertices, faces, size, "fast", FAST_STEPS, repeat)
        single = _one_thread(lambda s=size: _step_time(vertices, faces, s, "fast", FAST_STEPS,
                                                       repeat))
        rows.append(Row("refine", f"fast objective step, {size} px, {label}, {threads} torch "
                        f"threads", fast * 1e3, "ms", soft_label, soft * 1e3, "< 15 ms"))
        rows.append(Row("refine", f"fast objective step, {size} px, {label}, 1 torch thread",
                        single * 1e3, "ms", soft_label, soft * 1e3, "< 15 ms"))
    mask, _ = _scene(vertices, faces, 64)
    search_viewpoints(mask, vertices, faces)  # warm-up (imports)
    t = median_time(lambda: search_viewpoints(mask, vertices, faces, k=5), repeat)
    t1 = _one_thread(lambda: median_time(lambda: search_viewpoints(mask, vertices, faces, k=5),
                                         repeat))
    rows.append(Row("refine", f"viewpoint search, 288 bins, 64 px, {label}, {threads} torch "
                    f"threads", t, "s"))
    rows.append(Row("refine", f"viewpoint search, 288 bins, 64 px, {label}, 1 torch thread",
                    t1, "s"))
    return rows


if __name__ == "__main__":
    from benchmarks.table import format_table

    print(format_table(run()))
