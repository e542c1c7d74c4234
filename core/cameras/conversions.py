"""Conversions: perspective <-> weak perspective, camera records, and pytorch3d cameras.

Perspective to weak perspective is the first-order (paraperspective-free) approximation about a
reference point ``p0``: ``s = f / z0`` and ``t`` such that ``p0`` projects to the same pixel,
exact at ``p0`` and accurate when the object's depth range is small against ``z0``. The reverse
places the camera at depth ``z0 = f / s`` for a chosen field of view so that ``p0`` lands on the
same pixel with the same rotation; both directions keep ``R``.
"""

from __future__ import annotations

import torch

from core.cameras.errors import CameraError
from core.cameras.perspective import PerspectiveCamera
from core.cameras.weak_perspective import WeakPerspectiveCamera


def perspective_to_weak(camera: PerspectiveCamera,
                        reference: torch.Tensor | None = None) -> WeakPerspectiveCamera:
    """Weak-perspective approximation of ``camera`` about ``reference`` (B, 3) or (3,)
    world points (default: the look-at target)."""
    ref = camera.target if reference is None else reference.reshape(-1, 3).expand(
        camera.batch_size, 3)
    rot = camera.rotation()
    cam_ref = (rot @ ref.unsqueeze(-1)).squeeze(-1) + camera.translation()
    z0 = cam_ref[:, 2]
    if bool((z0 <= 0).any()):
        raise CameraError("the reference point is behind the camera; no weak-perspective "
                          "approximation exists")
    f = camera.focal()
    scale = f / z0
    u0 = f.unsqueeze(-1) * cam_ref[:, :2] / z0.unsqueeze(-1) + camera.principal
    rot_ref = (rot @ ref.unsqueeze(-1)).squeeze(-1)[:, :2]
    translation = u0 - scale.unsqueeze(-1) * rot_ref
    return WeakPerspectiveCamera(scale, rot, translation, camera.image_size)


def weak_to_perspective(camera: WeakPerspectiveCamera, fov: float | torch.Tensor = 30.0,
                        reference: torch.Tensor | None = None,
                        principal: torch.Tensor | None = None) -> PerspectiveCamera:
    """Perspective camera with field of view ``fov`` (degrees) that agrees with ``camera`` to
    first order about ``reference`` (B, 3) or (3,) (default: the world origin)."""
    dtype, device = camera.scale.dtype, camera.scale.device
    batch = camera.batch_size
    h, w = camera.image_size
    ref = (torch.zeros(batch, 3, dtype=dtype, device=device) if reference is None
           else reference.reshape(-1, 3).expand(batch, 3))
    if principal is None:
        principal = torch.tensor([w / 2.0, h / 2.0], dtype=dtype, device=device)
    principal = principal.reshape(-1, 2).expand(batch, 2)
    fov_t = torch.as_tensor(fov, dtype=dtype, device=device).reshape(-1).expand(batch)
    f = (h / 2.0) / torch.tan(torch.deg2rad(fov_t) / 2.0)
    z0 = f / camera.scale
    rot = camera.rotation
    rot_ref = (rot @ ref.unsqueeze(-1)).squeeze(-1)
    u0 = camera.scale.unsqueeze(-1) * rot_ref[:, :2] + camera.translation
    cam_ref_xy = (u0 - principal) * z0.unsqueeze(-1) / f.unsqueeze(-1)
    cam_ref = torch.cat([cam_ref_xy, z0.unsqueeze(-1)], dim=-1)
    translation = cam_ref - rot_ref
    return PerspectiveCamera.from_extrinsics(rot, translation, fov_t, (h, w), principal,
                                             target_depth=z0)


def camera_from_dict(data: dict, dtype: torch.dtype = torch.float32, device=None):
    """A :class:`PerspectiveCamera` or :class:`WeakPerspectiveCamera` from its ``to_dict``."""
    kind = data.get("type", "perspective") if isinstance(data, dict) else None
    if kind == "perspective":
        return PerspectiveCamera.from_dict(data, dtype=dtype, device=device)
    if kind == "weak_perspective":
        return WeakPerspectiveCamera.from_dict(data, dtype=dtype, device=device)
    raise CameraError(f"unknown camera record type {kind!r}")


_FLIP_XY = torch.diag(torch.tensor([-1.0, -1.0, 1.0]))


def to_pytorch3d(camera: PerspectiveCamera | WeakPerspectiveCamera, depth: float = 10.0):
    """The equivalent pytorch3d camera (screen-space, ``in_ndc=False``).

    pytorch3d's view frame is x left, y up, z forward with row vectors
    (``X_view = X @ R + T``), so ``R_p3d = (F @ R)^T`` and ``T_p3d = F @ T`` with
    ``F = diag(-1, -1, 1)``; its principal point and focal length are in pixels with pixel
    centres at ``i + 0.5``, as here. A weak-perspective camera becomes an
    ``OrthographicCameras`` placed ``depth`` world units in front of the object (for z-buffer
    ordering only; the projection does not depend on it).
    """
    from pytorch3d.renderer import OrthographicCameras, PerspectiveCameras

    h, w = camera.image_size
    flip = _FLIP_XY.to(device=_device(camera), dtype=_dtype(camera))
    image_size = torch.tensor([[h, w]], device=_device(camera)).expand(camera.batch_size, 2)
    if isinstance(camera, PerspectiveCamera):
        rot = flip @ camera.rotation()
        trans = (flip @ camera.translation().unsqueeze(-1)).squeeze(-1)
        f = camera.focal()
        return PerspectiveCameras(
            focal_length=torch.stack([f, f], dim=-1), principal_point=camera.principal,
            R=rot.transpose(-1, -2), T=trans, in_ndc=False, image_size=image_size,
            device=_device(camera))
    rot = flip @ camera.rotation
    s = camera.scale
    # u = s * x_cv + t_u ; pytorch3d screen: u = p_x - f * x_p3d = p_x + f * x_cv.
    trans = torch.zeros(camera.batch_size, 3, dtype=s.dtype, device=s.device)
    trans[:, 2] = depth
    return OrthographicCameras(
        focal_length=torch.stack([s, s], dim=-1), principal_point=camera.translation,
        R=rot.transpose(-1, -2), T=trans, in_ndc=False, image_size=image_size,
        device=_device(camera))


def _device(camera) -> torch.device:
    return (camera.azimuth if isinstance(camera, PerspectiveCamera) else camera.scale).device


def _dtype(camera) -> torch.dtype:
    return (camera.azimuth if isinstance(camera, PerspectiveCamera) else camera.scale).dtype
