"""Cameras for reconstruction: TTP's weak perspective as an orbit camera about the object,
and cameras for viewpoint bins fitted to the mask's box.

An *orbit camera* is a :class:`~core.cameras.PerspectiveCamera` whose look-at target is the
object's centre and whose principal point is where that centre lands in the image, so the
refinement's azimuth, elevation and roll turn the view about the object (the convention of
:func:`core.pose.viewpoint.fit_cameras_to_box`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from core.cameras import PerspectiveCamera, WeakPerspectiveCamera
from core.cameras.rotations import look_at_angles

DEFAULT_FOV = 30.0  # degrees, vertical: the field of view assumed for an unknown camera


def orbit_camera_from_weak(weak: WeakPerspectiveCamera, reference,
                           fov: float = DEFAULT_FOV,
                           min_distance: float = 0.0) -> PerspectiveCamera:
    """The perspective orbit camera (float64, batch of one) that agrees with ``weak`` to
    first order about ``reference`` (3,) world units: same rotation, the reference on the
    optical axis at depth ``f / s`` (at least ``min_distance``) and projected to the same
    pixel.

    ``f = (H / 2) / tan(fov / 2)`` pixels; ``weak`` is a batch of one.
    """
    ref = torch.as_tensor(np.asarray(reference, dtype=np.float64)).reshape(1, 3)
    rot = weak.rotation.detach().to(torch.float64).reshape(1, 3, 3)
    scale = float(weak.scale.reshape(-1)[0])
    h, w = weak.image_size
    focal = (h / 2.0) / math.tan(math.radians(fov) / 2.0)
    u0 = scale * (rot[0] @ ref[0])[:2] + weak.translation.detach().to(torch.float64).reshape(2)
    az, el, roll = look_at_angles(rot)
    distance = max(focal / scale, float(min_distance))
    return PerspectiveCamera.create(az, el, distance, roll, fov, u0, ref, (h, w),
                                    dtype=torch.float64)


def box_centre(vertices: np.ndarray) -> np.ndarray:
    """Centre (3,) of the axis-aligned bounding box of ``vertices`` (V, 3)."""
    v = np.asarray(vertices, dtype=np.float64)
    return (v.min(axis=0) + v.max(axis=0)) / 2.0


def bin_cameras(vertices: np.ndarray, bins, mask: np.ndarray, fov: float = DEFAULT_FOV,
                n_azimuth: int = 24, n_elevation: int = 12) -> PerspectiveCamera:
    """Cameras (float64, batch ``len(bins)``) at the centres of viewpoint bins
    ``[(azimuth_bin, elevation_bin), ...]`` (the bins of :mod:`core.pose.viewpoint`),
    fitted so the mesh ``vertices`` (V, 3) fills the box of ``mask`` (H, W)."""
    from core.pose.viewpoint import (
        azimuth_bin_centres,
        elevation_bin_centres,
        fit_cameras_to_box,
        mask_box,
    )

    az_c, el_c = azimuth_bin_centres(n_azimuth), elevation_bin_centres(n_elevation)
    az = np.array([az_c[i] for i, _ in bins], dtype=np.float64)
    el = np.array([el_c[j] for _, j in bins], dtype=np.float64)
    return fit_cameras_to_box(vertices, az, el, mask_box(mask), mask.shape, fov)
