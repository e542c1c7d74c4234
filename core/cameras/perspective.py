"""Perspective look-at camera: azimuth, elevation, distance, roll, field of view, principal
point and look-at target; batched over ``B`` and differentiable in every parameter.

``X_cam = R @ (X - C)`` with the camera centre ``C = target + distance * d(azimuth,
elevation)``; pixels ``u = f * X_cam[:2] / X_cam[2] + principal`` with the focal length
``f = (H / 2) / tan(fov / 2)`` in pixels (``fov`` is the vertical field of view). Conventions
in :mod:`core.cameras`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.cameras.batched import TensorFields
from core.cameras.errors import CameraError
from core.cameras.rotations import DEG, look_at_angles, look_at_rotation, viewing_direction

MIN_DEPTH = 1e-6  # clamp for projection so points at or behind the camera stay finite


@dataclass(frozen=True)
class PerspectiveCamera(TensorFields):
    """A batch of ``B`` perspective look-at cameras sharing one image size.

    Attributes:
        azimuth, elevation, roll: (B,) degrees.
        distance: (B,) world units from the camera centre to ``target``.
        fov: (B,) vertical field of view, degrees, in (0, 180).
        principal: (B, 2) principal point, pixels.
        target: (B, 3) look-at point, world units.
        image_size: ``(height, width)`` in pixels.
    """

    azimuth: torch.Tensor
    elevation: torch.Tensor
    distance: torch.Tensor
    roll: torch.Tensor
    fov: torch.Tensor
    principal: torch.Tensor
    target: torch.Tensor
    image_size: tuple[int, int]

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def create(cls, azimuth=0.0, elevation=0.0, distance=2.5, roll=0.0, fov=30.0,
               principal=None, target=None, image_size: tuple[int, int] = (256, 256),
               dtype: torch.dtype = torch.float32, device=None) -> PerspectiveCamera:
        """Build from numbers, sequences or tensors; scalars broadcast to the batch size.

        ``principal`` defaults to the image centre ``(W/2, H/2)``; ``target`` to the origin.
        """
        def t(x):
            return torch.as_tensor(x, dtype=dtype, device=device)

        scalars = [t(v).reshape(-1) for v in (azimuth, elevation, distance, roll, fov)]
        batch = max(s.shape[0] for s in scalars)
        scalars = [s.expand(batch).clone() for s in scalars]
        h, w = int(image_size[0]), int(image_size[1])
        pp = t([w / 2.0, h / 2.0]) if principal is None else t(principal)
        tg = t([0.0, 0.0, 0.0]) if target is None else t(target)
        return cls(*scalars, principal=pp.reshape(-1, 2).expand(batch, 2).clone(),
                   target=tg.reshape(-1, 3).expand(batch, 3).clone(), image_size=(h, w))

    @classmethod
    def from_extrinsics(cls, rotation: torch.Tensor, translation: torch.Tensor,
                        fov: torch.Tensor | float, image_size: tuple[int, int],
                        principal: torch.Tensor | None = None,
                        target_depth: torch.Tensor | float | None = None) -> PerspectiveCamera:
        """Camera with world-to-camera ``rotation`` (B, 3, 3) and ``translation`` (B, 3).

        The look-at target is placed on the optical axis at ``target_depth`` (B,) (default:
        the depth of the world origin, or 1 if the origin is behind the camera), so any
        extrinsics are represented exactly.
        """
        rotation = rotation.reshape(-1, 3, 3)
        translation = translation.reshape(-1, 3)
        center = -(rotation.transpose(-1, -2) @ translation.unsqueeze(-1)).squeeze(-1)
        if target_depth is None:
            depth = translation[:, 2]
            depth = torch.where(depth > MIN_DEPTH, depth, torch.ones_like(depth))
        else:
            depth = torch.as_tensor(target_depth, dtype=rotation.dtype,
                                    device=rotation.device).reshape(-1).expand(
                                        rotation.shape[0])
        target = center + depth.unsqueeze(-1) * rotation[:, 2, :]
        azimuth, elevation, roll = look_at_angles(rotation)
        h, w = int(image_size[0]), int(image_size[1])
        if principal is None:
            principal = torch.tensor([w / 2.0, h / 2.0], dtype=rotation.dtype,
                                     device=rotation.device)
        fov_t = torch.as_tensor(fov, dtype=rotation.dtype, device=rotation.device)
        batch = rotation.shape[0]
        return cls(azimuth, elevation, depth, roll, fov_t.reshape(-1).expand(batch).clone(),
                   principal.reshape(-1, 2).expand(batch, 2).clone(), target, (h, w))

    # -- derived quantities ----------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return int(self.azimuth.shape[0])

    def focal(self) -> torch.Tensor:
        """Focal length (B,), pixels."""
        return (self.image_size[0] / 2.0) / torch.tan(self.fov * DEG / 2.0)

    def intrinsics(self) -> torch.Tensor:
        """Pinhole matrix K (B, 3, 3) in this module's pixel convention (centres at i + 0.5)."""
        f = self.focal()
        k = torch.zeros(self.batch_size, 3, 3, dtype=f.dtype, device=f.device)
        k[:, 0, 0] = f
        k[:, 1, 1] = f
        k[:, 0, 2] = self.principal[:, 0]
        k[:, 1, 2] = self.principal[:, 1]
        k[:, 2, 2] = 1.0
        return k

    def rotation(self) -> torch.Tensor:
        """World-to-camera rotation R (B, 3, 3)."""
        return look_at_rotation(self.azimuth, self.elevation, self.roll)

    def center(self) -> torch.Tensor:
        """Camera centre (B, 3), world units."""
        return self.target + self.distance.unsqueeze(-1) * viewing_direction(
            self.azimuth, self.elevation)

    def translation(self) -> torch.Tensor:
        """T (B, 3) with ``X_cam = R @ X + T``."""
        return -(self.rotation() @ self.center().unsqueeze(-1)).squeeze(-1)

    def to_camera(self, points: torch.Tensor) -> torch.Tensor:
        """World points (N, 3) or (B, N, 3) -> camera-frame points (B, N, 3)."""
        pts = points if points.dim() == 3 else points.unsqueeze(0)
        rot = self.rotation()
        return pts @ rot.transpose(-1, -2) + self.translation().unsqueeze(1)

    def project(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World points (N, 3) or (B, N, 3) -> pixels (B, N, 2) and depth (B, N).

        Depth is the camera-frame z in world units; points with depth <= 0 are behind the
        camera: their pixels are computed with the depth clamped to a tiny positive value so
        they stay finite; callers test ``depth > 0`` (see :meth:`require_in_front`).
        """
        cam = self.to_camera(points)
        depth = cam[..., 2]
        safe = depth.clamp(min=MIN_DEPTH)
        uv = self.focal()[:, None, None] * cam[..., :2] / safe.unsqueeze(-1)
        return uv + self.principal.unsqueeze(1), depth

    # -- checks and plumbing ---------------------------------------------------------------
    def validate(self) -> PerspectiveCamera:
        """Raise :class:`CameraError` on non-finite or out-of-range parameters; return self."""
        bad = self.non_finite_field()
        if bad is not None:
            raise CameraError(f"camera parameter {bad} is not finite: "
                              f"{getattr(self, bad).tolist()}")
        if bool((self.distance <= 0).any()):
            raise CameraError(f"camera distance must be positive, got {self.distance.tolist()}")
        if bool(((self.fov <= 0) | (self.fov >= 180)).any()):
            raise CameraError(f"field of view must be in (0, 180) degrees, got "
                              f"{self.fov.tolist()}")
        if min(self.image_size) <= 0:
            raise CameraError(f"image size must be positive, got {self.image_size}")
        return self

    def require_in_front(self, points: torch.Tensor, what: str = "object") -> None:
        """Raise :class:`CameraError` when any of ``points`` (N, 3) is at or behind a camera."""
        _, depth = self.project(points)
        if bool((depth <= MIN_DEPTH).any()):
            raise CameraError(f"the camera is inside or behind the {what}: "
                              f"{int((depth <= MIN_DEPTH).sum())} point(s) have depth <= 0")

    def to_dict(self, i: int = 0) -> dict:
        """Plain JSON-able dict of camera ``i`` (degrees, world units, pixels)."""
        return {"type": "perspective",
                "azimuth": float(self.azimuth[i]), "elevation": float(self.elevation[i]),
                "distance": float(self.distance[i]), "roll": float(self.roll[i]),
                "fov": float(self.fov[i]), "principal": [float(v) for v in self.principal[i]],
                "target": [float(v) for v in self.target[i]],
                "image_size": [int(v) for v in self.image_size]}

    @classmethod
    def from_dict(cls, data: dict, dtype: torch.dtype = torch.float32,
                  device=None) -> PerspectiveCamera:
        """Inverse of :meth:`to_dict`; raises :class:`CameraError` on missing or bad fields."""
        try:
            if data.get("type", "perspective") != "perspective":
                raise CameraError(f"not a perspective camera: type {data.get('type')!r}")
            cam = cls.create(azimuth=data["azimuth"], elevation=data["elevation"],
                             distance=data["distance"], roll=data.get("roll", 0.0),
                             fov=data["fov"], principal=data.get("principal"),
                             target=data.get("target"), image_size=tuple(data["image_size"]),
                             dtype=dtype, device=device)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CameraError):
                raise
            raise CameraError(f"bad perspective camera record: {exc}") from exc
        return cam.validate()


def fov_for_focal(focal_px: float, height: int) -> float:
    """Vertical field of view (degrees) of a focal length in pixels for an image height."""
    return 2.0 * math.degrees(math.atan((height / 2.0) / focal_px))
