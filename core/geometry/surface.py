"""Points on triangle surfaces: closest-point queries and barycentric positions.

The closest-point search is exact (Ericson's closest point on a triangle, evaluated for
every candidate face) and needs no spatial-index package: candidates are the faces whose
bounding box is no farther from the query than the nearest mesh vertex. Ties go to the
lowest face index, so results are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from core.demo.types import SurfacePoint

__all__ = [
    "ClosestPoints",
    "closest_points",
    "closest_points_on_triangles",
    "closest_surface_points",
    "face_normals",
    "surface_point_xyz",
]

# Candidate pairs evaluated per chunk of query points (bounds temporary memory).
_CHUNK_PAIRS = 2_000_000


@dataclass(frozen=True)
class ClosestPoints:
    """Closest surface points of a batch of queries.

    Attributes:
        face: (P,) int64 face index of each closest point.
        bary: (P, 3) float64 barycentric weights, >= 0, each row summing to 1.
        xyz: (P, 3) float64 positions, exactly ``sum_i bary[:, i] * V[F[face, i]]``.
        distance: (P,) float64 distance from each query to its closest point.
    """

    face: np.ndarray
    bary: np.ndarray
    xyz: np.ndarray
    distance: np.ndarray

    def to_surface_points(self) -> list[SurfacePoint]:
        """The rows as :class:`SurfacePoint` records (plain Python floats)."""
        # Imported here: core.demo imports this module, so a top-level import would cycle.
        from core.demo.types import SurfacePoint

        return [
            SurfacePoint(
                face=int(f),
                bary=(float(b[0]), float(b[1]), float(b[2])),
                xyz=(float(x[0]), float(x[1]), float(x[2])),
            )
            for f, b, x in zip(self.face, self.bary, self.xyz, strict=True)
        ]


def closest_points_on_triangles(
    points: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray
) -> np.ndarray:
    """Barycentric weights of the closest point on triangle (a, b, c) to each point.

    Args:
        points, a, b, c: (N, 3) arrays; row k is one query and one triangle.

    Returns:
        (N, 3) weights (w_a, w_b, w_c), each >= 0 and summing to 1 (up to rounding).
    """
    p = np.asarray(points, dtype=np.float64)
    ab, ac, ap = b - a, c - a, p - a
    bp, cp = p - b, p - c
    d1 = np.einsum("ij,ij->i", ab, ap)
    d2 = np.einsum("ij,ij->i", ac, ap)
    d3 = np.einsum("ij,ij->i", ab, bp)
    d4 = np.einsum("ij,ij->i", ac, bp)
    d5 = np.einsum("ij,ij->i", ab, cp)
    d6 = np.einsum("ij,ij->i", ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2

    n = p.shape[0]
    bary = np.zeros((n, 3))
    done = np.zeros(n, dtype=bool)

    def assign(mask: np.ndarray, weights: np.ndarray) -> None:
        m = mask & ~done
        bary[m] = weights[m] if weights.ndim == 2 else weights
        done[m] = True

    with np.errstate(divide="ignore", invalid="ignore"):
        assign((d1 <= 0) & (d2 <= 0), np.array([1.0, 0.0, 0.0]))
        assign((d3 >= 0) & (d4 <= d3), np.array([0.0, 1.0, 0.0]))
        v_ab = np.where(d1 - d3 != 0, d1 / (d1 - d3), 0.0)
        assign((vc <= 0) & (d1 >= 0) & (d3 <= 0), np.stack([1 - v_ab, v_ab, 0 * v_ab], axis=1))
        assign((d6 >= 0) & (d5 <= d6), np.array([0.0, 0.0, 1.0]))
        w_ac = np.where(d2 - d6 != 0, d2 / (d2 - d6), 0.0)
        assign((vb <= 0) & (d2 >= 0) & (d6 <= 0), np.stack([1 - w_ac, 0 * w_ac, w_ac], axis=1))
        e1, e2 = d4 - d3, d5 - d6
        w_bc = np.where(e1 + e2 != 0, e1 / (e1 + e2), 0.0)
        assign((va <= 0) & (e1 >= 0) & (e2 >= 0), np.stack([0 * w_bc, 1 - w_bc, w_bc], axis=1))
        denom = va + vb + vc
        ok = denom != 0
        v = np.where(ok, vb / np.where(ok, denom, 1.0), 0.0)
        w = np.where(ok, vc / np.where(ok, denom, 1.0), 0.0)
        interior = np.stack([1 - v - w, v, w], axis=1)
        interior[~ok] = [1.0, 0.0, 0.0]
        assign(np.ones(n, dtype=bool), interior)
    return bary


def _exact_weights(bary: np.ndarray) -> np.ndarray:
    """Clip to >= 0 and renormalize so each row sums to 1 (largest weight absorbs rounding)."""
    w = np.clip(bary, 0.0, None)
    w = w / w.sum(axis=1, keepdims=True)
    k = np.argmax(w, axis=1)
    rows = np.arange(w.shape[0])
    others = w.sum(axis=1) - w[rows, k]
    w[rows, k] = 1.0 - others
    return w


def _weighted_xyz(
    vertices: np.ndarray, faces: np.ndarray, face: np.ndarray, w: np.ndarray
) -> np.ndarray:
    tri = vertices[faces[face]]
    return w[:, 0:1] * tri[:, 0] + w[:, 1:2] * tri[:, 1] + w[:, 2:3] * tri[:, 2]


def closest_points(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray) -> ClosestPoints:
    """Closest points on a triangle mesh.

    Args:
        vertices: (V, 3) float positions.
        faces: (F, 3) int vertex indices, F >= 1.
        points: (P, 3) query positions, same units as ``vertices``.

    Returns:
        A :class:`ClosestPoints` batch (weights clipped to >= 0, renormalized to sum 1,
        positions recomputed from the weights).
    """
    v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    q = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if f.shape[0] == 0:
        raise ValueError("closest_points needs a mesh with faces")
    n_p = q.shape[0]
    if n_p == 0:
        empty = np.zeros((0, 3))
        return ClosestPoints(np.zeros(0, dtype=np.int64), empty, empty, np.zeros(0))
    from scipy.spatial import cKDTree

    tri = v[f]
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    used = np.unique(f)
    upper, _ = cKDTree(v[used]).query(q)
    # A face whose box is farther than the nearest vertex cannot hold the closest point.
    bound = upper * upper * (1 + 1e-9) + 1e-300

    best_face = np.zeros(n_p, dtype=np.int64)
    best_bary = np.zeros((n_p, 3))
    chunk = max(1, _CHUNK_PAIRS // max(1, f.shape[0]))
    for start in range(0, n_p, chunk):
        qs = q[start : start + chunk]
        gap = np.maximum(lo[None] - qs[:, None], 0) + np.maximum(qs[:, None] - hi[None], 0)
        box_d2 = np.einsum("pfk,pfk->pf", gap, gap)
        pi, fi = np.nonzero(box_d2 <= bound[start : start + chunk, None])
        qq = qs[pi]
        w = closest_points_on_triangles(qq, tri[fi, 0], tri[fi, 1], tri[fi, 2])
        xyz = w[:, 0:1] * tri[fi, 0] + w[:, 1:2] * tri[fi, 1] + w[:, 2:3] * tri[fi, 2]
        d2 = np.einsum("ij,ij->i", xyz - qq, xyz - qq)
        order = np.lexsort((fi, d2, pi))
        first = order[np.r_[True, pi[order][1:] != pi[order][:-1]]]
        best_face[start + pi[first]] = fi[first]
        best_bary[start + pi[first]] = w[first]
    bary = _exact_weights(best_bary)
    xyz = _weighted_xyz(v, f, best_face, bary)
    distance = np.linalg.norm(xyz - q, axis=1)
    return ClosestPoints(best_face, bary, xyz, distance)


def closest_surface_points(
    vertices: np.ndarray, faces: np.ndarray, points: np.ndarray
) -> list[SurfacePoint]:
    """Snap points to a triangle mesh.

    Args:
        vertices: (V, 3) positions.
        faces: (F, 3) vertex indices.
        points: (P, 3) query positions.

    Returns:
        P :class:`SurfacePoint` records: face index, barycentric weights (>= 0, summing
        to 1) and the position ``sum_i w_i * vertices[faces[face, i]]``.
    """
    return closest_points(vertices, faces, points).to_surface_points()


def surface_point_xyz(
    vertices: np.ndarray, faces: np.ndarray, face: int, bary: tuple[float, float, float]
) -> np.ndarray:
    """Position (3,) float64 of barycentric weights ``bary`` on face ``face``."""
    v = np.asarray(vertices, dtype=np.float64)
    idx = np.asarray(faces)[int(face)]
    w = np.asarray(bary, dtype=np.float64)
    return w[0] * v[idx[0]] + w[1] * v[idx[1]] + w[2] * v[idx[2]]


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit normals (F, 3) of counter-clockwise faces; zero rows for degenerate faces."""
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.where(length > 0, n / np.where(length > 0, length, 1.0), 0.0)


