"""Embedding metrics: geodesic precompute per model, the set-distance matrix, and mGE.

- Geodesics: one ~10k-vertex model (icosphere, subdivision 5, 10 242 vertices), 16
  keypoints inserted into 2048 samples, distances from the 16 keypoints to all samples,
  per mode; the CPNet-release ``knn`` mode is the baseline; plus a disk-cache hit.
- Set distances: 24 generated models, 40 sets, 2048 samples; baseline: the same
  with plain per-model, per-pair Python loops.
- mGE: 100 generated models x 50 sets, N = 2048, D = 128 (float32 embeddings, 90 % of
  the sets present per model); baseline: the per-pair reference loop, timed on the first
  10 models and scaled by the ratio of ordered pairs (the full loop takes minutes). Timed
  with torch's default thread count and with one thread (on a 2-core machine shared with
  other work, OpenMP threads waiting on a busy core can make one thread the faster).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.table import Row, median_time

SET_MODELS, SET_SETS = 24, 40
MGE_MODELS, MGE_SETS, MGE_POINTS, MGE_DIM = 100, 50, 2048, 128
REFERENCE_MODELS = 10


def _sphere_model():
    import trimesh

    from core.geometry.sampling import insert_keypoints, sample_surface
    from core.geometry.surface import closest_points

    mesh = trimesh.creation.icosphere(subdivisions=5)
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    sample = sample_surface(v, f, n=2048, seed=0)
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(16, 3))
    cp = closest_points(v, f, xyz / np.linalg.norm(xyz, axis=1, keepdims=True))
    sample, sources = insert_keypoints(sample, cp.xyz, cp.face, cp.bary)
    return v, f, sample, sources


def _geodesic_rows(repeat: int) -> list[Row]:
    from core.geometry.geodesics import geodesics_from_sources

    v, f, sample, sources = _sphere_model()
    times = {mode: median_time(lambda m=mode: geodesics_from_sources(v, f, sample, sources,
                                                                     mode=m), repeat)
             for mode in ("mesh_heat", "cloud_heat", "knn")}
    label = "geodesics 16 -> 2048 samples, 10k-vertex mesh"
    rows = [Row("embedding_metrics", f"{label}, {mode}", times[mode], "s",
                "knn (CPNet release)", times["knn"], "precompute once per model")
            for mode in ("mesh_heat", "cloud_heat")]
    rows.append(Row("embedding_metrics", f"{label}, knn", times["knn"], "s"))
    with tempfile.TemporaryDirectory() as tmp:
        geodesics_from_sources(v, f, sample, sources, cache_dir=Path(tmp))
        hit = median_time(lambda: geodesics_from_sources(v, f, sample, sources,
                                                         cache_dir=Path(tmp)), repeat)
    rows.append(Row("embedding_metrics", "geodesics, disk-cache hit (mesh_heat)", hit, "s",
                    "mesh_heat computed", times["mesh_heat"]))
    return rows


def _generated(n_models: int, n_sets: int, n_points: int, seed: int):
    """Keypoints (M, S) with ~90 % of the sets present and float32 geodesic rows."""
    rng = np.random.default_rng(seed)
    kp = np.full((n_models, n_sets), -1, dtype=np.int64)
    geos = []
    for m in range(n_models):
        present = np.flatnonzero(rng.random(n_sets) < 0.9)
        kp[m, present] = rng.choice(n_points, size=present.size, replace=False)
        g = np.full((n_sets, n_points), np.nan, dtype=np.float32)
        g[present] = rng.random((present.size, n_points), dtype=np.float32)
        g[present, kp[m, present]] = 0.0
        geos.append(g)
    return kp, geos


def _set_distance_loops(kp: np.ndarray, geos) -> np.ndarray:
    """Plain-loop baseline: per model, per ordered pair of its sets."""
    n_sets = kp.shape[1]
    total = np.zeros((n_sets, n_sets))
    count = np.zeros((n_sets, n_sets))
    for m, g in enumerate(geos):
        for i in range(n_sets):
            for j in range(n_sets):
                if kp[m, i] >= 0 and kp[m, j] >= 0:
                    d = (float(g[i, kp[m, j]]) + float(g[j, kp[m, i]])) / 2.0
                    if np.isfinite(d):
                        total[i, j] += d
                        count[i, j] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _set_distance_rows(repeat: int) -> list[Row]:
    from core.embedding.metrics import set_distance_matrix

    kp, geos = _generated(SET_MODELS, SET_SETS, 2048, seed=1)
    fast = median_time(lambda: set_distance_matrix(kp, geos), repeat)
    slow = median_time(lambda: _set_distance_loops(kp, geos), max(1, repeat // 2))
    return [Row("embedding_metrics",
                f"set-distance matrix, {SET_MODELS} models x {SET_SETS} sets", fast, "s",
                "per-pair Python loops", slow)]


def _mge_rows(repeat: int) -> list[Row]:
    from core.embedding.metrics import mean_geodesic_error, mean_geodesic_error_reference

    kp, geos = _generated(MGE_MODELS, MGE_SETS, MGE_POINTS, seed=2)
    rng = np.random.default_rng(3)
    emb = [rng.standard_normal((MGE_POINTS, MGE_DIM), dtype=np.float32)
           for _ in range(MGE_MODELS)]
    import torch

    mean_geodesic_error(emb[:2], kp[:2], geos[:2])  # import torch outside the timing
    fast = median_time(lambda: mean_geodesic_error(emb, kp, geos), repeat)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = median_time(lambda: mean_geodesic_error(emb, kp, geos), repeat)
    finally:
        torch.set_num_threads(threads)

    sub = REFERENCE_MODELS
    t0 = time.perf_counter()
    ref = mean_geodesic_error_reference(emb[:sub], kp[:sub], geos[:sub])
    ref_time = time.perf_counter() - t0
    check = mean_geodesic_error(emb[:sub], kp[:sub], geos[:sub])
    if not np.allclose(ref.per_set, check.per_set, rtol=1e-12, atol=0, equal_nan=True):
        raise RuntimeError("vectorized mGE disagrees with the reference loop")
    counts = (kp >= 0).sum(axis=0)
    sub_counts = (kp[:sub] >= 0).sum(axis=0)
    scale = float((counts * (counts - 1)).sum()) / float((sub_counts * (sub_counts - 1)).sum())
    label = f"mGE {MGE_MODELS} models x {MGE_SETS} sets, N={MGE_POINTS}, D={MGE_DIM}"
    baseline = (f"per-pair reference loop, timed on {sub} models, x{scale:.0f} "
                f"by pair count")
    return [Row("embedding_metrics", f"{label}, {threads} torch threads", fast, "s", baseline,
                ref_time * scale, "< 5 s on CPU"),
            Row("embedding_metrics", f"{label}, 1 torch thread", single, "s", baseline,
                ref_time * scale, "< 5 s on CPU")]


def run(repeat: int = 3) -> list[Row]:
    return _geodesic_rows(repeat) + _set_distance_rows(repeat) + _mge_rows(repeat)


if __name__ == "__main__":
    from benchmarks.table import format_table

    print(format_table(run()))
