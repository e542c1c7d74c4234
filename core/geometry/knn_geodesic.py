"""Geodesic distances on point clouds through a k-nearest-neighbour graph.

This is how CorresPondenceNet's release measures distances between keypoint sets on
sampled surfaces: every point is joined to its ``k`` (20) nearest neighbours by an edge
as long as their Euclidean distance, the graph is made symmetric (an edge exists when
either end lists the other), and shortest paths are found with Dijkstra's algorithm.
Distances are in the units of the points (model units). Points the graph does not
connect are at infinite distance (never 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from core.formats.records import AnnotationBundle

__all__ = ["knn_graph", "knn_graph_geodesics", "mean_keypoint_geodesics", "mean_set_distances"]

DEFAULT_K = 20


def knn_graph(points: np.ndarray, k: int = DEFAULT_K):
    """Symmetric k-nearest-neighbour graph of a point cloud.

    Args:
        points: (N, 3) finite positions.
        k: neighbours per point (clamped to N - 1).

    Returns:
        (N, N) ``scipy.sparse.csr_matrix`` holding each undirected edge once (upper
        triangle), weighted by the Euclidean edge length; coincident points get the
        smallest positive float instead of 0, so that the edge is kept.
    """
    from scipy.sparse import csr_matrix
    from scipy.spatial import cKDTree

    p = _as_points(points)
    n = p.shape[0]
    kk = min(int(k), n - 1)
    if kk <= 0:
        return csr_matrix((n, n), dtype=np.float64)
    _, idx = cKDTree(p).query(p, k=kk + 1)
    rows = np.repeat(np.arange(n), kk + 1)
    cols = idx.reshape(-1)
    keep = rows != cols
    lo = np.minimum(rows[keep], cols[keep])
    hi = np.maximum(rows[keep], cols[keep])
    codes = np.unique(lo.astype(np.int64) * n + hi)  # each undirected edge once
    a, b = codes // n, codes % n
    lengths = np.linalg.norm(p[a] - p[b], axis=1)
    lengths = np.maximum(lengths, np.finfo(np.float64).tiny)
    return csr_matrix((lengths, (a, b)), shape=(n, n))


def _as_points(points: np.ndarray) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or p.shape[0] == 0:
        raise ValueError(f"points must be a non-empty (N, 3) array, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("points must be finite")
    return p


def knn_graph_geodesics(points: np.ndarray, sources: np.ndarray,
                        k: int = DEFAULT_K) -> np.ndarray:
    """Shortest-path distances from ``sources`` to every point over the k-NN graph.

    Args:
        points: (N, 3) finite positions, in model units.
        sources: (K,) integer point indices in 0..N-1.
        k: neighbours per point (20 as in the CPNet release).

    Returns:
        (K, N) float64 distances in model units; ``inf`` where the graph does not
        connect the two points; 0 only from a point to itself (or a coincident one).

    Raises:
        ValueError: for malformed points or out-of-range sources.
    """
    from scipy.sparse.csgraph import dijkstra

    p = _as_points(points)
    src = np.asarray(sources)
    if src.ndim != 1 or (src.size and not np.issubdtype(src.dtype, np.integer)):
        raise ValueError("sources must be a 1-D integer array")
    src = src.astype(np.int64)
    if src.size and (src.min() < 0 or src.max() >= p.shape[0]):
        raise ValueError(f"sources out of range 0..{p.shape[0] - 1}")
    if src.size == 0:
        return np.zeros((0, p.shape[0]))
    graph = knn_graph(p, k)
    return np.asarray(dijkstra(graph, directed=False, indices=src), dtype=np.float64)


def mean_keypoint_geodesics(clouds: Sequence[np.ndarray], keypoints: np.ndarray,
                            k: int = DEFAULT_K) -> np.ndarray:
    """Mean geodesic distance between keypoint sets over models.

    Args:
        clouds: M point clouds, each (N_m, 3), in model units.
        keypoints: (M, S) integer matrix: keypoint ``s`` of model ``m`` is point
            ``keypoints[m, s]`` of ``clouds[m]``, or -1 when the set is absent there.
        k: neighbours per point of the k-NN graph.

    Returns:
        (S, S) float64, symmetric: entry (a, b) is the mean, over the models holding
        both sets a and b with a finite graph geodesic between them, of that geodesic
        (model units); NaN where no model qualifies; 0 on the diagonal for every set
        held by some model (NaN for sets held by none).
    """
    kp = np.asarray(keypoints)
    if kp.ndim != 2 or kp.shape[0] != len(clouds):
        raise ValueError("keypoints must be (M, S) with one row per cloud")
    n_sets = kp.shape[1]
    total = np.zeros((n_sets, n_sets))
    count = np.zeros((n_sets, n_sets), dtype=np.int64)
    present_any = np.zeros(n_sets, dtype=bool)
    for m, cloud in enumerate(clouds):
        sets = np.flatnonzero(kp[m] >= 0)
        if sets.size == 0:
            continue
        present_any[sets] = True
        idx = kp[m, sets].astype(np.int64)
        dist = knn_graph_geodesics(cloud, idx, k)[:, idx]  # (len(sets), len(sets))
        dist = (dist + dist.T) / 2.0  # exact symmetry despite summation order
        finite = np.isfinite(dist)
        block = np.ix_(sets, sets)
        total[block] += np.where(finite, dist, 0.0)
        count[block] += finite
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    diag = np.arange(n_sets)
    mean[diag, diag] = np.where(present_any, 0.0, np.nan)
    return mean


def mean_set_distances(bundle: AnnotationBundle, k: int = DEFAULT_K,
                       annotator: str | None = None) -> np.ndarray:
    """Mean geodesic distance between the sets of a bundle, CPNet's ``mean_distance``.

    Every model must carry a point cloud; points are located on it as in
    :func:`core.formats.cpnet.write_cpnet` (``point_index``, else the cloud point
    nearest to ``xyz``).

    Args:
        bundle: the category (models with ``point_cloud``, annotations).
        k: neighbours per point of the k-NN graph.
        annotator: use only this annotator's points (default: all; one per model).

    Returns:
        (S, S) float64 in model units, S = largest set number + 1; see
        :func:`mean_keypoint_geodesics` for NaN and diagonal conventions.

    Raises:
        core.formats.records.FormatError: when the bundle cannot be laid out as CPNet
            (missing clouds, several annotators on a model, ...).
    """
    from core.formats.cpnet import keypoint_matrix  # lazy: formats builds on geometry

    names, clouds, kp = keypoint_matrix(bundle, annotator=annotator, label=bundle.category)
    del names
    return mean_keypoint_geodesics(clouds, kp, k)