def barycentric_on_face(vertices: np.ndarray, faces: np.ndarray, face: int,
                        point: np.ndarray) -> tuple[tuple[float, float, float],
                                                    tuple[float, float, float]]:
    """Barycentric weights of ``point`` projected onto triangle ``face`` (clipped to the
    triangle, >= 0, summing to 1) and the xyz they give.

    Args:
        vertices: (V, 3) mesh vertices; faces: (F, 3) indices; point: (3,) near the face.
    Returns:
        (weights, xyz) with xyz = sum_i w_i * vertices[faces[face, i]].
    """
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)[int(face)]]
    a, b, c = tri
    v0, v1, v2 = b - a, c - a, np.asarray(point, dtype=np.float64) - a
    d00, d01, d11 = v0 @ v0, v0 @ v1, v1 @ v1
    d20, d21 = v2 @ v0, v2 @ v1
    denom = d00 * d11 - d01 * d01
    if abs(denom) < 1e-30:  # degenerate triangle: its first vertex
        w = np.array([1.0, 0.0, 0.0])
    else:
        w1 = (d11 * d20 - d01 * d21) / denom
        w2 = (d00 * d21 - d01 * d20) / denom
        w = np.clip(np.array([1.0 - w1 - w2, w1, w2]), 0.0, None)
        w = w / w.sum()
    xyz = w @ tri
    return (float(w[0]), float(w[1]), float(w[2])), (float(xyz[0]), float(xyz[1]),
                                                     float(xyz[2]))
