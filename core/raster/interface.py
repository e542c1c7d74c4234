"""One interface, two rasterization paths: :class:`FastRasterizer` (numpy, CPU) and
:class:`Pytorch3dRasterizer` (pytorch3d; the default on CUDA).

Both answer the same two questions and agree up to ties exactly on an edge:

- ``mask(uv, depth, faces, image_size)``: the hard silhouette (H, W) bool of a mesh already
  projected to pixels (pixel-centre rule, see :mod:`core.raster.fast_mask`);
- ``visibility(camera, vertices, faces, points, point_faces)``: (N,) bool, True where a point
  is in front of the camera and no part of the mesh lies between it and the camera (more than
  ``eps`` world units in front of it). Image bounds are not checked here (see
  :func:`core.pose.projection.project_keypoints`).

Cameras are :class:`~core.cameras.PerspectiveCamera` or
:class:`~core.cameras.WeakPerspectiveCamera` batches of one; only their ``project`` and
``to_camera`` are used.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch

from core.raster.fast_mask import hard_mask
from core.raster.visibility import default_eps, mesh_size, ray_visibility


@runtime_checkable
class Rasterizer(Protocol):
    """What both paths provide (see the module docstring)."""

    name: str

    def mask(self, uv, depth, faces, image_size: tuple[int, int],
             cull_backfaces: bool = False) -> np.ndarray: ...

    def visibility(self, camera, vertices, faces, points, point_faces=None,
                   eps: float | None = None) -> np.ndarray: ...

    def silhouette(self, camera, vertices, faces,
                   cull_backfaces: bool = False) -> np.ndarray: ...


def _np(x, dtype=np.float64) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _is_perspective(camera) -> bool:
    from core.cameras import PerspectiveCamera

    return isinstance(camera, PerspectiveCamera)


def _single(camera):
    if camera.batch_size != 1:
        raise ValueError(f"expected a batch of one camera, got {camera.batch_size}")
    return camera


def _torch_points(camera, x) -> torch.Tensor:
    ref = camera.azimuth if _is_perspective(camera) else camera.scale
    return torch.as_tensor(_np(x), dtype=ref.dtype, device=ref.device).reshape(-1, 3)


def camera_frame(camera, points) -> np.ndarray:
    """World points (N, 3) -> camera-frame points (N, 3) float64 numpy (camera batch of one)."""
    with torch.no_grad():
        return _np(_single(camera).to_camera(_torch_points(camera, points))[0])


def project(camera, points) -> tuple[np.ndarray, np.ndarray]:
    """World points (N, 3) -> pixels (N, 2) and camera depth (N,), float64 numpy."""
    with torch.no_grad():
        uv, depth = _single(camera).project(_torch_points(camera, points))
    return _np(uv[0]), _np(depth[0])


class _Base:
    name = "base"

    def mask(self, uv, depth, faces, image_size: tuple[int, int],
             cull_backfaces: bool = False) -> np.ndarray:
        raise NotImplementedError

    def silhouette(self, camera, vertices, faces, cull_backfaces: bool = False) -> np.ndarray:
        """The (H, W) bool mask of a world-space mesh seen by ``camera`` (batch of one).

        Weak-perspective cameras have no "behind", so their depth is not used for culling.
        """
        uv, depth = project(camera, vertices)
        return self.mask(uv, depth if _is_perspective(camera) else None, faces,
                         camera.image_size, cull_backfaces=cull_backfaces)


class FastRasterizer(_Base):
    """CPU path: numpy scanline masks and numpy ray casting (no torch compute, no GPU)."""

    name = "fast"

    def mask(self, uv, depth, faces, image_size: tuple[int, int],
             cull_backfaces: bool = False) -> np.ndarray:
        """(H, W) bool silhouette; see :func:`core.raster.fast_mask.hard_mask`."""
        return hard_mask(uv, faces, image_size, depth=depth, cull_backfaces=cull_backfaces)

    def visibility(self, camera, vertices, faces, points, point_faces=None,
                   eps: float | None = None) -> np.ndarray:
        """(N,) bool: in front and not hidden (see the module docstring); ``vertices`` (V, 3)
        and ``points`` (N, 3) in world units, ``point_faces`` (N,) or None, ``eps`` world
        units (default :func:`core.raster.visibility.default_eps`)."""
        verts = _np(vertices).reshape(-1, 3)
        both = camera_frame(camera, np.concatenate([verts, _np(points).reshape(-1, 3)]))
        return ray_visibility(both[:len(verts)], _np(faces, np.int64), both[len(verts):],
                              point_faces=point_faces, perspective=_is_perspective(camera),
                              eps=default_eps(verts) if eps is None else eps)


class Pytorch3dRasterizer(_Base):
    """pytorch3d path: its hard rasterizer for masks and its z-buffer, sampled at the points,
    for visibility (see :mod:`core.raster.pytorch3d_hard`).

    Args:
        device: torch device for the rasterization (default CPU).
    """

    name = "pytorch3d"

    def __init__(self, device=None) -> None:
        self.device = torch.device(device) if device is not None else torch.device("cpu")

    def mask(self, uv, depth, faces, image_size: tuple[int, int],
             cull_backfaces: bool = False) -> np.ndarray:
        """(H, W) bool silhouette through ``pytorch3d.renderer.mesh.rasterize_meshes``."""
        from core.raster.pytorch3d_hard import rasterize_hard

        uv_np = _np(uv).reshape(-1, 2)
        d = np.ones(len(uv_np)) if depth is None else _np(depth).reshape(-1)
        return rasterize_hard(uv_np, d, faces, image_size, cull_backfaces=cull_backfaces,
                              device=self.device).mask

    def visibility(self, camera, vertices, faces, points, point_faces=None,
                   eps: float | None = None) -> np.ndarray:
        """(N,) bool, as :meth:`FastRasterizer.visibility`, from pytorch3d's z-buffer."""
        from core.raster.pytorch3d_hard import point_zbuffer_visibility

        verts = _np(vertices).reshape(-1, 3)
        pts = _np(points).reshape(-1, 3)
        uv, depth = project(camera, np.concatenate([verts, pts]))
        perspective = _is_perspective(camera)
        if not perspective:
            # Relative depth: shift so that everything is in front of pytorch3d's image plane.
            depth = depth - depth.min() + max(mesh_size(verts), 1.0)
        nv = len(verts)
        return point_zbuffer_visibility(
            uv[:nv], depth[:nv], _np(faces, np.int64), camera.image_size, uv[nv:],
            depth[nv:], point_faces=point_faces,
            tol=default_eps(verts) if eps is None else eps,
            perspective_correct=perspective, device=self.device)


def default_rasterizer(device=None) -> FastRasterizer | Pytorch3dRasterizer:
    """pytorch3d on a CUDA ``device``, the fast CPU path otherwise (and for None)."""
    if device is not None and torch.device(device).type == "cuda":
        return Pytorch3dRasterizer(device)
    return FastRasterizer()


def rasterizer_by_name(name: str = "auto", device=None) -> FastRasterizer | Pytorch3dRasterizer:
    """``"fast"``, ``"pytorch3d"`` (on ``device``, default CPU) or ``"auto"`` (pytorch3d when
    ``device`` is CUDA, or when ``device`` is None and CUDA is available; else fast)."""
    if name == "fast":
        return FastRasterizer()
    if name == "pytorch3d":
        return Pytorch3dRasterizer(device)
    if name == "auto":
        if device is None:
            from core.device import pick_device

            device = pick_device("auto")
        return default_rasterizer(device)
    raise ValueError(f"unknown rasterizer {name!r}; expected 'fast', 'pytorch3d' or 'auto'")
