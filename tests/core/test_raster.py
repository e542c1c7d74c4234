"""Rasterization: NDC conversion, hand-made cases, and agreement of the fast CPU path with
pytorch3d (masks and point visibility) on demo models from random viewpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from core.cameras import PerspectiveCamera, WeakPerspectiveCamera, perspective_to_weak
from core.geometry.sampling import sample_surface
from core.raster.fast_mask import face_buffer, hard_mask, mask_iou
from core.raster.interface import (
    FastRasterizer,
    Pytorch3dRasterizer,
    Rasterizer,
    default_rasterizer,
    project,
    rasterizer_by_name,
)
from core.raster.ndc import ndc_to_pixels, pixels_to_ndc
from core.raster.pytorch3d_hard import rasterize_hard
from core.raster.visibility import _moller_trumbore, ray_visibility

D = torch.float64
FAST, P3D = FastRasterizer(), Pytorch3dRasterizer()


@pytest.fixture(scope="module")
def models():
    from core.demo import generate_category

    return {c: generate_category(c, n_models=2).models for c in ("airplane", "mug", "chair")}


def _cameras(n: int, size: int, seed: int) -> list[PerspectiveCamera]:
    rng = np.random.default_rng(seed)
    return [PerspectiveCamera.create(azimuth=rng.uniform(-180, 180),
                                     elevation=rng.uniform(-30, 60), distance=rng.uniform(1.8, 3),
                                     roll=rng.uniform(-20, 20), fov=rng.uniform(25, 40),
                                     target=rng.uniform(-0.05, 0.05, 3), image_size=(size, size),
                                     dtype=D) for _ in range(n)]


def _cube(center=(0.0, 0.0, 0.0), size=1.0):
    box = trimesh.creation.box(extents=(size, size, size))
    return np.asarray(box.vertices) + np.asarray(center), np.asarray(box.faces, dtype=np.int64)


def _points(model, n: int, seed: int):
    """Landmarks then ``n`` random surface points: xyz (N, 3), faces (N,)."""
    lm = list(model.landmarks.values())
    s = sample_surface(model.vertices, model.faces, n=n, seed=seed)
    xyz = np.concatenate([np.array([p.xyz for p in lm]).reshape(-1, 3), s.points])
    return xyz, np.concatenate([np.array([p.face for p in lm], dtype=np.int64), s.faces])


# -- NDC -----------------------------------------------------------------------------------
def test_ndc_hand_case_and_round_trip():
    # 4 x 6 image: s = 4; the top-left pixel centre (0.5, 0.5) is NDC (+1.25, +0.75)
    # (+x left, +y up), the bottom-right centre (5.5, 3.5) is (-1.25, -0.75).
    uv = torch.tensor([[0.5, 0.5], [5.5, 3.5], [3.0, 2.0], [0.0, 0.0]], dtype=D)
    ndc = pixels_to_ndc(uv, (4, 6))
    expected = torch.tensor([[1.25, 0.75], [-1.25, -0.75], [0.0, 0.0], [1.5, 1.0]], dtype=D)
    assert torch.allclose(ndc, expected)
    assert torch.allclose(ndc_to_pixels(ndc, (4, 6)), uv)
    square = pixels_to_ndc(torch.tensor([[0.0, 0.0], [8.0, 8.0]]), 8)
    assert torch.allclose(square, torch.tensor([[1.0, 1.0], [-1.0, -1.0]]))


# -- hand-made cases -----------------------------------------------------------------------
@pytest.mark.parametrize("winding", [(0, 1, 2), (0, 2, 1)])
def test_single_triangle_covers_known_pixel_centres(winding):
    uv = np.array([[0.2, 0.2], [5.9, 0.2], [0.2, 3.9]])
    faces = np.array([winding])
    # Hypotenuse x = 5.9 - (y - 0.2) * 5.7 / 3.7 at row centres 0.5..3.5: 5.44, 3.90, 2.36,
    # 0.82 -> 5, 4, 2 and 1 covered centres from the left.
    expected = np.zeros((4, 6), dtype=bool)
    for row, n in enumerate((5, 4, 2, 1)):
        expected[row, :n] = True
    depth = np.ones(3)
    assert np.array_equal(hard_mask(uv, faces, (4, 6)), expected)
    assert np.array_equal(FAST.mask(uv, depth, faces, (4, 6)), expected)
    assert np.array_equal(P3D.mask(uv, depth, faces, (4, 6)), expected)
    face, zbuf = face_buffer(uv, depth, faces, (4, 6))
    assert np.array_equal(face >= 0, expected) and np.allclose(zbuf[expected], 1.0)


def test_subpixel_triangle_between_centres_and_image_bounds():
    uv = np.array([[0.6, 0.6], [1.4, 0.6], [0.6, 1.4]])  # covers no centre
    faces = np.array([[0, 1, 2]])
    assert not hard_mask(uv, faces, (3, 3)).any()
    assert not P3D.mask(uv, np.ones(3), faces, (3, 3)).any()
    big = np.array([[-50.0, -50.0], [200.0, -50.0], [-50.0, 200.0]])  # covers all, clipped
    assert hard_mask(big, faces, (5, 7)).all()
    assert P3D.mask(big, np.ones(3), faces, (5, 7)).all()


def test_cube_occludes_point_behind_it():
    verts, faces = _cube()
    cam = PerspectiveCamera.create(azimuth=0, elevation=0, distance=4, fov=40,
                                   image_size=(64, 64), dtype=D)
    # Off the faces' diagonals (a ray exactly along an edge is a tie for pytorch3d).
    points = np.array([[0.1, 0.2, -1.5],   # behind the cube -> hidden
                       [0.1, 0.2, 1.5],    # in front of it
                       [1.5, 0.2, -1.5],   # beside, not behind
                       [0.1, 0.2, 0.5],    # on the front face (its own face unknown)
                       [0.1, 0.2, -0.5]])  # on the back face -> hidden
    expected = np.array([False, True, True, True, False])
    for r in (FAST, P3D):
        assert np.array_equal(r.visibility(cam, verts, faces, points), expected), r.name
    weak = perspective_to_weak(cam)
    for r in (FAST, P3D):
        assert np.array_equal(r.visibility(weak, verts, faces, points), expected), r.name


def test_points_behind_the_camera_are_not_visible():
    verts, faces = _cube()
    cam = PerspectiveCamera.create(azimuth=0, elevation=0, distance=4, fov=40,
                                   image_size=(64, 64), dtype=D)
    points = np.array([[0.0, 0.0, 5.0], [0.3, 0.2, 4.5], [0.0, 0.0, 1.0]])  # camera at z=4
    for r in (FAST, P3D):
        assert r.visibility(cam, verts, faces, points).tolist() == [False, False, True]


def test_faces_behind_the_camera_are_not_drawn():
    verts, faces = _cube(center=(0.0, 0.0, 5.0))  # camera at z = 4 is inside the far side
    cam = PerspectiveCamera.create(distance=4, image_size=(32, 32), dtype=D)
    uv, depth = project(cam, verts)
    assert not FAST.mask(uv, depth, faces, (32, 32)).any()
    assert not P3D.mask(uv, depth, faces, (32, 32)).any()


# -- agreement on demo models --------------------------------------------------------------
@pytest.mark.parametrize(("size", "n_views"), [(64, 3), (128, 2)])
def test_masks_agree_on_demo_models(models, size, n_views):
    ious = []
    for k, (category, ms) in enumerate(models.items()):
        model = ms[1]  # the smaller meshes: pytorch3d's CPU kernel tests every face per pixel
        for cam in _cameras(n_views, size, seed=10 * k + size):
            uv, depth = project(cam, model.vertices)
            fast = FAST.mask(uv, depth, model.faces, (size, size))
            p3d = P3D.mask(uv, depth, model.faces, (size, size))
            assert fast.any(), category
            ious.append(mask_iou(fast, p3d))
    # Measured: 1.0 on every view (both sample pixel centres strictly inside a triangle).
    assert min(ious) > 0.98, ious


def test_visibility_agrees_on_demo_models(models):
    agree = total = 0
    for k, (category, ms) in enumerate(models.items()):
        for j, model in enumerate(ms):
            xyz, pf = _points(model, 80, seed=k)
            for cam in _cameras(2, 96, seed=100 + 10 * k + j):
                fast = FAST.visibility(cam, model.vertices, model.faces, xyz, pf)
                p3d = P3D.visibility(cam, model.vertices, model.faces, xyz, pf)
                assert 0.1 < fast.mean() < 0.9, category  # both outcomes are exercised
                agree += int((fast == p3d).sum())
                total += len(fast)
    assert agree / total > 0.99, agree / total  # measured: 1.0


def test_ray_casting_pruning_matches_brute_force(models):
    model = models["chair"][0]
    xyz, pf = _points(model, 60, seed=3)
    cam = _cameras(1, 128, seed=7)[0]
    vc = cam.to_camera(torch.as_tensor(model.vertices))[0].numpy()
    pc = cam.to_camera(torch.as_tensor(xyz))[0].numpy()
    eps = 1e-3
    fast = ray_visibility(vc, model.faces, pc, pf, eps=eps)
    tri = vc[model.faces]
    brute = np.ones(len(pc), dtype=bool)
    for i, p in enumerate(pc):
        hit, t = _moller_trumbore(np.zeros((len(tri), 3)), np.repeat(p[None], len(tri), 0), tri)
        others = np.arange(len(tri)) != pf[i]
        brute[i] = not (hit & others & (t > 0) & ((1 - t) * p[2] > eps)).any()
    assert np.array_equal(fast, brute)


def test_weak_perspective_paths_agree(models):
    model = models["mug"][0]
    xyz, pf = _points(model, 80, seed=5)
    for cam in _cameras(2, 64, seed=21):
        weak = perspective_to_weak(cam)
        assert isinstance(weak, WeakPerspectiveCamera)
        fast = FAST.visibility(weak, model.vertices, model.faces, xyz, pf)
        p3d = P3D.visibility(weak, model.vertices, model.faces, xyz, pf)
        assert (fast == p3d).mean() > 0.99
        assert mask_iou(FAST.silhouette(weak, model.vertices, model.faces),
                        P3D.silhouette(weak, model.vertices, model.faces)) > 0.98


def test_backface_culling_keeps_the_mask_of_a_closed_mesh(models):
    for ms in models.values():
        model = ms[0]
        for cam in _cameras(2, 128, seed=31):
            uv, depth = project(cam, model.vertices)
            full = hard_mask(uv, model.faces, (128, 128), depth)
            culled = hard_mask(uv, model.faces, (128, 128), depth, cull_backfaces=True)
            assert mask_iou(full, culled) > 0.99
    # pytorch3d culls with the same orientation convention.
    cam = _cameras(1, 64, seed=32)[0]
    model = models["airplane"][0]
    uv, depth = project(cam, model.vertices)
    p3d = P3D.mask(uv, depth, model.faces, (64, 64), cull_backfaces=True)
    assert mask_iou(p3d, hard_mask(uv, model.faces, (64, 64), depth)) > 0.99


def test_face_buffer_matches_pytorch3d_zbuffer(models):
    model = models["chair"][0]
    cam = _cameras(1, 96, seed=41)[0]
    uv, depth = project(cam, model.vertices)
    face, zbuf = face_buffer(uv, depth, model.faces, (96, 96))
    raster = rasterize_hard(uv, depth, model.faces, (96, 96), perspective_correct=True)
    same = face == raster.pix_to_face.numpy()
    assert same.mean() > 0.999
    hit = same & (face >= 0)
    assert np.abs(zbuf[hit] - raster.zbuf.numpy()[hit]).max() < 1e-4
    # Weak perspective: depth interpolates linearly (pytorch3d without perspective
    # correction, depth shifted in front of its image plane).
    weak = perspective_to_weak(cam)
    uv, depth = project(weak, model.vertices)
    depth = depth - depth.min() + 1.0
    face, zbuf = face_buffer(uv, depth, model.faces, (96, 96), perspective=False)
    raster = rasterize_hard(uv, depth, model.faces, (96, 96))
    same = face == raster.pix_to_face.numpy()
    assert same.mean() > 0.999
    hit = same & (face >= 0)
    # pytorch3d's float32 barycentrics are off by up to ~3e-3 on sliver triangles (measured
    # 2.6e-3 on one of area 0.006 px^2; float64 here gives the exact plane).
    assert np.abs(zbuf[hit] - raster.zbuf.numpy()[hit]).max() < 1e-2
    assert np.median(np.abs(zbuf[hit] - raster.zbuf.numpy()[hit])) < 1e-5


# -- selection -----------------------------------------------------------------------------
def test_rasterizer_selection():
    assert isinstance(rasterizer_by_name("fast"), FastRasterizer)
    assert isinstance(rasterizer_by_name("pytorch3d"), Pytorch3dRasterizer)
    assert isinstance(default_rasterizer("cpu"), FastRasterizer)
    assert isinstance(default_rasterizer(None), FastRasterizer)
    assert isinstance(default_rasterizer("cuda"), Pytorch3dRasterizer)
    auto = rasterizer_by_name("auto")
    expected = Pytorch3dRasterizer if torch.cuda.is_available() else FastRasterizer
    assert isinstance(auto, expected)
    assert isinstance(FAST, Rasterizer) and isinstance(P3D, Rasterizer)
    with pytest.raises(ValueError, match="unknown rasterizer"):
        rasterizer_by_name("opengl")
