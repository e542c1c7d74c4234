"""Solid building blocks for the demo shapes, on manifold3d.

Every helper returns a :class:`manifold3d.Manifold` (a closed, oriented 2-manifold
solid). Positions are (3,) or (N, 3) float arrays in the category's construction units;
the final mesh is normalized afterwards. Circular parts take an explicit segment count
(never manifold3d's global defaults), so the output depends only on the arguments.

Circle vertices sit at angles ``2*pi*k/segments`` from the local +X axis, so with
``segments`` divisible by 4 (or 8) the points at 0, 90, 180, 270 (and 45, ...) degrees
are exact mesh vertices; the generators put landmarks on such points.
"""

from __future__ import annotations

from collections.abc import Sequence

import manifold3d as m3
import numpy as np

__all__ = [
    "Y_UP",
    "apply",
    "box",
    "box_points",
    "circle_points",
    "cylinder_y",
    "difference",
    "hull",
    "loft",
    "naca_section",
    "rotation_x",
    "to_arrays",
    "transform",
    "translation",
    "union",
]

# Maps manifold3d's +Z axis (cylinders, extrusions) to +Y (up): (x, y, z) -> (x, z, -y).
# A circle vertex at angle phi in the XY plane lands at (cos(phi), ., -sin(phi)), so
# 0 deg -> +X, 90 deg -> -Z, 180 deg -> -X, 270 deg -> +Z.
Y_UP = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)


def translation(offset: Sequence[float]) -> np.ndarray:
    """(4, 4) translation matrix."""
    t = np.eye(4)
    t[:3, 3] = np.asarray(offset, dtype=np.float64)
    return t


def rotation_x(degrees: float) -> np.ndarray:
    """(4, 4) rotation about +X: y' = y cos a - z sin a, z' = y sin a + z cos a."""
    a = np.radians(degrees)
    r = np.eye(4)
    r[1, 1], r[1, 2], r[2, 1], r[2, 2] = np.cos(a), -np.sin(a), np.sin(a), np.cos(a)
    return r


