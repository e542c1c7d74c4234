"""Area-weighted surface sampling with annotated keypoints inserted.

Each sample is a point on the mesh (face index + barycentric weights), so it can be
mapped back to the surface; keypoints replace their nearest samples so that every
keypoint has a known point index (as in KeypointNet's ``pcd_info`` and CPNet).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SurfaceSample:
    """N points on a mesh.

    Attributes:
        points: (N, 3) float64 positions (mesh units).
        faces: (N,) int64 face index of each point.
        bary: (N, 3) float64 barycentric weights (>= 0, rows sum to 1).
    """

    points: np.ndarray
    faces: np.ndarray
    bary: np.ndarray


def sample_surface(vertices: np.ndarray, faces: np.ndarray, n: int = 2048,
                   seed: int = 0) -> SurfaceSample:
    """``n`` points drawn uniformly by area (faces chosen with probability proportional
    to their area, then uniform barycentrics). Deterministic for a seed."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    tri = v[f]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    total = area.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError("cannot sample a mesh with zero surface area")
    rng = np.random.default_rng(seed)
    face = rng.choice(len(f), size=n, p=area / total)
    r1, r2 = rng.random(n), rng.random(n)
    s1 = np.sqrt(r1)
    bary = np.stack([1 - s1, s1 * (1 - r2), s1 * r2], axis=1)
    points = np.einsum("ni,nij->nj", bary, tri[face])
    return SurfaceSample(points, face.astype(np.int64), bary)


def insert_keypoints(sample: SurfaceSample, xyz: np.ndarray, faces: np.ndarray | None = None,
                     bary: np.ndarray | None = None) -> tuple[SurfaceSample, np.ndarray]:
    """Replace, for each keypoint (K,), its nearest still-unused sample by the keypoint.

    Args:
        xyz: (K, 3) keypoint positions; K <= N.
        faces: (K,) face indices (or None: the replaced sample keeps -1).
        bary: (K, 3) barycentric weights (or None: NaN).
    Returns:
        The new sample and (K,) int64 point indices of the keypoints. Keypoints at the
        same position get distinct indices.
    """
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    k = xyz.shape[0]
    n = sample.points.shape[0]
    if k > n:
        raise ValueError(f"{k} keypoints do not fit in {n} samples")
    points, face_out, bary_out = sample.points.copy(), sample.faces.copy(), sample.bary.copy()
    used = np.zeros(n, dtype=bool)
    index = np.empty(k, dtype=np.int64)
    for i in range(k):
        d = np.linalg.norm(points - xyz[i], axis=1)
        d[used] = np.inf
        j = int(np.argmin(d))
        used[j] = True
        index[i] = j
        points[j] = xyz[i]
        face_out[j] = -1 if faces is None else int(faces[i])
        bary_out[j] = np.nan if bary is None else bary[i]
    return SurfaceSample(points, face_out, bary_out), index
