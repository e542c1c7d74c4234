"""Weak-perspective ("scaled orthographic") camera: ``u = s * (R @ X)[:2] + t``.

As in To The Point (Eq. 1-2): ``s`` is pixels per world unit, ``R`` the world-to-camera
rotation (OpenCV frame), ``t`` the 2D translation already in pixels. Depth for occlusion is the
camera-frame ``z = (R @ X)[2]`` (larger is farther); there is no "behind" for this model.
Batched over ``B``; differentiable. Conventions in :mod:`core.cameras`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.cameras.batched import TensorFields
from core.cameras.errors import CameraError
from core.cameras.rotations import axis_angle_to_matrix


@dataclass(frozen=True)
class WeakPerspectiveCamera(TensorFields):
    """A batch of ``B`` weak-perspective cameras sharing one image size.

    Attributes:
        scale: (B,) pixels per world unit.
        rotation: (B, 3, 3) world-to-camera rotation.
        translation: (B, 2) pixels.
        image_size: ``(height, width)`` in pixels.
    """

    scale: torch.Tensor
    rotation: torch.Tensor
    translation: torch.Tensor
    image_size: tuple[int, int]

    @classmethod
    def from_axis_angle(cls, scale: torch.Tensor, axis_angle: torch.Tensor,
                        translation: torch.Tensor,
                        image_size: tuple[int, int]) -> WeakPerspectiveCamera:
        """From ``scale`` (B,), axis-angle (B, 3) radians and ``translation`` (B, 2) pixels."""
        return cls(scale.reshape(-1), axis_angle_to_matrix(axis_angle.reshape(-1, 3)),
                   translation.reshape(-1, 2), (int(image_size[0]), int(image_size[1])))

    @property
    def batch_size(self) -> int:
        return int(self.scale.shape[0])

    def to_camera(self, points: torch.Tensor) -> torch.Tensor:
        """World points (N, 3) or (B, N, 3) -> rotated points ``R @ X`` (B, N, 3)."""
        pts = points if points.dim() == 3 else points.unsqueeze(0)
        return pts @ self.rotation.transpose(-1, -2)

    def project(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World points (N, 3) or (B, N, 3) -> pixels (B, N, 2) and relative depth (B, N)."""
        cam = self.to_camera(points)
        uv = self.scale[:, None, None] * cam[..., :2] + self.translation.unsqueeze(1)
        return uv, cam[..., 2]

    def validate(self) -> WeakPerspectiveCamera:
        """Raise :class:`CameraError` on non-finite values, a non-positive scale or a
        rotation that is not orthonormal; return self."""
        bad = self.non_finite_field()
        if bad is not None:
            raise CameraError(f"camera parameter {bad} is not finite")
        if bool((self.scale <= 0).any()):
            raise CameraError(f"weak-perspective scale must be positive, got "
                              f"{self.scale.tolist()}")
        eye = torch.eye(3, dtype=self.rotation.dtype, device=self.rotation.device)
        err = (self.rotation @ self.rotation.transpose(-1, -2) - eye).abs().amax()
        if float(err) > 1e-3 or bool((torch.linalg.det(self.rotation) <= 0).any()):
            raise CameraError("weak-perspective rotation is not a proper rotation matrix")
        return self

    def to_dict(self, i: int = 0) -> dict:
        """Plain JSON-able dict of camera ``i``."""
        return {"type": "weak_perspective", "scale": float(self.scale[i]),
                "rotation": [[float(v) for v in row] for row in self.rotation[i]],
                "translation": [float(v) for v in self.translation[i]],
                "image_size": [int(v) for v in self.image_size]}

    @classmethod
    def from_dict(cls, data: dict, dtype: torch.dtype = torch.float32,
                  device=None) -> WeakPerspectiveCamera:
        """Inverse of :meth:`to_dict`; raises :class:`CameraError` on missing or bad fields."""
        try:
            if data.get("type") != "weak_perspective":
                raise CameraError(f"not a weak-perspective camera: type {data.get('type')!r}")
            cam = cls(torch.tensor([data["scale"]], dtype=dtype, device=device),
                      torch.tensor([data["rotation"]], dtype=dtype, device=device),
                      torch.tensor([data["translation"]], dtype=dtype, device=device),
                      (int(data["image_size"][0]), int(data["image_size"][1])))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            if isinstance(exc, CameraError):
                raise
            raise CameraError(f"bad weak-perspective camera record: {exc}") from exc
        if cam.rotation.shape != (1, 3, 3) or cam.translation.shape != (1, 2):
            raise CameraError("bad weak-perspective camera record: rotation must be 3x3 and "
                              "translation 2 numbers")
        return cam.validate()
