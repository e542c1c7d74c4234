"""Target masks for the pose tests: a demo model seen from a known camera."""

from __future__ import annotations

import torch

from core.cameras import PerspectiveCamera
from core.raster.fast_mask import hard_mask

SIZE = (64, 64)


def demo_models():
    """Four generated models of each demo category."""
    from core.demo import generate_category

    return [m for c in ("airplane", "mug", "chair")
            for m in generate_category(c, n_models=4).models]


def render(vertices, faces, azimuth, elevation, size=SIZE, fill=0.6):
    """Mask and true camera (roll 0, fov 30) with the object's longer projected side about
    ``fill`` of the image."""
    verts = torch.as_tensor(vertices, dtype=torch.float64)
    cam = PerspectiveCamera.create(azimuth, elevation, 2.5, 0.0, 30.0, image_size=size,
                                   dtype=torch.float64)
    for _ in range(2):
        uv, _ = cam.project(verts)
        extent = float((uv[0].max(0).values - uv[0].min(0).values).max())
        cam = PerspectiveCamera.create(azimuth, elevation,
                                       float(cam.distance[0]) * extent / (fill * max(size)),
                                       0.0, 30.0, image_size=size, dtype=torch.float64)
    uv, depth = cam.project(verts)
    return hard_mask(uv[0], faces, size, depth=depth[0]), cam
