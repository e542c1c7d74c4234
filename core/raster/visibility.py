"""Point visibility on the CPU by ray casting against the mesh in the camera frame (numpy).

Perspective cameras cast a ray from the camera centre (the camera-frame origin) to each point;
weak-perspective cameras cast parallel rays from each point towards the camera (-z in the
OpenCV camera frame, where larger z is farther). A point is visible when no triangle is hit
between the camera and the point at a depth (camera z) more than ``eps`` world units nearer
than the point (the tolerance of a z-buffer test); the point's own face, when known, is
ignored. Candidate faces are pruned by a 2D bounding-box test in the image plane and by depth,
then Moller-Trumbore runs vectorised over the (point, face) pairs left.
"""

from __future__ import annotations

import numpy as np

EPS_REL = 1e-3  # default eps as a fraction of the mesh's size (see default_eps)
_DET_EPS = 1e-14


def mesh_size(vertices) -> float:
    """Twice the largest distance of ``vertices`` (V, 3) from their mean, world units.

    Unchanged by rotations and translations, so world and camera frames give the same value.
    """
    v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    if len(v) == 0:
        return 0.0
    return float(2.0 * np.sqrt(((v - v.mean(axis=0)) ** 2).sum(axis=1).max()))


def default_eps(vertices) -> float:
    """``EPS_REL`` times :func:`mesh_size` of ``vertices`` (V, 3), world units."""
    return float(EPS_REL * max(mesh_size(vertices), 1e-9))


def _min3(a: np.ndarray) -> np.ndarray:
    return np.minimum(np.minimum(a[:, 0], a[:, 1]), a[:, 2])


def _max3(a: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(a[:, 0], a[:, 1]), a[:, 2])


def _box_pairs(px, py, pz, xlo, xhi, ylo, yhi, zlo):
    """(point, face) index pairs: point (x, y) inside the face's box and face nearer in z."""
    ok = zlo[None, :] < pz[:, None]
    ok &= xlo[None, :] <= px[:, None]
    ok &= xhi[None, :] >= px[:, None]
    ok &= ylo[None, :] <= py[:, None]
    ok &= yhi[None, :] >= py[:, None]
    return np.nonzero(ok)


def _candidates_perspective(verts: np.ndarray, faces: np.ndarray, pts: np.ndarray):
    """Pairs whose boxes overlap in the normalised image plane ``(x/z, y/z)``, the face
    starting nearer than the point. Faces crossing ``z = 0`` are always candidates; faces
    wholly at ``z <= 0`` never are (the segment from the camera to the point has z > 0)."""
    z = verts[:, 2]
    safe = np.where(z > 0, z, 1.0)
    vx, vy = verts[:, 0] / safe, verts[:, 1] / safe
    fz = z[faces]
    zlo, zhi = _min3(fz), _max3(fz)
    crossing = zlo <= 0
    fx, fy = vx[faces], vy[faces]
    xlo = np.where(crossing, -np.inf, _min3(fx))
    xhi = np.where(crossing, np.inf, _max3(fx))
    ylo = np.where(crossing, -np.inf, _min3(fy))
    yhi = np.where(crossing, np.inf, _max3(fy))
    zlo = np.where(zhi > 0, zlo, np.inf)
    pz = pts[:, 2]
    return _box_pairs(pts[:, 0] / pz, pts[:, 1] / pz, pz, xlo, xhi, ylo, yhi, zlo)


def _candidates_parallel(verts: np.ndarray, faces: np.ndarray, pts: np.ndarray, eps: float):
    fx, fy, fz = verts[:, 0][faces], verts[:, 1][faces], verts[:, 2][faces]
    return _box_pairs(pts[:, 0], pts[:, 1], pts[:, 2] - eps, _min3(fx), _max3(fx), _min3(fy),
                      _max3(fy), _min3(fz))


def _moller_trumbore(orig: np.ndarray, direc: np.ndarray, tri: np.ndarray):
    """Ray-triangle hits for K pairs: origins, directions (K, 3), triangles (K, 3, 3).

    Returns ``(hit (K,) bool, t (K,))`` with the hit at ``orig + t * direc``; the barycentric
    test includes the edges.
    """
    v0 = tri[:, 0]
    e1 = tri[:, 1] - v0
    e2 = tri[:, 2] - v0
    pvec = np.cross(direc, e2)
    det = np.einsum("ij,ij->i", e1, pvec)
    good = np.abs(det) > _DET_EPS
    inv = 1.0 / np.where(good, det, 1.0)
    tvec = orig - v0
    u = np.einsum("ij,ij->i", tvec, pvec) * inv
    qvec = np.cross(tvec, e1)
    v = np.einsum("ij,ij->i", direc, qvec) * inv
    t = np.einsum("ij,ij->i", e2, qvec) * inv
    hit = good & (u >= 0.0) & (v >= 0.0) & (u + v <= 1.0)
    return hit, t


def ray_visibility(vertices_cam, faces, points_cam, point_faces=None, perspective: bool = True,
                   eps: float | None = None) -> np.ndarray:
    """Which points are visible (not hidden by the mesh) from the camera.

    Args:
        vertices_cam: (V, 3) mesh vertices in the camera frame (OpenCV: z forward), world
            units; for weak perspective, the rotated points ``R @ X``.
        faces: (F, 3) vertex indices.
        points_cam: (N, 3) query points in the same frame.
        point_faces: optional (N,) face of each point, -1 where unknown; that face is
            ignored for its point.
        perspective: rays from the origin (True) or parallel rays along -z (False).
        eps: how much nearer than the point (camera depth, world units) a hit must be to
            hide it; default :func:`default_eps` of the mesh.

    Returns:
        (N,) bool. With ``perspective``, points at or behind the camera (z <= 0) are False.
    """
    verts = np.asarray(vertices_cam, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    pts = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
    n = len(pts)
    visible = np.ones(n, dtype=bool)
    if perspective:
        visible &= pts[:, 2] > 0
    if n == 0 or len(faces) == 0:
        return visible
    if eps is None:
        eps = default_eps(verts)
    query = np.flatnonzero(visible)
    if len(query) == 0:
        return visible
    qpts = pts[query]
    if perspective:
        pi, fi = _candidates_perspective(verts, faces, qpts)
    else:
        pi, fi = _candidates_parallel(verts, faces, qpts, eps)
    if point_faces is not None:
        own = np.asarray(point_faces, dtype=np.int64).reshape(-1)[query]
        keep = fi != own[pi]
        pi, fi = pi[keep], fi[keep]
    if len(pi) == 0:
        return visible
    p = qpts[pi]
    tri = verts[faces[fi]]  # (K, 3, 3)
    if perspective:
        hit, t = _moller_trumbore(np.zeros_like(p), p, tri)
        # The hit is at depth t * z: hidden when it is more than eps nearer than the point.
        blocked = hit & (t > 0.0) & ((1.0 - t) * p[:, 2] > eps)
    else:
        direc = np.broadcast_to(np.array([0.0, 0.0, -1.0]), p.shape)
        hit, t = _moller_trumbore(p, direc, tri)
        blocked = hit & (t > eps)
    hidden = np.zeros(len(query), dtype=bool)
    hidden[pi[blocked]] = True
    visible[query[hidden]] = False
    return visible
