"""Keypoint projection: positions equal the camera's projection; visibility = in front, in the
image and not occluded, the same through both rasterizers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from core.cameras import PerspectiveCamera, perspective_to_weak
from core.pose.projection import ProjectedKeypoints, in_image, project_keypoints
from core.raster.interface import FastRasterizer, Pytorch3dRasterizer

D = torch.float64


def _cube():
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    return np.asarray(box.vertices), np.asarray(box.faces, dtype=np.int64)


def _camera(**kw) -> PerspectiveCamera:
    args = dict(azimuth=0, elevation=0, distance=4, fov=40, image_size=(64, 80), dtype=D)
    args.update(kw)
    return PerspectiveCamera.create(**args)


def test_positions_and_flags_on_a_cube():
    verts, faces = _cube()
    cam = _camera()
    points = np.array([[0.1, 0.2, 0.5],    # front face: visible
                       [0.1, 0.2, -0.5],   # back face: occluded
                       [0.1, 0.2, 6.0],    # behind the camera (camera at z = 4)
                       [30.0, 0.0, 0.0],   # in front, far outside the image
                       [1.2, -0.3, 0.0]])  # beside the cube, in the image
    out = project_keypoints(cam, verts, faces, points)
    assert isinstance(out, ProjectedKeypoints)
    uv, depth = cam.project(torch.as_tensor(points))
    assert np.allclose(out.uv, uv[0].numpy()) and np.allclose(out.depth, depth[0].numpy())
    assert out.in_front.tolist() == [True, True, False, True, True]
    assert out.in_image.tolist() == [True, True, False, False, True]
    assert out.visible.tolist() == [True, False, False, False, True]
    assert out.occluded.tolist() == [False, True, False, False, False]
    p3d = project_keypoints(cam, verts, faces, points, rasterizer=Pytorch3dRasterizer())
    assert np.array_equal(p3d.visible, out.visible)


def test_own_face_never_hides_its_point_and_eps():
    verts, faces = _cube()
    cam = _camera(azimuth=20, elevation=15)
    # A point slightly under the front face: hidden by that face unless the face is its own
    # or the tolerance covers the gap.
    tri = verts[faces]
    front = int(np.argmax(tri[:, :, 2].min(axis=1)))  # a face of the z = +0.5 side
    centre = tri[front].mean(axis=0) - np.array([0.0, 0.0, 0.01])
    for r in (FastRasterizer(), Pytorch3dRasterizer()):
        kw = dict(rasterizer=r)
        assert not project_keypoints(cam, verts, faces, centre[None], eps=1e-3, **kw).visible[0]
        assert project_keypoints(cam, verts, faces, centre[None], point_faces=[front],
                                 eps=1e-3, **kw).visible[0]
        assert project_keypoints(cam, verts, faces, centre[None], eps=0.05, **kw).visible[0]


def test_weak_perspective_and_torch_inputs():
    verts, faces = _cube()
    weak = perspective_to_weak(_camera(azimuth=35, elevation=25))
    points = torch.tensor([[0.1, 0.2, 0.5], [-0.1, -0.2, -0.5], [0.0, 0.0, 100.0]], dtype=D)
    out = project_keypoints(weak, torch.as_tensor(verts), torch.as_tensor(faces), points)
    assert out.in_front.all()  # no "behind" for weak perspective
    assert out.visible[:2].tolist() == [True, False]
    uv, _ = weak.project(points)
    assert np.allclose(out.uv, uv[0].numpy())


def test_in_image_bounds_are_half_open():
    uv = np.array([[0.0, 0.0], [79.99, 63.99], [80.0, 10.0], [10.0, 64.0], [-0.01, 5.0]])
    assert in_image(uv, (64, 80)).tolist() == [True, True, False, False, False]


def test_demo_landmarks_match_between_rasterizers():
    from core.demo import generate_category

    model = generate_category("chair", n_models=1).models[0]
    xyz = np.array([p.xyz for p in model.landmarks.values()])
    faces = np.array([p.face for p in model.landmarks.values()])
    rng = np.random.default_rng(0)
    n_visible = 0
    for _ in range(4):
        cam = _camera(azimuth=rng.uniform(-180, 180), elevation=rng.uniform(-10, 45),
                      distance=2.5, fov=30, image_size=(96, 96))
        a = project_keypoints(cam, model.vertices, model.faces, xyz, faces)
        b = project_keypoints(cam, model.vertices, model.faces, xyz, faces,
                              rasterizer=Pytorch3dRasterizer())
        assert np.array_equal(a.visible, b.visible)
        assert a.in_image.all()
        n_visible += int(a.visible.sum())
    assert 0 < n_visible < 4 * len(xyz)


@pytest.mark.parametrize("bad", [np.zeros((0, 3))])
def test_no_points(bad):
    verts, faces = _cube()
    out = project_keypoints(_camera(), verts, faces, bad)
    assert out.uv.shape == (0, 2) and out.visible.shape == (0,)
