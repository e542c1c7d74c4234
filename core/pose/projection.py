"""Keypoint projection: 3D semantic points + a camera -> 2D positions and visibility.

A point is *visible* when it is in front of the camera, its pixel position is inside the image
and no part of the mesh hides it (ray casting or z-buffer, through a
:class:`core.raster.interface.Rasterizer`). Conventions (pixels, depth) in :mod:`core.cameras`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.raster.interface import FastRasterizer, Rasterizer, project


@dataclass(frozen=True)
class ProjectedKeypoints:
    """N projected points.

    Attributes:
        uv: (N, 2) float64 pixel positions ``[x, y]`` (finite even behind the camera).
        depth: (N,) float64 camera depth, world units (relative for weak perspective).
        in_front: (N,) bool, depth > 0 (always True for weak perspective).
        in_image: (N,) bool, in front and ``0 <= x < W``, ``0 <= y < H``.
        visible: (N,) bool, in the image and not hidden by the mesh.
    """

    uv: np.ndarray
    depth: np.ndarray
    in_front: np.ndarray
    in_image: np.ndarray
    visible: np.ndarray

    @property
    def occluded(self) -> np.ndarray:
        """(N,) bool: in the image but hidden by the mesh."""
        return self.in_image & ~self.visible


def in_image(uv: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """(N,) bool: pixel positions (N, 2) inside ``[0, W) x [0, H)``."""
    h, w = int(image_size[0]), int(image_size[1])
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    return (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)


def project_keypoints(camera, vertices, faces, points, point_faces=None,
                      rasterizer: Rasterizer | None = None,
                      eps: float | None = None) -> ProjectedKeypoints:
    """Project ``points`` (N, 3) on the mesh ``vertices`` (V, 3) / ``faces`` (F, 3).

    Args:
        camera: a perspective or weak-perspective camera, batch of one.
        vertices, faces: the mesh (world units; numpy or torch).
        points: (N, 3) world points, usually on the surface.
        point_faces: optional (N,) face index of each point (-1 where unknown); the point's
            own face never hides it.
        rasterizer: visibility backend (default :class:`FastRasterizer`).
        eps: occlusion tolerance, world units (default: the rasterizer's).

    Returns:
        :class:`ProjectedKeypoints`.
    """
    from core.cameras import PerspectiveCamera

    rasterizer = rasterizer or FastRasterizer()
    pts = np.asarray(points.detach().cpu().numpy() if hasattr(points, "detach") else points,
                     dtype=np.float64).reshape(-1, 3)
    uv, depth = project(camera, pts)
    front = depth > 0 if isinstance(camera, PerspectiveCamera) else np.ones(len(pts), bool)
    inside = front & in_image(uv, camera.image_size)
    visible = inside.copy()
    if inside.any():
        idx = np.flatnonzero(inside)
        pf = None
        if point_faces is not None:
            pf = np.asarray(point_faces, dtype=np.int64).reshape(-1)[idx]
        visible[idx] = rasterizer.visibility(camera, vertices, faces, pts[idx], point_faces=pf,
                                             eps=eps)
    return ProjectedKeypoints(uv=uv, depth=depth, in_front=front, in_image=inside,
                              visible=visible)
