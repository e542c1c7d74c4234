"""Cameras: perspective look-at and weak perspective, batched and differentiable in torch.

Conventions shared by every module that projects points (pose engine, rasterizers, views):

- **World**: the model's frame, +Y up (demo and imported meshes are normalised that way).
- **Camera frame** (OpenCV): x right, y down, z forward; a point is in front when z > 0.
- **Pixels**: x right, y down, origin at the top-left corner of the image; pixel ``(col i,
  row j)`` covers ``[i, i+1) x [j, j+1)`` and its centre is ``(i + 0.5, j + 0.5)``. Image sizes
  are ``(height, width)``; points are ``[..., 2]`` as ``[x, y]``.
- **Angles** in degrees at the API (azimuth, elevation, roll, field of view); rotations are
  world-to-camera matrices ``R`` with ``X_cam = R @ X + T``.

Modules:

- :mod:`core.cameras.rotations`: look-at rotations, axis-angle, rotation angle between two.
- :mod:`core.cameras.perspective`: :class:`PerspectiveCamera` (azimuth, elevation, distance,
  roll, field of view, principal point, look-at target).
- :mod:`core.cameras.weak_perspective`: :class:`WeakPerspectiveCamera` (scale, rotation,
  2D translation).
- :mod:`core.cameras.conversions`: perspective <-> weak perspective, and to pytorch3d cameras.
"""

from core.cameras.conversions import (
    camera_from_dict,
    perspective_to_weak,
    to_pytorch3d,
    weak_to_perspective,
)
from core.cameras.errors import CameraError
from core.cameras.perspective import PerspectiveCamera
from core.cameras.rotations import (
    axis_angle_to_matrix,
    look_at_rotation,
    matrix_to_axis_angle,
    rotation_angle_deg,
)
from core.cameras.weak_perspective import WeakPerspectiveCamera

__all__ = [
    "CameraError",
    "PerspectiveCamera",
    "WeakPerspectiveCamera",
    "axis_angle_to_matrix",
    "camera_from_dict",
    "look_at_rotation",
    "matrix_to_axis_angle",
    "perspective_to_weak",
    "rotation_angle_deg",
    "to_pytorch3d",
    "weak_to_perspective",
]
