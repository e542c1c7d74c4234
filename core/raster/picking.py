"""Picking: the ray through an image pixel, and where it first meets a mesh (numpy).

Used by the linked 2D/3D views: a click in the image casts the pixel's ray onto the posed
mesh and selects the surface point it hits first. Conventions are :mod:`core.cameras`': pixel
``(u, v)`` is continuous, x right, y down, pixel ``(i, j)`` covers ``[i, i+1) x [j, j+1)``
(its centre is ``(i + 0.5, j + 0.5)``), so projecting a surface point and casting the ray of
the resulting ``uv`` gives that point back.

- Perspective cameras: the ray starts at the camera centre, direction
  ``R^T ((u - px) / f, (v - py) / f, 1)`` normalised; hits must lie in front of the camera
  (depth > 0); the first hit is the one of smallest depth.
- Weak-perspective cameras: rays are parallel to the camera's z axis (``R^T (0, 0, 1)``),
  the origin is the point of camera-frame z = 0 on that line; the "first" hit is the one of
  smallest camera z over the whole line (there is no camera position to be behind of).

Candidate faces are pruned by their projected 2D bounding box (faces crossing the camera
plane are kept), then Moller-Trumbore runs vectorised over the rest (edges included).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from core.raster.interface import camera_frame, project

_DET_EPS = 1e-14
_BOX_SLACK = 1e-6  # pixels: a pixel exactly on a face's box edge is still a candidate


class RayHit(NamedTuple):
    """Where a pixel's ray first meets the mesh.

    Attributes:
        face: index of the face hit.
        barycentric: (3,) weights of the face's vertices (``faces[face]`` order), summing to 1.
        xyz: (3,) world position of the hit (``barycentric @ vertices[faces[face]]``).
        depth: camera-frame z of the hit, world units (relative for weak perspective).
    """

    face: int
    barycentric: np.ndarray
    xyz: np.ndarray
    depth: float


def _is_perspective(camera) -> bool:
    from core.cameras import PerspectiveCamera

    return isinstance(camera, PerspectiveCamera)


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _single(camera):
    if camera.batch_size != 1:
        raise ValueError(f"expected a batch of one camera, got {camera.batch_size}")
    return camera


def _camera_ray(camera, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ray of pixel ``uv`` in the camera frame: origin, direction (not normalised;
    perspective: z component 1, so the ray parameter is the depth)."""
    with torch.no_grad():
        if _is_perspective(camera):
            f = float(camera.focal()[0])
            principal = _np(camera.principal[0])
            xy = (uv - principal) / f
            return np.zeros(3), np.array([xy[0], xy[1], 1.0])
        scale = float(camera.scale[0])
        xy = (uv - _np(camera.translation[0])) / scale
        return np.array([xy[0], xy[1], 0.0]), np.array([0.0, 0.0, 1.0])


def _rotation(camera) -> np.ndarray:
    with torch.no_grad():
        rot = camera.rotation() if _is_perspective(camera) else camera.rotation
        return _np(rot[0])


def pixel_ray(camera, uv) -> tuple[np.ndarray, np.ndarray]:
    """The world ray through pixel ``uv`` = ``(x, y)`` of ``camera`` (a batch of one).

    Returns:
        ``(origin (3,), direction (3,))``, float64, the direction of unit length and pointing
        away from the camera (see the module docstring for each camera kind).
    """
    camera = _single(camera)
    uv = np.asarray(uv, dtype=np.float64).reshape(2)
    origin_cam, direction_cam = _camera_ray(camera, uv)
    rot = _rotation(camera)
    direction = rot.T @ direction_cam
    direction /= np.linalg.norm(direction)
    if _is_perspective(camera):
        with torch.no_grad():
            origin = _np(camera.center()[0])
    else:
        origin = rot.T @ origin_cam
    return origin, direction


def _candidates(camera, vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Faces whose projected bounding box holds ``uv`` (or that cross the camera plane)."""
    pix, z = project(camera, vertices)
    fu, fv = pix[faces, 0], pix[faces, 1]
    inside = (fu.min(axis=1) <= uv[0] + _BOX_SLACK) & (fu.max(axis=1) >= uv[0] - _BOX_SLACK)
    inside &= (fv.min(axis=1) <= uv[1] + _BOX_SLACK) & (fv.max(axis=1) >= uv[1] - _BOX_SLACK)
    if _is_perspective(camera):
        fz = z[faces]
        crossing = (fz.min(axis=1) <= 0) & (fz.max(axis=1) > 0)
        inside = (inside & (fz.max(axis=1) > 0)) | crossing
    return np.flatnonzero(inside)


def ray_cast(camera, vertices, faces, uv) -> RayHit | None:
    """Cast the ray of pixel ``uv`` onto the mesh; the first face it meets, or None.

    Args:
        camera: :class:`~core.cameras.PerspectiveCamera` or
            :class:`~core.cameras.WeakPerspectiveCamera`, a batch of one.
        vertices: (V, 3) world positions (numpy or torch).
        faces: (F, 3) vertex indices.
        uv: ``(x, y)`` pixel position (continuous, see the module docstring).

    Returns:
        :class:`RayHit` of the nearest hit (smallest camera depth), None when the ray misses
        every face (a pixel off the mesh).
    """
    camera = _single(camera)
    verts = _np(vertices).reshape(-1, 3)
    tris = np.asarray(_np(faces), dtype=np.int64).reshape(-1, 3)
    uv = np.asarray(uv, dtype=np.float64).reshape(2)
    if len(verts) == 0 or len(tris) == 0 or not np.isfinite(uv).all():
        return None
    cand = _candidates(camera, verts, tris, uv)
    if len(cand) == 0:
        return None
    origin, direction = _camera_ray(camera, uv)
    tri = camera_frame(camera, verts)[tris[cand]]  # (K, 3, 3) camera frame
    v0 = tri[:, 0]
    e1, e2 = tri[:, 1] - v0, tri[:, 2] - v0
    pvec = np.cross(direction[None, :], e2)
    det = np.einsum("ij,ij->i", e1, pvec)
    good = np.abs(det) > _DET_EPS
    inv = 1.0 / np.where(good, det, 1.0)
    tvec = origin[None, :] - v0
    b1 = np.einsum("ij,ij->i", tvec, pvec) * inv
    qvec = np.cross(tvec, e1)
    b2 = (qvec @ direction) * inv
    t = np.einsum("ij,ij->i", e2, qvec) * inv
    hit = good & (b1 >= 0.0) & (b2 >= 0.0) & (b1 + b2 <= 1.0)
    if _is_perspective(camera):
        hit &= t > 0.0
    if not hit.any():
        return None
    k = int(np.flatnonzero(hit)[np.argmin(t[hit])])
    face = int(cand[k])
    bary = np.array([1.0 - b1[k] - b2[k], b1[k], b2[k]])
    xyz = bary @ verts[tris[face]]
    depth = float(origin[2] + t[k] * direction[2])
    return RayHit(face, bary, xyz, depth)
