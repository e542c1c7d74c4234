"""Soft silhouette (pytorch3d SoftRasterizer on projected vertices): orientation, agreement
with the hard mask, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from core.cameras import PerspectiveCamera
from core.raster.fast_mask import hard_mask, mask_iou
from core.raster.soft_silhouette import sigma_for_pixels, soft_silhouette


def _sphere():
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    return (torch.as_tensor(np.asarray(mesh.vertices), dtype=torch.float32),
            torch.as_tensor(np.asarray(mesh.faces), dtype=torch.int64))


def test_triangle_lands_where_its_pixels_are():
    # A triangle in the top-left quarter of a 24 (h) x 40 (w) image (pixels, y down).
    uv = torch.tensor([[2.0, 2.0], [14.0, 2.0], [2.0, 10.0]])
    faces = torch.tensor([[0, 1, 2]])
    sil = soft_silhouette(uv, torch.ones(3), faces, (24, 40))
    assert sil.shape == (1, 24, 40)
    assert float(sil.min()) >= 0.0 and float(sil.max()) <= 1.0
    inside = sil[0].numpy() > 0.5
    assert inside[3, 3] and inside[2:6, 2:6].all()
    assert not inside[:, 20:].any() and not inside[15:, :].any()
    assert mask_iou(inside, hard_mask(uv, faces, (24, 40))) > 0.9


@pytest.mark.parametrize("size", [(64, 64), (48, 80)])
def test_thresholded_soft_silhouette_matches_the_hard_mask_on_a_sphere(size):
    verts, faces = _sphere()
    cam = PerspectiveCamera.create(azimuth=20, elevation=10, distance=2.4, fov=30,
                                   principal=[size[1] / 2 + 3, size[0] / 2 - 2],
                                   image_size=size)
    uv, depth = cam.project(verts)
    sil = soft_silhouette(uv, depth, faces, size)[0].numpy()
    assert mask_iou(sil > 0.5, hard_mask(uv[0], faces, size)) > 0.97


def test_thresholded_soft_silhouette_matches_the_hard_mask_on_a_demo_mug():
    from core.demo import generate_category

    model = generate_category("mug", n_models=2).models[1]
    verts = torch.as_tensor(model.vertices, dtype=torch.float32)
    faces = torch.as_tensor(model.faces)
    cam = PerspectiveCamera.create(azimuth=30, elevation=20, distance=2.2, fov=30,
                                   image_size=(64, 64))
    uv, depth = cam.project(verts)
    hard = hard_mask(uv[0], faces, (64, 64))
    # Sub-pixel faces: a sharp sigma thresholds to the hard mask; pytorch3d's default 1e-4
    # dilates it where many small faces crowd an edge (module docs).
    sharp = soft_silhouette(uv, depth, faces, (64, 64), sigma=1e-6)[0].numpy()
    assert mask_iou(sharp > 0.5, hard) > 0.97
    blurred = soft_silhouette(uv, depth, faces, (64, 64), sigma=1e-4)[0].numpy()
    assert (blurred > 0.5).sum() > hard.sum() and mask_iou(blurred > 0.5, hard) > 0.85


def test_batch_and_faces_behind_the_camera():
    verts, faces = _sphere()
    cams = PerspectiveCamera.create(azimuth=[0.0, 90.0], distance=2.4, fov=30,
                                    image_size=(32, 32))
    uv, depth = cams.project(verts)
    sil = soft_silhouette(uv, depth, faces, (32, 32))
    assert sil.shape == (2, 32, 32)
    alone = soft_silhouette(uv[1], depth[1], faces, (32, 32))
    assert torch.allclose(sil[1], alone[0])
    behind = depth.clone()
    behind[0] = -1.0  # every vertex of the first mesh behind its camera: nothing drawn
    sil = soft_silhouette(uv, behind, faces, (32, 32))
    assert float(sil[0].max()) == 0.0 and float(sil[1].sum()) > 100


def test_gradient_with_respect_to_uv_matches_a_finite_difference():
    verts, faces = _sphere()
    size = (32, 32)
    cam = PerspectiveCamera.create(azimuth=10, distance=2.4, fov=30, image_size=size,
                                   dtype=torch.float64)
    uv, depth = cam.project(verts.double())
    weight = torch.linspace(-1.0, 1.0, size[1]).expand(size)  # rewards moving right
    sigma = sigma_for_pixels(1.0, size)

    def loss(shift: float, uv_in: torch.Tensor) -> torch.Tensor:
        moved = uv_in + torch.tensor([shift, 0.0], dtype=uv_in.dtype)
        return (soft_silhouette(moved, depth, faces, size, sigma=sigma)[0] * weight).sum()

    leaf = uv.clone().requires_grad_(True)
    loss(0.0, leaf).backward()
    grad = leaf.grad
    assert torch.isfinite(grad).all() and float(grad.abs().sum()) > 0
    analytic = float(grad[..., 0].sum())
    with torch.no_grad():
        numeric = float((loss(0.25, uv) - loss(-0.25, uv)) / 0.5)
    assert analytic > 0 and numeric > 0
    assert analytic == pytest.approx(numeric, rel=0.2)