def transform(solid: m3.Manifold, matrix: np.ndarray) -> m3.Manifold:
    """Apply a (4, 4) affine matrix to a solid."""
    return solid.transform(np.ascontiguousarray(np.asarray(matrix, dtype=np.float64)[:3, :4]))


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (4, 4) affine matrix to (N, 3) or (3,) points; same shape back."""
    p = np.asarray(points, dtype=np.float64)
    out = p.reshape(-1, 3) @ matrix[:3, :3].T + matrix[:3, 3]
    return out.reshape(p.shape)


def hull(points: np.ndarray) -> m3.Manifold:
    """Convex hull of (N, 3) points, N >= 4 and not coplanar."""
    pts = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 3))
    solid = m3.Manifold.hull_points(pts)
    if solid.is_empty():
        raise ValueError("hull of degenerate point set")
    return solid


def box(lo: Sequence[float], hi: Sequence[float]) -> m3.Manifold:
    """Axis-aligned box between corners ``lo`` and ``hi`` (each (3,))."""
    lo_a, hi_a = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    return m3.Manifold.cube(tuple(hi_a - lo_a)).translate(tuple(lo_a))


def box_points(lo: Sequence[float], hi: Sequence[float]) -> np.ndarray:
    """The 8 corners (8, 3) of an axis-aligned box, for hulls and transforms."""
    lo_a, hi_a = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    return np.array(
        [
            [(lo_a, hi_a)[i][0], (lo_a, hi_a)[j][1], (lo_a, hi_a)[k][2]]
            for i in (0, 1)
            for j in (0, 1)
            for k in (0, 1)
        ]
    )


def cylinder_y(
    base: Sequence[float], height: float, r_bottom: float, r_top: float, segments: int
) -> m3.Manifold:
    """Vertical (possibly conical) cylinder standing on ``base`` (3,), axis +Y."""
    c = m3.Manifold.cylinder(height, r_bottom, r_top, segments)
    return transform(c, translation(base) @ Y_UP)


def circle_points(
    center: Sequence[float], radius: float, segments: int, axes: tuple[int, int]
) -> np.ndarray:
    """(segments, 3) points of a circle in the plane of coordinate ``axes`` (i, j).

    Point k is ``center + radius * (cos t e_i + sin t e_j)`` with ``t = 2 pi k / segments``.
    """
    t = 2.0 * np.pi * np.arange(segments) / segments
    pts = np.repeat(np.asarray(center, dtype=np.float64)[None], segments, axis=0)
    pts[:, axes[0]] += radius * np.cos(t)
    pts[:, axes[1]] += radius * np.sin(t)
    return pts


def naca_section(n_side: int, thickness: float) -> np.ndarray:
    """Symmetric NACA 00xx airfoil outline, (2 * n_side, 2) points (u, v).

    ``u`` runs along the chord from the leading edge (0) to the trailing edge (1);
    ``v`` is the signed half-thickness as a fraction of the chord. Point 0 is the leading
    edge (0, 0) and point ``n_side`` the trailing edge (1, 0). The outline is convex.
    """
    u = 0.5 * (1.0 - np.cos(np.linspace(0.0, np.pi, n_side + 1)))
    half = (
        5.0
        * thickness
        * (0.2969 * np.sqrt(u) - 0.1260 * u - 0.3516 * u**2 + 0.2843 * u**3 - 0.1036 * u**4)
    )
    half[0] = half[-1] = 0.0
    upper = np.stack([u, half], axis=1)
    lower = np.stack([u[1:-1][::-1], -half[1:-1][::-1]], axis=1)
    return np.concatenate([upper, lower])


def loft(rings: np.ndarray, start: np.ndarray, end: np.ndarray) -> m3.Manifold:
    """Closed solid through a sequence of rings, capped by two tip points.

    Args:
        rings: (K, N, 3) rings of N points each, consecutive rings joined by quads;
            every ring must go round the axis in the same sense.
        start: (3,) tip joined to ring 0 by a fan.
        end: (3,) tip joined to ring K-1 by a fan.

    Returns:
        The solid; its winding is made outward whatever the ring orientation.
    """
    rings = np.asarray(rings, dtype=np.float64)
    k, n = rings.shape[:2]
    verts = np.concatenate(
        [np.asarray(start, float)[None], rings.reshape(-1, 3), np.asarray(end, float)[None]]
    )
    idx = 1 + np.arange(k * n).reshape(k, n)
    nxt = np.roll(idx, -1, axis=1)
    tris = [np.stack([np.zeros(n, int), nxt[0], idx[0]], axis=1)]
    for i in range(k - 1):
        a, b, c, d = idx[i], nxt[i], nxt[i + 1], idx[i + 1]
        tris.append(np.stack([a, b, c], axis=1))
        tris.append(np.stack([a, c, d], axis=1))
    last = len(verts) - 1
    tris.append(np.stack([np.full(n, last), idx[-1], nxt[-1]], axis=1))
    faces = np.concatenate(tris).astype(np.int64)
    tri = verts[faces]
    signed = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()
    if signed < 0:
        faces = faces[:, ::-1]
    mesh = m3.Mesh64(
        vert_properties=np.ascontiguousarray(verts),
        tri_verts=np.ascontiguousarray(faces.astype(np.uint64)),
    )
    solid = m3.Manifold(mesh)
    if solid.is_empty():
        raise ValueError(f"loft is not a valid solid ({solid.status()})")
    return solid


def union(parts: Sequence[m3.Manifold]) -> m3.Manifold:
    """Boolean union of solids."""
    return m3.Manifold.batch_boolean(list(parts), m3.OpType.Add)


def difference(solid: m3.Manifold, cutters: Sequence[m3.Manifold]) -> m3.Manifold:
    """``solid`` minus every cutter."""
    return m3.Manifold.batch_boolean([solid, *cutters], m3.OpType.Subtract)


def to_arrays(solid: m3.Manifold) -> tuple[np.ndarray, np.ndarray]:
    """Triangle mesh of a solid: ((V, 3) float64 vertices, (F, 3) int64 faces).

    Raises:
        ValueError: when the solid is empty or not one connected piece.
    """
    if solid.is_empty():
        raise ValueError(f"empty solid ({solid.status()})")
    pieces = len(solid.decompose())
    if pieces != 1:
        raise ValueError(f"solid has {pieces} disconnected pieces")
    mesh = solid.to_mesh64()
    vertices = np.ascontiguousarray(np.asarray(mesh.vert_properties)[:, :3], dtype=np.float64)
    faces = np.ascontiguousarray(np.asarray(mesh.tri_verts), dtype=np.int64)
    return vertices, faces
