"""Rotations used by the cameras: look-at, roll, axis-angle, and the angle between two.

All functions are batched over a leading dimension ``B`` and differentiable. Angles are in
degrees at the API; matrices are world-to-camera rotations in the OpenCV camera frame (x right,
y down, z forward), world +Y up (see :mod:`core.cameras`).
"""

from __future__ import annotations

import math

import torch
from pytorch3d.transforms import axis_angle_to_matrix as _p3d_axis_angle_to_matrix
from pytorch3d.transforms import matrix_to_axis_angle as _p3d_matrix_to_axis_angle

DEG = math.pi / 180.0


def viewing_direction(azimuth: torch.Tensor, elevation: torch.Tensor) -> torch.Tensor:
    """Unit vector from the look-at target towards the camera, (B, 3).

    Azimuth 0, elevation 0 puts the camera on +Z looking down -Z (pytorch3d's
    ``look_at_view_transform`` convention); azimuth turns about +Y towards +X; elevation
    raises the camera towards +Y. Inputs: (B,) degrees.
    """
    az, el = azimuth * DEG, elevation * DEG
    return torch.stack([torch.cos(el) * torch.sin(az), torch.sin(el),
                        torch.cos(el) * torch.cos(az)], dim=-1)


def roll_matrix(roll: torch.Tensor) -> torch.Tensor:
    """Rotation about the optical axis by ``roll`` degrees (B,) -> (B, 3, 3)."""
    r = roll * DEG
    c, s = torch.cos(r), torch.sin(r)
    zero, one = torch.zeros_like(r), torch.ones_like(r)
    return torch.stack([torch.stack([c, -s, zero], -1), torch.stack([s, c, zero], -1),
                        torch.stack([zero, zero, one], -1)], dim=-2)


def look_at_rotation(azimuth: torch.Tensor, elevation: torch.Tensor,
                     roll: torch.Tensor | None = None) -> torch.Tensor:
    """World-to-camera rotation of a camera looking at its target, (B, 3, 3).

    Rows are the camera's x (right), y (down) and z (forward) axes in world coordinates.
    The right axis is ``(cos az, 0, -sin az)``: it never degenerates, so elevations of
    +-90 degrees (looking straight down or up) are well defined, the image's up then being
    the azimuth's forward direction.
    """
    d = viewing_direction(azimuth, elevation)
    z = -d
    az = azimuth * DEG
    x = torch.stack([torch.cos(az), torch.zeros_like(az), -torch.sin(az)], dim=-1)
    y = torch.linalg.cross(z, x, dim=-1)
    rot = torch.stack([x, y, z], dim=-2)
    if roll is not None:
        rot = roll_matrix(roll) @ rot
    return rot


def look_at_angles(rotation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inverse of :func:`look_at_rotation`: (B, 3, 3) -> azimuth, elevation, roll (B,) degrees.

    At elevations of exactly +-90 degrees azimuth and roll are not separable; the azimuth is
    then read from the camera's right axis and the roll is 0.
    """
    d = -rotation[..., 2, :]
    elevation = torch.asin(d[..., 1].clamp(-1.0, 1.0)) / DEG
    horiz = torch.sqrt(d[..., 0] ** 2 + d[..., 2] ** 2)
    az_from_d = torch.atan2(d[..., 0], d[..., 2])
    # Right axis of the un-rolled camera is (cos az, 0, -sin az); at the poles use the
    # camera's own right axis (roll is then absorbed into azimuth).
    x = rotation[..., 0, :]
    az_from_x = torch.atan2(-x[..., 2], x[..., 0])
    azimuth = torch.where(horiz > 1e-9, az_from_d, az_from_x) / DEG
    base = look_at_rotation(azimuth, elevation)
    rz = rotation @ base.transpose(-1, -2)
    roll = torch.atan2(rz[..., 1, 0], rz[..., 0, 0]) / DEG
    return azimuth, elevation, roll


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Axis-angle (B, 3), radians as the vector's norm -> rotation (B, 3, 3)."""
    return _p3d_axis_angle_to_matrix(axis_angle)


def matrix_to_axis_angle(rotation: torch.Tensor) -> torch.Tensor:
    """Rotation (B, 3, 3) -> axis-angle (B, 3), radians as the vector's norm."""
    return _p3d_matrix_to_axis_angle(rotation)


def rotation_angle_deg(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Geodesic angle between rotations (B, 3, 3) and (B, 3, 3), degrees (B,)."""
    rel = r1.transpose(-1, -2) @ r2
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0).clamp(-1.0, 1.0)
    return torch.arccos(cos) / DEG
