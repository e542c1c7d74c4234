"""Rasterization: hard mask + visibility of 20 points, fast CPU path vs pytorch3d on CPU.

Mesh: the demo airplane 000 decimated by manifold3d (``simplify(5e-4)``, ~2.4k faces; thin
wings and tail give many sub-pixel triangles), 20 surface points (``sample_surface`` seed 0),
8 fitted perspective views (azimuth every 45 degrees, elevation 20), at 128 and 256 px.

- fast: project the vertices (torch), scanline mask with back-face culling
  (:class:`~core.raster.interface.FastRasterizer`), ray-cast visibility; median time per
  view, and the best run (on a machine shared with other work the median carries the
  waits). Goal: under 5 ms together.
- baseline: pytorch3d's hard rasterizer on CPU (``rasterize_meshes``, blur 0, one face per
  pixel, the naive CPU kernel) for the mask, and its z-buffer sampled at the points for
  visibility (:class:`~core.raster.interface.Pytorch3dRasterizer`), on the first ``repeat``
  views. The same runs give the agreement rows (mask IoU, share of equal visibility).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from benchmarks.table import Row

SIZES = (128, 256)
N_POINTS = 20
N_VIEWS = 8


def _mesh():
    import manifold3d as m3

    from core.demo import generate_category

    model = generate_category("airplane", n_models=1).models[0]
    mesh = m3.Mesh(vert_properties=model.vertices.astype(np.float32),
                   tri_verts=model.faces.astype(np.uint32))
    out = m3.Manifold(mesh).simplify(5e-4).to_mesh()
    vertices = np.asarray(out.vert_properties, dtype=np.float64)[:, :3]
    return vertices, np.asarray(out.tri_verts, dtype=np.int64)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _rows_for_size(size: int, vertices, faces, sample, repeat: int) -> list[Row]:
    from core.raster.fast_mask import mask_iou
    from core.raster.interface import FastRasterizer, Pytorch3dRasterizer, project
    from core.synthetic.renders import Viewpoint, fit_camera

    fast, p3d = FastRasterizer(), Pytorch3dRasterizer("cpu")
    cams = [fit_camera(Viewpoint(45.0 * i + 10.0, 20.0, 0.0, 1.1, 30.0), vertices,
                       (size, size)) for i in range(N_VIEWS)]

    def fast_mask(cam):
        uv, depth = project(cam, vertices)
        return fast.mask(uv, depth, faces, (size, size), cull_backfaces=True)

    def fast_vis(cam):
        return fast.visibility(cam, vertices, faces, sample.points, sample.faces)

    for cam in cams[:2]:  # warm-up (imports, caches)
        fast_mask(cam), fast_vis(cam)
    t_mask, t_vis, t_both = [], [], []
    for _ in range(max(repeat, 1) * 5):
        for cam in cams:
            t_mask.append(_timed(lambda c=cam: fast_mask(c))[0])
            t_vis.append(_timed(lambda c=cam: fast_vis(c))[0])
            t_both.append(_timed(lambda c=cam: (fast_mask(c), fast_vis(c)))[0])

    p3d.visibility(cams[0], vertices, faces, sample.points, sample.faces)  # warm-up
    p_mask, p_vis, ious, agree = [], [], [], []
    for i in range(max(repeat, 1)):
        cam = cams[i % N_VIEWS]
        uv, depth = project(cam, vertices)
        t, mask = _timed(lambda c=cam, u=uv, d=depth: p3d.mask(u, d, faces, (size, size)))
        p_mask.append(t)
        t, vis = _timed(lambda c=cam: p3d.visibility(c, vertices, faces, sample.points,
                                                     sample.faces))
        p_vis.append(t)
        ious.append(mask_iou(mask, fast_mask(cam)))
        agree.append(float((vis == fast_vis(cam)).mean()))

    ms = 1e3
    med = statistics.median
    label = f"{len(faces)}-face airplane, {size} px"
    base = "pytorch3d hard raster + z-buffer (CPU)"
    return [
        Row("raster", f"fast mask + visibility of {N_POINTS} points, {label}",
            med(t_both) * ms, "ms", base, (med(p_mask) + med(p_vis)) * ms, "< 5 ms together"),
        Row("raster", f"fast mask + visibility, best of {len(t_both)} runs, {label}",
            min(t_both) * ms, "ms", goal="< 5 ms together"),
        Row("raster", f"fast mask (back-face culled), {label}", med(t_mask) * ms, "ms",
            "pytorch3d rasterize_meshes (CPU)", med(p_mask) * ms),
        Row("raster", f"fast visibility of {N_POINTS} points, {label}", med(t_vis) * ms, "ms",
            "pytorch3d z-buffer at the points (CPU)", med(p_vis) * ms),
        Row("raster", f"mask IoU fast vs pytorch3d (min of {len(ious)} views), {label}",
            min(ious), "", goal="> 0.98"),
        Row("raster", f"visibility agreement fast vs pytorch3d, {label}",
            float(np.mean(agree)), "", goal="> 0.99"),
    ]


def run(repeat: int = 3) -> list[Row]:
    from core.geometry.sampling import sample_surface

    vertices, faces = _mesh()
    sample = sample_surface(vertices, faces, n=N_POINTS, seed=0)
    rows: list[Row] = []
    for size in SIZES:
        rows += _rows_for_size(size, vertices, faces, sample, repeat)
    return rows


if __name__ == "__main__":
    from benchmarks.table import format_table

    print(format_table(run()))
