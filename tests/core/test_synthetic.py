"""Synthetic renders: mask, keypoints and visibility agree with the camera and pytorch3d;
deterministic per seed; a few renders saved as PNG for people to look at."""

from __future__ import annotations

import functools

import cv2
import numpy as np
import pytest
import torch

from core.demo import generate_category
from core.raster.fast_mask import hard_mask
from core.raster.interface import Pytorch3dRasterizer, project
from core.synthetic import (
    ABSENT,
    OCCLUDED,
    VISIBLE,
    SyntheticView,
    Viewpoint,
    fit_camera,
    render_dataset,
    render_view,
    sample_viewpoints,
)


@pytest.fixture(scope="module")
def views() -> list[SyntheticView]:
    out = []
    for category in ("airplane", "mug", "chair"):
        out += list(render_dataset(category, n_per_model=2, image_size=(96, 112), seed=3,
                                   n_models=2))
    return out


def test_mask_is_the_hard_mask_and_keypoints_are_the_projection(views):
    for v in views:
        assert v.rgb.shape == (96, 112, 3) and v.rgb.dtype == np.uint8
        model = _model(v.model_id)
        uv, depth = project(v.camera, model.vertices)
        assert np.array_equal(v.mask, hard_mask(uv, model.faces, (96, 112), depth))
        kp = v.keypoints
        present = kp.flags != ABSENT
        assert present.sum() >= 3
        for name, point in model.landmarks.items():
            i = kp.names.index(name)
            expected, _ = v.camera.project(torch.tensor([point.xyz], dtype=torch.float64))
            assert np.allclose(kp.uv[i], expected[0, 0].numpy())
            assert kp.faces[i] == point.face
        missing = [kp.names.index(n) for n in kp.names if n not in model.landmarks]
        assert np.isnan(kp.uv[missing]).all() and (kp.flags[missing] == ABSENT).all()
        assert np.array_equal(kp.visible, kp.flags == VISIBLE)


def test_visibility_matches_the_pytorch3d_zbuffer(views):
    p3d = Pytorch3dRasterizer()
    counts = np.zeros(3, dtype=int)
    for v in views:
        model = _model(v.model_id)
        kp = v.keypoints
        present = kp.faces >= 0
        vis = p3d.visibility(v.camera, model.vertices, model.faces, kp.xyz[present],
                             kp.faces[present])
        assert np.array_equal(kp.visible[present], vis & (kp.flags[present] != ABSENT))
        counts += np.bincount(kp.flags, minlength=3)
    assert counts[VISIBLE] > 0 and counts[OCCLUDED] > 0  # both kinds occur


def test_object_stays_inside_the_frame(views):
    for v in views:
        assert v.mask.any()
        border = np.concatenate([v.mask[0], v.mask[-1], v.mask[:, 0], v.mask[:, -1]])
        assert not border.any(), v.model_id
        assert (v.keypoints.flags[v.keypoints.faces >= 0] != ABSENT).all()  # all in the image


def test_deterministic_for_a_seed_and_different_across_seeds():
    a = next(render_dataset("mug", 1, (64, 64), seed=5, n_models=1))
    b = next(render_dataset("mug", 1, (64, 64), seed=5, n_models=1))
    c = next(render_dataset("mug", 1, (64, 64), seed=6, n_models=1))
    assert np.array_equal(a.rgb, b.rgb) and a.camera_dict == b.camera_dict
    assert np.array_equal(a.keypoints.uv, b.keypoints.uv, equal_nan=True)
    assert not np.array_equal(a.rgb, c.rgb)
    assert a.camera_dict != c.camera_dict


def test_backgrounds_shadings_and_pytorch3d_path():
    model = _model("chair_000")
    cam = fit_camera(Viewpoint(30.0, 20.0, 5.0, 1.1, 30.0), model.vertices, (64, 64))
    images = {}
    for bg in ("noise", "gradient", "flat"):
        v = render_view(model, cam, np.random.default_rng(0), background=bg)
        images[bg] = v.rgb
        outside = v.rgb[~v.mask]
        n_colours = len(np.unique(outside.reshape(-1, 3), axis=0))
        assert (n_colours == 1) == (bg == "flat")
    assert not np.array_equal(images["noise"], images["gradient"])
    flat = render_view(model, cam, np.random.default_rng(0), shading="flat", background="flat")
    assert len(np.unique(flat.rgb[flat.mask].reshape(-1, 3), axis=0)) == 1
    lit = render_view(model, cam, np.random.default_rng(0), background="flat")
    assert len(np.unique(lit.rgb[lit.mask].reshape(-1, 3), axis=0)) > 5
    p3d = render_view(model, cam, np.random.default_rng(0), background="flat",
                      rasterizer="pytorch3d")
    assert np.array_equal(p3d.mask, lit.mask) and (p3d.rgb != lit.rgb).any(axis=2).mean() < 1e-3
    assert np.array_equal(p3d.keypoints.flags, lit.keypoints.flags)
    with pytest.raises(ValueError, match="unknown background"):
        render_view(model, cam, np.random.default_rng(0), background="plaid")


def test_bare_arrays_and_viewpoint_ranges():
    model = _model("mug_001")
    rng = np.random.default_rng(1)
    vps = sample_viewpoints(50, rng, elevation_range=(-10, 45), roll_jitter=5)
    assert all(-10 <= vp.elevation <= 45 and abs(vp.roll) <= 5 for vp in vps)
    assert all(-180 <= vp.azimuth <= 180 and vp.distance_scale >= 1 for vp in vps)
    cam = fit_camera(vps[0], model.vertices, (48, 64))
    v = render_view((model.vertices, model.faces, model.landmarks), cam, rng)
    assert v.model_id == "" and v.keypoints.names == tuple(model.landmarks)
    assert v.camera_dict["image_size"] == [48, 64]


def test_save_renders_for_review(views, artifacts_dir):
    tiles = []
    for v in views[::2]:
        img = v.rgb.copy()
        for (x, y), flag in zip(v.keypoints.uv, v.keypoints.flags, strict=True):
            if flag == VISIBLE:
                cv2.circle(img, (int(x), int(y)), 2, (255, 0, 0), -1)
            elif flag == OCCLUDED:
                cv2.circle(img, (int(x), int(y)), 2, (0, 0, 255), 1)
        tiles.append(np.concatenate([v.rgb, img], axis=0))
    sheet = np.concatenate(tiles, axis=1)
    path = artifacts_dir / "synthetic_renders.png"
    assert cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    assert path.stat().st_size > 0


@functools.cache
def _category(category: str):
    return {m.model_id: m for m in generate_category(category, seed=3, n_models=2).models}


def _model(model_id: str):
    """A model of the views above (``render_dataset`` seed 3, two models per category)."""
    return _category(model_id.rsplit("_", 1)[0])[model_id]
